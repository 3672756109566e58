//! Producer half of one direction (SPEC section 6, producer sequence).

use super::arena::{self, Span};
use super::{Breach, Direction, RingError};
use crate::abi::DescriptorSlot;
use crate::counter::fold;
use crate::error::ErrorKind;
use crate::region::{Fault, Region};

/// A place in the ring and arena for one message, not yet committed. It
/// borrows nothing, so the caller may fill the payload in between; a
/// placement that is dropped commits nothing, padding included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a placement does nothing until it is committed"]
pub struct Placement {
    /// Message number the placement is for.
    pub index: u64,
    /// Where the payload goes in the arena.
    pub span: Span,
    /// Bytes reserved; a commit may use fewer.
    pub capacity: u64,
}

/// The producing side of a ring: local counts and arena cursors, synced
/// with the consumer's head counter only when space looks short.
#[derive(Debug)]
pub struct Producer {
    dir: Direction,
    /// Messages whose slots are written.
    written: u64,
    /// The tail value last stored to shared memory.
    announced: u64,
    /// The consumer's head, folded; replayed up to here.
    released: u64,
    /// Arena cursor up to which released payloads have been replayed.
    bytes_head: u64,
    /// Arena cursor after the last written payload.
    bytes_tail: u64,
    /// `bytes_head % arena_bytes`, kept incrementally (no division per message).
    head_pos: u64,
    /// `bytes_tail % arena_bytes`, likewise.
    tail_pos: u64,
}

impl Producer {
    /// A producer whose counters start at `initial` (0 on a fresh region).
    pub fn new(dir: Direction, initial: u64) -> Producer {
        Producer {
            dir,
            written: initial,
            announced: initial,
            released: initial,
            bytes_head: 0,
            bytes_tail: 0,
            head_pos: 0,
            tail_pos: 0,
        }
    }

    /// Whether written slots wait for [`Producer::announce`] (a batch in
    /// progress).
    pub fn pending(&self) -> bool {
        self.announced != self.written
    }

    /// Reloads the consumer's head and replays the descriptors it released
    /// to advance the arena head. A load failure changes nothing.
    ///
    /// # Errors
    /// [`RingError::Memory`] on a failed load or slot read,
    /// [`RingError::Breach`] on an impossible head or a released descriptor
    /// that does not match what this producer wrote.
    pub fn refresh<R: Region + ?Sized>(&mut self, region: &R) -> Result<(), RingError> {
        let observed = region.load_counter(self.dir.head_counter)?;
        let head = fold(self.released, observed, self.dir.depth).ok_or(Breach::new(
            ErrorKind::InvalidDescriptor,
            "head counter moved backwards or past depth",
            self.released,
            observed as u64,
        ))?;
        if head > self.announced {
            return Err(Breach::new(
                ErrorKind::InvalidDescriptor,
                "head counter passed the published tail",
                head,
                self.announced,
            )
            .into());
        }
        if head == self.written {
            // Everything is released: the arena is empty, no replay needed.
            self.released = head;
            self.bytes_head = self.bytes_tail;
            self.head_pos = self.tail_pos;
            return Ok(());
        }
        while self.released < head {
            self.replay_one(region)?;
        }
        Ok(())
    }

    /// Replays one released descriptor. Progress is committed per message,
    /// so a failure part-way leaves a consistent state to resume from.
    #[inline(always)]
    fn replay_one<R: Region + ?Sized>(&mut self, region: &R) -> Result<(), RingError> {
        let index = self.released;
        let slot = self.dir.read_slot(region, index)?;
        // The common case in a few comparisons: the slot as this producer wrote it, a non-empty payload at the
        // arena head without a wrap, within what was written. Everything else goes through the full check below,
        // which accepts this case with the same result.
        if slot.seq == index.wrapping_add(1) {
            let offset = slot.payload_offset.wrapping_sub(self.dir.arena_offset);
            let written = self.bytes_tail - self.bytes_head;
            if let Some(span) = arena::follow_expected(
                self.bytes_head,
                self.head_pos,
                self.dir.arena_bytes,
                written,
                slot.payload_nbytes,
                offset,
            ) {
                self.advance_head(index, span);
                return Ok(());
            }
        }
        self.replay_checked(index, slot.seq, slot.payload_offset, slot.payload_nbytes)
    }

    /// Frees the span of released message `index`.
    #[inline(always)]
    fn advance_head(&mut self, index: u64, span: Span) {
        self.head_pos = span.end_position(self.head_pos, self.dir.arena_bytes);
        self.bytes_head = span.end;
        self.released = index + 1;
    }

    /// [`Producer::replay_one`] for any slot: wraps, empty messages, and
    /// released slots that do not match what this producer wrote (poison).
    /// Takes the fields it checks as values, as `Consumer::validate_fields`
    /// does, so the hot path keeps the slot in registers.
    #[cold]
    #[inline(never)]
    fn replay_checked(
        &mut self,
        index: u64,
        seq: u64,
        payload_offset: u64,
        payload_nbytes: u64,
    ) -> Result<(), RingError> {
        let bad = |what, seen| Breach::new(ErrorKind::InvalidDescriptor, what, index, seen);
        if seq != index.wrapping_add(1) {
            return Err(bad("released slot seq was altered", seq).into());
        }
        let relative = self
            .dir
            .claimed_arena_offset(payload_offset, payload_nbytes)
            .ok_or_else(|| bad("released slot payload outside the arena", payload_offset))?;
        let span = arena::follow_at(
            self.bytes_head,
            self.bytes_head,
            self.head_pos,
            self.dir.arena_bytes,
            payload_nbytes,
            relative,
        )
        .filter(|span| span.end <= self.bytes_tail)
        .ok_or_else(|| {
            bad(
                "released slot at a position this producer never wrote",
                payload_offset,
            )
        })?;
        self.advance_head(index, span);
        Ok(())
    }

