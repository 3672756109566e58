//! Consumer half of one direction (SPEC section 6, consumer sequence).

use core::ptr::NonNull;

use super::arena::{self, Span};
use super::{Breach, Direction, Message, RingError};
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
    /// The payload in place (as [`Message::data`]).
    pub data: *const u8,
}

impl Acquired {
    /// The handle the application gets for this message.
    #[inline(always)]
    pub fn message(&self) -> Message {
        Message::from_slot(&self.slot, self.data)
    }
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
    /// The arena in place, when the region maps all of it (see
    /// [`Consumer::new`]): a validated span then needs no second
    /// range check to become a pointer.
    arena: Option<NonNull<u8>>,
}

// SAFETY: `arena` is only an address inside the region of the endpoint that owns this consumer; it is
// dereferenced only through that endpoint, which is itself Send only when its region is.
unsafe impl Send for Consumer {}

impl Consumer {
    /// A consumer of `region` whose counters start at `initial` (0 on a
    /// fresh region). It resolves the arena in place once, when `region`
    /// maps all of it, so that [`Consumer::message`] and
    /// [`Consumer::payload_in_place`] turn validated spans into pointers
    /// without asking the region again: `region` must be the one every
    /// later call passes.
    pub fn new<R: Region + ?Sized>(dir: Direction, initial: u64, region: &R) -> Consumer {
        let arena = region.payload_ptr(dir.arena_offset, dir.arena_bytes);
        Consumer {
            dir,
            observed: initial,
            acquired: initial,
            released: initial,
            announced: initial,
            bytes_head: 0,
            bytes_tail: 0,
            tail_pos: 0,
            arena,
        }
    }

    /// Whether [`Consumer::new`] found the arena mapped in place.
    pub fn arena_mapped(&self) -> bool {
        self.arena.is_some()
    }

    /// The handle of an acquired message, given its validated slot: with
    /// its payload in place when the arena is mapped, null `data` otherwise
    /// (and for an empty payload).
    #[inline(always)]
    pub fn message<R: Region + ?Sized>(&self, region: &R, slot: &DescriptorSlot) -> Message {
        Message::from_slot(slot, self.payload_data(region, slot))
    }

    /// [`Message::data`] for a validated slot, its bytes made readable.
    #[inline(always)]
    fn payload_data<R: Region + ?Sized>(&self, region: &R, slot: &DescriptorSlot) -> *const u8 {
        match self.arena {
            Some(_) if slot.payload_nbytes != 0 => {
                region.refresh_for_read(slot.payload_offset, slot.payload_nbytes);
                self.arena_ptr(slot.payload_offset)
            }
            _ => core::ptr::null(),
        }
    }

