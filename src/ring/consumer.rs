//! Consumer half of one direction (SPEC section 6, consumer sequence).

use super::arena::{self, Span};
use super::{Breach, Direction, RingError};
use crate::abi::*;
use crate::counter::fold;
use crate::error::ErrorKind;
use crate::region::Region;

/// A message taken from the ring: its number, the validated copy of its
/// slot and where its payload sits in the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acquired {
    /// Message number (`seq - 1`).
    pub index: u64,
    /// The slot as copied once and validated.
    pub slot: DescriptorSlot,
    /// Arena span, including any padding a wrap skipped before it.
    pub span: Span,
}

/// The consuming side of a ring.
#[derive(Debug)]
pub struct Consumer {
    dir: Direction,
    /// The producer's tail, folded.
    observed: u64,
    /// Next message number to acquire.
    acquired: u64,
    /// Messages released (the head), locally.
    released: u64,
    /// The head value last stored to shared memory.
    announced: u64,
    /// Arena cursor up to which payloads are released.
    bytes_head: u64,
    /// Arena cursor after the last acquired payload.
    bytes_tail: u64,
    /// `bytes_tail % arena_bytes`, kept incrementally (no division per message).
    tail_pos: u64,
}

impl Consumer {
    /// A consumer whose counters start at `initial` (0 on a fresh region).
    pub fn new(dir: Direction, initial: u64) -> Consumer {
        Consumer { dir, observed: initial, acquired: initial, released: initial, announced: initial, bytes_head: 0, bytes_tail: 0, tail_pos: 0 }
    }

    /// The direction this consumer reads.
    pub fn direction(&self) -> &Direction {
        &self.dir
    }

    /// Next message number to acquire.
    pub fn acquired(&self) -> u64 {
        self.acquired
    }

    /// Messages released so far.
    pub fn released(&self) -> u64 {
        self.released
    }

    /// Arena cursor up to which payloads are released.
    pub fn bytes_head(&self) -> u64 {
        self.bytes_head
    }

    /// The producer's tail as last observed.
    pub fn observed(&self) -> u64 {
        self.observed
    }

    /// Reloads the producer's tail (acquire).
    ///
    /// # Errors
    /// [`RingError::Memory`] on a failed load, [`RingError::Breach`] when
    /// the tail moved backwards, jumped past depth or overfilled the ring.
    pub fn refresh<R: Region + ?Sized>(&mut self, region: &R) -> Result<u64, RingError> {
        let raw = region.load_counter(self.dir.tail_counter)?;
        let tail = fold(self.observed, raw, self.dir.depth)
            .ok_or(Breach::new(ErrorKind::OutOfSpace, "tail counter moved backwards or past depth", self.observed, raw as u64))?;
        if tail - self.announced > self.dir.depth {
            return Err(Breach::new(ErrorKind::OutOfSpace, "tail counter is more than depth ahead of the head", tail, self.announced).into());
        }
        self.observed = tail;
        Ok(tail - self.acquired)
    }

    /// Takes the next message if one is published: copies its slot once,
    /// validates it and claims its arena span. `Ok(None)` is no-progress.
    /// A failed slot read changes nothing.
    ///
    /// # Errors
    /// [`RingError::Memory`] on a failed read; [`RingError::Breach`] on an
    /// invalid descriptor or counter.
    #[inline]
    pub fn try_acquire<R: Region + ?Sized>(&mut self, region: &R) -> Result<Option<Acquired>, RingError> {
        self.try_acquire_if(region, |_| true)
    }

    /// As [`Consumer::try_acquire`], but takes the message only when
    /// `wanted` accepts its validated slot; otherwise nothing changes and
    /// the result is `Ok(None)`.
    ///
    /// # Errors
    /// As [`Consumer::try_acquire`].
    #[inline]
    pub fn try_acquire_if<R: Region + ?Sized>(&mut self, region: &R, wanted: impl FnOnce(&DescriptorSlot) -> bool) -> Result<Option<Acquired>, RingError> {
        if self.acquired == self.observed && self.refresh(region)? == 0 {
            return Ok(None);
        }
        let index = self.acquired;
        // The payload's position is known before its slot is read (the
        // expected position; a wrap or an empty message merely wastes the
        // hint), so ask for both lines at once rather than one after the other.
        region.prefetch_read(self.dir.arena_offset + self.tail_pos);
        let slot = self.dir.read_slot(region, index)?;
        let span = self.validate(index, &slot)?;
        if !wanted(&slot) {
            return Ok(None);
        }
        self.acquired += 1;
        self.tail_pos = span.end_position(self.tail_pos, self.dir.arena_bytes);
        self.bytes_tail = span.end;
        if self.acquired < self.observed {
            // The next message is published: start fetching its slot and payload while this one is used.
            region.prefetch_read(self.dir.slot_offset(self.acquired));
            region.prefetch_read(self.dir.arena_offset + self.tail_pos);
        }
        Ok(Some(Acquired { index, slot, span }))
    }

    #[inline]
    fn validate(&self, index: u64, slot: &DescriptorSlot) -> Result<Span, Breach> {
        let bad = |what, seen| Breach::new(ErrorKind::InvalidDescriptor, what, index, seen);
        if slot.seq != index.wrapping_add(1) {
            return Err(bad("seq mismatch", slot.seq));
        }
        match slot.opcode {
            L3L2Q_OPCODE_DATA | L3L2Q_OPCODE_ERROR => {}
            L3L2Q_OPCODE_STOP if !self.dir.carries_stop => return Err(bad("STOP on the output ring", slot.opcode)),
            L3L2Q_OPCODE_STOP if slot.payload_nbytes != 0 => return Err(bad("STOP with payload", slot.payload_nbytes)),
            L3L2Q_OPCODE_STOP => {}
            other => return Err(bad("invalid opcode", other)),
        }
        let relative = self.dir.claimed_arena_offset(slot).ok_or_else(|| bad("payload outside its arena", slot.payload_offset))?;
        if slot.payload_nbytes == 0 && relative != 0 {
            return Err(bad("zero-byte message with nonzero offset", slot.payload_offset));
        }
        arena::follow_at(self.bytes_head, self.bytes_tail, self.tail_pos, self.dir.arena_bytes, slot.payload_nbytes, relative)
            .ok_or_else(|| bad("payload at a bad arena position", slot.payload_offset))
    }

    /// Marks messages up to (not including) `count` released, with their
    /// payload bytes up to cursor `bytes_end`. Local only until
    /// [`Consumer::announce`].
    pub fn release_to(&mut self, count: u64, bytes_end: u64) {
        debug_assert!(count <= self.acquired && count >= self.released);
        self.released = count;
        self.bytes_head = bytes_end;
    }

    /// Publishes the head with one release store, so the producer may
    /// reuse the slots and bytes only after our reads of them completed.
    ///
    /// # Errors
    /// [`RingError::Memory`] when the store fails; the caller must poison.
    pub fn announce<R: Region + ?Sized>(&mut self, region: &R) -> Result<(), RingError> {
        if self.announced != self.released {
            region.store_counter(self.dir.head_counter, self.released as u32)?;
            self.announced = self.released;
        }
        Ok(())
    }
}