    /// Finds room for `n` bytes, refreshing the head only when the cached
    /// one shows no room. `Ok(None)` is no-progress and commits nothing.
    ///
    /// # Errors
    /// As [`Producer::refresh`].
    #[inline(always)]
    pub fn try_place<R: Region + ?Sized>(
        &mut self,
        region: &R,
        n: u64,
    ) -> Result<Option<Placement>, RingError> {
        if n > self.dir.arena_bytes {
            return Ok(None);
        }
        let mut refreshed = false;
        if self.written - self.released >= self.dir.depth {
            self.refresh(region)?;
            refreshed = true;
            if self.written - self.released >= self.dir.depth {
                return Ok(None);
            }
        }
        let mut span = arena::place_at(
            self.bytes_head,
            self.bytes_tail,
            self.tail_pos,
            self.dir.arena_bytes,
            n,
        );
        if span.is_none() && !refreshed {
            self.refresh(region)?;
            span = arena::place_at(
                self.bytes_head,
                self.bytes_tail,
                self.tail_pos,
                self.dir.arena_bytes,
                n,
            );
        }
        Ok(span.map(|span| Placement {
            index: self.written,
            span,
            capacity: n,
        }))
    }

    /// Payload offset (relative to the payload base) of a placement.
    pub fn payload_offset(&self, placement: &Placement) -> u64 {
        if placement.capacity == 0 {
            0
        } else {
            self.dir.arena_offset + placement.span.offset
        }
    }

    /// Writes the slot for `placement` carrying `nbytes <= capacity` bytes
    /// and commits its arena space; the tail is stored by [`Producer::announce`].
    /// A wrapped placement whose `nbytes` fit at the position before the
    /// wrap is published there instead, its bytes moved (SPEC section 7).
    ///
    /// # Errors
    /// [`RingError::Memory`] when the move or a slot write fails; the
    /// caller must poison.
    #[inline(always)]
    pub fn commit<R: Region + ?Sized>(
        &mut self,
        region: &R,
        placement: &Placement,
        opcode: u64,
        nbytes: u64,
    ) -> Result<(), RingError> {
        debug_assert!(nbytes <= placement.capacity);
        let span = if nbytes == placement.capacity {
            placement.span
        } else {
            self.shrink(region, placement, nbytes)?
        };
        self.write(region, placement.index, span, opcode, nbytes)
    }

    /// [`Producer::commit`] of a placement filled to its capacity (the
    /// copy paths), where no shrink can apply.
    ///
    /// # Errors
    /// As [`Producer::commit`].
    #[inline(always)]
    pub fn commit_full<R: Region + ?Sized>(
        &mut self,
        region: &R,
        placement: &Placement,
        opcode: u64,
    ) -> Result<(), RingError> {
        self.write(
            region,
            placement.index,
            placement.span,
            opcode,
            placement.capacity,
        )
    }

    /// Writes the slot of message `index` for `nbytes` at `span` and
    /// commits the span. Fields go first and `seq` last, so a slot whose
    /// seq matches was fully written by the time the tail covering it is
    /// observed.
    #[inline(always)]
    fn write<R: Region + ?Sized>(
        &mut self,
        region: &R,
        index: u64,
        span: Span,
        opcode: u64,
        nbytes: u64,
    ) -> Result<(), RingError> {
        debug_assert_eq!(index, self.written, "placements are committed in order");
        let payload_offset = if nbytes == 0 {
            0
        } else {
            self.dir.arena_offset + span.offset
        };
        let slot = DescriptorSlot {
            seq: index.wrapping_add(1),
            opcode,
            payload_offset,
            payload_nbytes: nbytes,
        };
        region.write_slot(self.dir.slot_offset(index), &slot)?;
        self.tail_pos = span.end_position(self.tail_pos, self.dir.arena_bytes);
        self.bytes_tail = span.end;
        self.written += 1;
        Ok(())
    }

    /// Where a placement shrunk to `nbytes` is published (SPEC section 7).
    /// A wrapped reservation whose bytes fit at the position before the
    /// wrap is published there, so its payload is moved from the arena
    /// start: the bytes are this producer's own and not yet published, so
    /// no consumer reads either range meanwhile.
    ///
    /// # Errors
    /// [`RingError::Memory`] with [`Fault::Write`] when the move fails; the
    /// caller must poison.
    #[cold]
    #[inline(never)]
    fn shrink<R: Region + ?Sized>(
        &self,
        region: &R,
        placement: &Placement,
        nbytes: u64,
    ) -> Result<Span, RingError> {
        let span =
            placement
                .span
                .shrink(self.bytes_tail, self.tail_pos, self.dir.arena_bytes, nbytes);
        if nbytes != 0 && span.offset != placement.span.offset {
            // Any failure counts as a failed write: part of the destination may be written already, and the
            // reservation is consumed, so the caller poisons rather than reporting a retryable read failure.
            region
                .move_payload(
                    self.dir.arena_offset + placement.span.offset,
                    self.dir.arena_offset + span.offset,
                    nbytes,
                )
                .map_err(|_| Fault::Write)?;
        }
        Ok(span)
    }

    /// Publishes every written slot with one release store of the tail.
    ///
    /// # Errors
    /// [`RingError::Memory`] when the store fails; the caller must poison.
    #[inline]
    pub fn announce<R: Region + ?Sized>(&mut self, region: &R) -> Result<(), RingError> {
        if self.announced != self.written {
            region.store_counter(self.dir.tail_counter, self.written as u32)?;
            self.announced = self.written;
        }
        Ok(())
    }
}