    /// The in-place bytes of a held message's payload, given the offset and
    /// length of its validated slot; empty when the arena is not mapped.
    ///
    /// # Safety
    /// `payload_offset` and `payload_nbytes` must be those of a slot this
    /// consumer validated and has not released (so they lie inside the
    /// arena and no producer writes them), and the slice must not outlive
    /// that release.
    #[inline(always)]
    pub unsafe fn payload_in_place<'a>(
        &self,
        payload_offset: u64,
        payload_nbytes: u64,
    ) -> &'a [u8] {
        if self.arena.is_none() || payload_nbytes == 0 {
            return &[];
        }
        // SAFETY: by the caller's contract the span lies inside the arena, which the region maps in place for its
        // lifetime (resolved in `new`), and stays unwritten until released; usize holds it (the arena is mapped).
        unsafe {
            core::slice::from_raw_parts(self.arena_ptr(payload_offset), payload_nbytes as usize)
        }
    }

    /// The address of arena byte `payload_offset` (a payload offset inside
    /// the arena); null when the arena is not mapped.
    #[inline(always)]
    fn arena_ptr(&self, payload_offset: u64) -> *const u8 {
        // Validated spans lie inside the arena, so this stays within the mapping; wrapping arithmetic keeps
        // even a wrong offset from being undefined behaviour (only dereferencing it would be).
        self.arena.map_or(core::ptr::null(), |base| {
            base.as_ptr()
                .cast_const()
                .wrapping_add(payload_offset.wrapping_sub(self.dir.arena_offset) as usize)
        })
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
        let tail = fold(self.observed, raw, self.dir.depth).ok_or(Breach::new(
            ErrorKind::InvalidDescriptor,
            "tail counter moved backwards or past depth",
            self.observed,
            raw as u64,
        ))?;
        if tail - self.announced > self.dir.depth {
            return Err(Breach::new(
                ErrorKind::InvalidDescriptor,
                "tail counter is more than depth ahead of the head",
                tail,
                self.announced,
            )
            .into());
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
    pub fn try_acquire<R: Region + ?Sized>(
        &mut self,
        region: &R,
    ) -> Result<Option<Acquired>, RingError> {
        self.try_acquire_if(region, |_| true)
    }

    /// As [`Consumer::try_acquire`], but takes the message only when
    /// `wanted` accepts its validated slot; otherwise nothing changes and
    /// the result is `Ok(None)`.
    ///
    /// # Errors
    /// As [`Consumer::try_acquire`].
    #[inline(always)]
    pub fn try_acquire_if<R: Region + ?Sized>(
        &mut self,
        region: &R,
        wanted: impl FnOnce(&DescriptorSlot) -> bool,
    ) -> Result<Option<Acquired>, RingError> {
        if self.acquired == self.observed && self.refresh(region)? == 0 {
            return Ok(None);
        }
        // The payload's position is known before its slot is read (the
        // expected position; a wrap or an empty message merely wastes the
        // hint), so ask for both lines at once rather than one after the other.
        region.prefetch_read(self.dir.arena_offset + self.tail_pos);
        self.take_published(region, wanted)
    }

    /// Takes up to `max` messages in order without waiting (reloading the
    /// tail at most once, when the published ones run out), handing each to `take` as soon as it is
    /// validated and acquired; `take` returns whether to go on. Returns how
    /// many were acquired and, when the batch ended on a failure, the
    /// failure (the messages before it stay acquired; a failed read
    /// changes nothing for the message it concerns).
    #[inline]
    pub fn try_acquire_batch<R: Region + ?Sized>(
        &mut self,
        region: &R,
        max: usize,
        mut take: impl FnMut(&Acquired) -> bool,
    ) -> (usize, Result<(), RingError>) {
        let mut n = 0;
        let mut refreshed = false;
        while n < max {
            if self.acquired == self.observed {
                if refreshed {
                    break;
                }
                refreshed = true;
                match self.refresh(region) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => return (n, Err(e)),
                }
            }
            match self.take_published(region, |_| true) {
                Ok(Some(acquired)) => {
                    n += 1;
                    if !take(&acquired) {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return (n, Err(e)),
            }
        }
        (n, Ok(()))
    }

    /// Takes up to `max` messages (as [`Consumer::try_acquire_batch`]),
    /// hands each to `visit` while it is held, then releases them all with
    /// one head store: for messages that never outlive the call. They are
    /// released even when `visit` panics, so an unwinding caller leaves no
    /// message acquired but untracked. Requires that nothing is held
    /// (`acquired() == released()`), since everything acquired is released.
    ///
    /// Returns the count and the first failure: the batch's, or the head
    /// store's (the caller must poison on a store failure).
    pub(crate) fn consume_batch<R: Region + ?Sized>(
        &mut self,
        region: &R,
        max: usize,
        visit: impl FnMut(&Acquired) -> bool,
    ) -> (usize, Result<(), RingError>) {
        debug_assert_eq!(
            self.acquired, self.released,
            "consume_batch releases everything acquired"
        );
        let mut guard = ReleaseAll {
            consumer: self,
            region,
            armed: true,
        };
        let (n, result) = guard.consumer.try_acquire_batch(region, max, visit);
        guard.armed = false;
        let announced = guard.release();
        // A failed head store comes first: it is the one the caller must poison for.
        (n, announced.and(result))
    }

    /// Acquires message `acquired`, known to be published: copies its slot
    /// once, validates it and claims its arena span.
    #[inline(always)]
    fn take_published<R: Region + ?Sized>(
        &mut self,
        region: &R,
        wanted: impl FnOnce(&DescriptorSlot) -> bool,
    ) -> Result<Option<Acquired>, RingError> {
        let index = self.acquired;
        let slot = self.dir.read_slot(region, index)?;
        let span = match self.expected_span(index, &slot) {
            Some(span) => span,
            None => self.validate_fields(
                region,
                index,
                slot.seq,
                slot.opcode,
                slot.payload_offset,
                slot.payload_nbytes,
            )?,
        };
        if !wanted(&slot) {
            return Ok(None);
        }
        self.acquired += 1;
        self.tail_pos = span.end_position(self.tail_pos, self.dir.arena_bytes);
        self.bytes_tail = span.end;
        Ok(Some(Acquired {
            index,
            slot,
            span,
            data: self.payload_data(region, &slot),
        }))
    }

    /// The span of the common message, checked in a few comparisons: the
    /// right seq, DATA or ERROR, a non-empty payload at exactly the
    /// expected arena position with room for it. `None` sends every other
    /// slot (wraps, zero-byte messages, STOP and every breach) through
    /// [`Consumer::validate`], which applies all the rules; whatever this
    /// accepts, `validate` accepts with the same span.
    #[inline(always)]
    fn expected_span(&self, index: u64, slot: &DescriptorSlot) -> Option<Span> {
        // DATA (1) or ERROR (3).
        if slot.seq != index.wrapping_add(1) || slot.opcode | 2 != 3 {
            return None;
        }
        // Live bytes never exceed the arena (every accepted span fits), so the subtraction holds; checked anyway.
        let room = self
            .dir
            .arena_bytes
            .checked_sub(self.bytes_tail - self.bytes_head)?;
        let offset = slot.payload_offset.wrapping_sub(self.dir.arena_offset);
        let span = arena::follow_expected(
            self.bytes_tail,
            self.tail_pos,
            self.dir.arena_bytes,
            room,
            slot.payload_nbytes,
            offset,
        )?;
        debug_assert_eq!(Ok(span), self.validate(index, slot));
        Some(span)
    }

    /// [`Consumer::validate`] for the slow path, given the fields as
    /// values: a slot passed by reference would have to sit in memory, and
    /// the compiler then stores every slot to the stack on the hot path
    /// too, where stores are what limits a two-core stream. STOP always
    /// comes this way (the fast path takes only DATA and ERROR), so the
    /// STOP rule costs the common message nothing. It takes `&self`: a
    /// call that could change the consumer would make the compiler reload
    /// its fields on every message of a batch loop.
    #[cold]
    #[inline(never)]
    fn validate_fields<R: Region + ?Sized>(
        &self,
        region: &R,
        index: u64,
        seq: u64,
        opcode: u64,
        payload_offset: u64,
        payload_nbytes: u64,
    ) -> Result<Span, RingError> {
        let span = self.validate(
            index,
            &DescriptorSlot {
                seq,
                opcode,
                payload_offset,
                payload_nbytes,
            },
        )?;
        if opcode == L3L2Q_OPCODE_STOP {
            self.nothing_after_stop(region, index)?;
        }
        Ok(span)
    }

    /// The STOP rule (SPEC 8): STOP, message `index`, may be handed out
    /// only while no later message is known to be published, because the
    /// caller may exit once it is released and a later input would then be
    /// lost without anyone being told. The tail is loaded afresh so the
    /// evidence is as recent as this acquisition can make it (one load per
    /// STOP; the observation is not kept, the next refresh folds it again).
    /// A tail that counts a message after STOP is INVALID_DESCRIPTOR, as is
    /// one that cannot be folded; a failed load changes nothing.
    fn nothing_after_stop<R: Region + ?Sized>(
        &self,
        region: &R,
        index: u64,
    ) -> Result<(), RingError> {
        // An acquire load like every tail observation, though only the count
        // matters here: no slot it covers is read before the next refresh.
        let raw = region.load_counter(self.dir.tail_counter)?;
        let tail = fold(self.observed, raw, self.dir.depth).ok_or(Breach::new(
            ErrorKind::InvalidDescriptor,
            "tail counter moved backwards or past depth",
            self.observed,
            raw as u64,
        ))?;
        if tail > index + 1 {
            return Err(Breach::new(
                ErrorKind::InvalidDescriptor,
                "input published after STOP",
                index + 1,
                tail,
            )
            .into());
        }
        Ok(())
    }

    #[inline]
    fn validate(&self, index: u64, slot: &DescriptorSlot) -> Result<Span, Breach> {
        let bad = |what, seen| Breach::new(ErrorKind::InvalidDescriptor, what, index, seen);
        if slot.seq != index.wrapping_add(1) {
            return Err(bad("seq mismatch", slot.seq));
        }
        match slot.opcode {
            L3L2Q_OPCODE_DATA | L3L2Q_OPCODE_ERROR => {}
            L3L2Q_OPCODE_STOP if !self.dir.carries_stop => {
                return Err(bad("STOP on the output ring", slot.opcode));
            }
            L3L2Q_OPCODE_STOP if slot.payload_nbytes != 0 => {
                return Err(bad("STOP with payload", slot.payload_nbytes));
            }
            L3L2Q_OPCODE_STOP => {}
            other => return Err(bad("invalid opcode", other)),
        }
        let relative = self
            .dir
            .claimed_arena_offset(slot.payload_offset, slot.payload_nbytes)
            .ok_or_else(|| bad("payload outside its arena", slot.payload_offset))?;
        if slot.payload_nbytes == 0 && relative != 0 {
            return Err(bad(
                "zero-byte message with nonzero offset",
                slot.payload_offset,
            ));
        }
        arena::follow_at(
            self.bytes_head,
            self.bytes_tail,
            self.tail_pos,
            self.dir.arena_bytes,
            slot.payload_nbytes,
            relative,
        )
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

/// Releases everything a [`Consumer`] acquired, at the end of
/// [`Consumer::consume_batch`] or when its visitor unwinds.
struct ReleaseAll<'a, R: Region + ?Sized> {
    consumer: &'a mut Consumer,
    region: &'a R,
    /// Still to release on drop (an unwind); cleared on the normal path,
    /// which releases explicitly to report a failed store.
    armed: bool,
}

impl<R: Region + ?Sized> ReleaseAll<'_, R> {
    fn release(&mut self) -> Result<(), RingError> {
        let consumer = &mut *self.consumer;
        consumer.release_to(consumer.acquired, consumer.bytes_tail);
        consumer.announce(self.region)
    }
}

impl<R: Region + ?Sized> Drop for ReleaseAll<'_, R> {
    fn drop(&mut self) {
        if self.armed {
            // Unwinding: there is no caller to report a failed store to; the next announce retries it.
            let _ = self.release();
        }
    }
}
