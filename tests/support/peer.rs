//! The raw peer: a hand-written producer and consumer over a
//! [`RawRegion`], playing the other end of a ring slot by slot and counter
//! by counter as docs/SPEC.md says, independently of the library's core.

use l3l2q::abi::*;

use super::region::RawRegion;

/// A hand-written producer for one direction: the test chooses every
/// offset; this only does the bookkeeping of message numbers.
pub struct RawProducer<'a> {
    /// The region.
    pub region: &'a RawRegion,
    /// Ring offset of the direction.
    pub ring_offset: u64,
    /// Arena offset of the direction.
    pub arena_offset: u64,
    /// Tail counter offset.
    pub tail_counter: u64,
    /// Messages written so far (the next message number).
    pub next: u64,
}

impl<'a> RawProducer<'a> {
    /// The L3 -> L2 direction, starting at message `start`.
    pub fn input(region: &'a RawRegion, start: u64) -> Self {
        RawProducer {
            region,
            ring_offset: region.layout.input_desc_offset,
            arena_offset: region.layout.input_arena_offset,
            tail_counter: L3L2Q_INPUT_DESC_TAIL_OFFSET,
            next: start,
        }
    }

    /// The L2 -> L3 direction, starting at message `start`.
    pub fn output(region: &'a RawRegion, start: u64) -> Self {
        RawProducer {
            region,
            ring_offset: region.layout.output_desc_offset,
            arena_offset: region.layout.output_arena_offset,
            tail_counter: L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
            next: start,
        }
    }

    /// Writes `payload` at arena offset `arena_pos` and a slot for it with
    /// the correct seq, without publishing. Zero-byte payloads use offset 0.
    pub fn write(&mut self, opcode: impl Into<u64>, arena_pos: u64, payload: &[u8]) {
        let opcode = opcode.into();
        let payload_offset = if payload.is_empty() {
            0
        } else {
            self.arena_offset + arena_pos
        };
        if !payload.is_empty() {
            self.region.write(payload_offset, payload);
        }
        self.write_slot(DescriptorSlot {
            seq: self.next + 1,
            opcode,
            payload_offset,
            payload_nbytes: payload.len() as u64,
        });
    }

    /// Writes an arbitrary slot (possibly invalid) for the next message.
    pub fn write_slot(&mut self, slot: DescriptorSlot) {
        self.region.write_slot(self.ring_offset, self.next, slot);
        self.next += 1;
    }

    /// Publishes everything written (release store of the tail).
    pub fn publish(&self) {
        self.region.set_counter(self.tail_counter, self.next as u32);
    }

    /// Writes and publishes one message.
    pub fn send(&mut self, opcode: impl Into<u64>, arena_pos: u64, payload: &[u8]) {
        self.write(opcode, arena_pos, payload);
        self.publish();
    }
}

/// Extra [`RawConsumer`] helpers for tests that play L2 on the input ring
/// or release selectively.
impl<'a> RawConsumer<'a> {
    /// The L3 -> L2 direction (playing L2), starting at message `start`.
    pub fn input(region: &'a RawRegion, start: u64) -> Self {
        RawConsumer {
            region,
            ring_offset: region.layout.input_desc_offset,
            tail_counter: L3L2Q_INPUT_DESC_TAIL_OFFSET,
            head_counter: L3L2Q_INPUT_DESC_HEAD_OFFSET,
            next: start,
            released: start,
        }
    }

    /// Reads the next published message, panicking when there is none.
    pub fn expect(&mut self) -> (DescriptorSlot, Vec<u8>) {
        self.take().expect("a published message")
    }

    /// Stores the head as `count` messages released (release store).
    pub fn release_to(&mut self, count: u64) {
        self.released = count;
        self.region.set_counter(self.head_counter, count as u32);
    }

    /// Releases everything read so far.
    pub fn release_all(&mut self) {
        self.release_to(self.next);
    }
}

/// A hand-written consumer for one direction, as a raw L3 reads the
/// output ring: it reads slots and payload bytes in place and stores the
/// head counter itself. It checks nothing; tests assert on what it returns.
pub struct RawConsumer<'a> {
    /// The region.
    pub region: &'a RawRegion,
    /// Ring offset of the direction.
    pub ring_offset: u64,
    /// Tail counter offset (producer-written).
    pub tail_counter: u64,
    /// Head counter offset (written here).
    pub head_counter: u64,
    /// Next message number to read.
    pub next: u64,
    /// Messages released (the value whose low 32 bits the head holds).
    pub released: u64,
}

impl<'a> RawConsumer<'a> {
    /// The L2 -> L3 direction, starting at message `start`.
    pub fn output(region: &'a RawRegion, start: u64) -> Self {
        RawConsumer {
            region,
            ring_offset: region.layout.output_desc_offset,
            tail_counter: L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
            head_counter: L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
            next: start,
            released: start,
        }
    }

    /// Published messages not yet read, from the raw tail (low 32 bits).
    pub fn available(&self) -> u64 {
        u64::from(
            self.region
                .counter(self.tail_counter)
                .wrapping_sub(self.next as u32),
        )
    }

    /// Reads the next published slot and a copy of its payload bytes, or
    /// `None` when the tail shows nothing new.
    pub fn take(&mut self) -> Option<(DescriptorSlot, Vec<u8>)> {
        if self.available() == 0 {
            return None;
        }
        let slot = self.region.read_slot(self.ring_offset, self.next);
        let payload = if slot.payload_nbytes == 0 {
            Vec::new()
        } else {
            self.region
                .read(slot.payload_offset, slot.payload_nbytes as usize)
        };
        self.next += 1;
        Some((slot, payload))
    }

    /// Releases every message read so far (stores the head).
    pub fn release(&mut self) {
        self.released = self.next;
        self.region
            .set_counter(self.head_counter, self.released as u32);
    }

    /// Reads and releases everything published; returns what was read.
    pub fn drain(&mut self) -> Vec<(DescriptorSlot, Vec<u8>)> {
        let mut all = Vec::new();
        while let Some(m) = self.take() {
            all.push(m);
        }
        self.release();
        all
    }
}
