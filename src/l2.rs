//! The L2 (device-side) endpoint: input consumer with an in-flight window,
//! output producer, STOP drain (SPEC sections 7-9).
//!
//! No operation after creation allocates, locks or makes a system call
//! (blocking calls spin).

use core::fmt;

use crate::abi::*;
use crate::error::{Error, ErrorInfo, ErrorKind, Operation, Poison};
use crate::layout::validate_queue;
use crate::region::{MappedRegion, Region};
use crate::ring::{Acquired, Consumer, Direction, Message, Producer, Reservation, Sender};
use crate::wait::{self, WaitPolicy};

/// What the window keeps of an in-flight DATA/ERROR input: the fields
/// that recognise its handle and the cursor that frees its bytes. The seq
/// is implied by the position: a handle is looked up only after its seq
/// was checked to lie in the in-flight range, which the window covers
/// without reuse.
#[derive(Debug, Clone, Copy, Default)]
struct InflightEntry {
    payload_offset: u64,
    payload_nbytes: u64,
    bytes_end: u64,
    opcode: u64,
    /// `seq` of the message when it was released out of order (marked
    /// complete, its bytes not yet freed). Any other value, a previous
    /// lap's included, means not complete, so taking a message never has
    /// to clear it: one store fewer per message on the hot path.
    completed_seq: u64,
}

impl InflightEntry {
    /// Records a just-acquired message (leaving `completed_seq` alone).
    #[inline(always)]
    fn record(&mut self, slot: &DescriptorSlot, bytes_end: u64) {
        self.payload_offset = slot.payload_offset;
        self.payload_nbytes = slot.payload_nbytes;
        self.bytes_end = bytes_end;
        self.opcode = slot.opcode;
    }

    /// Whether message number `index`, which this entry holds, was marked complete.
    #[inline(always)]
    fn completed(&self, index: u64) -> bool {
        self.completed_seq == index.wrapping_add(1)
    }

    /// Whether `message` carries this entry's fields unaltered (its seq
    /// was checked by the caller).
    #[inline(always)]
    fn named_by(&self, message: &Message) -> bool {
        message.opcode == self.opcode
            && message.payload_offset == self.payload_offset
            && message.payload_nbytes == self.payload_nbytes
    }
}

/// The in-flight DATA/ERROR inputs, message `i` at `i % len`. The length
/// is the window rounded up to a power of two, so the position of message
/// `i` is `i & mask` with `mask = len - 1` (no division per message, and
/// no bounds check: three lookups per message on the batch paths).
struct Window {
    entries: Box<[InflightEntry]>,
    mask: u64,
}

impl Window {
    fn new(max_inflight: u64) -> Window {
        let len = max_inflight.next_power_of_two();
        Window {
            entries: vec![InflightEntry::default(); len as usize].into_boxed_slice(),
            mask: len - 1,
        }
    }

    #[inline(always)]
    fn position(&self, index: u64) -> usize {
        let position = (index & self.mask) as usize;
        debug_assert!(position < self.entries.len());
        position
    }

    /// The entry of message number `index`.
    #[inline(always)]
    fn entry(&self, index: u64) -> &InflightEntry {
        // SAFETY: `mask` is `entries.len() - 1` with the length a power of two (at least 1), so `index & mask`
        // is always a valid position.
        unsafe { self.entries.get_unchecked(self.position(index)) }
    }

    #[inline(always)]
    fn entry_mut(&mut self, index: u64) -> &mut InflightEntry {
        let position = self.position(index);
        // SAFETY: as in `entry`.
        unsafe { self.entries.get_unchecked_mut(position) }
    }

    /// Records a just-acquired DATA/ERROR input.
    #[inline(always)]
    fn record(&mut self, acquired: &Acquired) {
        self.entry_mut(acquired.index)
            .record(&acquired.slot, acquired.span.end);
    }
}

#[derive(Debug, Clone, Copy)]
struct StopState {
    index: u64,
    released: bool,
}

impl StopState {
    /// Whether `message` is the unaltered, unreleased handle of this STOP
    /// (zero-byte: a handle claiming bytes was altered, and
    /// [`L2Endpoint::payload`] relies on that).
    fn held_as(&self, message: &Message) -> bool {
        !self.released
            && message.seq == self.index.wrapping_add(1)
            && message.payload_nbytes == 0
            && message.payload_offset == 0
    }
}

/// The device-side end of a queue.
///
/// The input window bounds how far acquisition may run ahead of the oldest
/// input not yet released: with window `w`, messages `h .. h + w` may be
/// held, where `h` is the first unreleased one. An input released out of
/// order stays inside that span until everything before it is released
/// (the shared head only moves over a completed prefix), so it keeps
/// counting against the window until then.
pub struct L2Endpoint<R: Region = MappedRegion> {
    region: R,
    layout: Layout,
    input: Consumer,
    output: Sender,
    /// In-flight DATA/ERROR inputs.
    window: Window,
    /// DATA/ERROR handles held at once.
    max_inflight: u64,
    stop: Option<StopState>,
    poison: Poison,
}

impl<R: Region> fmt::Debug for L2Endpoint<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("L2Endpoint")
            .field("layout", &self.layout)
            .field("input", &self.input)
            .field("output", &self.output)
            .field("max_inflight", &self.max_inflight)
            .field("poison", &self.poison.record())
            .finish()
    }
}

impl L2Endpoint<MappedRegion> {
    /// Creates an endpoint from the twelve task scalars the L3 side handed
    /// over, with an input window of `max_inflight` handles.
    ///
    /// # Safety
    /// The descriptor's payload and counter ranges must be mapped, readable
    /// and writable in this process for the endpoint's lifetime.
    ///
    /// # Errors
    /// [`Error::BadDescriptor`] with the violated rule, or
    /// [`Error::BadArgument`] for a window outside `1..=depth`.
    pub unsafe fn from_task_scalars(
        scalars: &TaskScalars,
        max_inflight: u64,
    ) -> Result<Self, Error> {
        let (descriptor, args) = scalars.decode();
        // SAFETY: forwarded from this function's contract.
        unsafe { Self::from_descriptor(&descriptor, &args, max_inflight, 0) }
    }

    /// As [`L2Endpoint::from_task_scalars`], from descriptor and args.
    /// `initial_count` is the value every ring counter starts from: 0 on a
    /// fresh region (tests start high to cross 2^31 and 2^32); at most
    /// `u64::MAX / 2`.
    ///
    /// # Safety
    /// As [`L2Endpoint::from_task_scalars`].
    ///
    /// # Errors
    /// As [`L2Endpoint::from_task_scalars`].
    pub unsafe fn from_descriptor(
        descriptor: &RegionDescriptor,
        args: &QueueArgs,
        max_inflight: u64,
        initial_count: u64,
    ) -> Result<Self, Error> {
        validate_queue(descriptor, args).map_err(Error::BadDescriptor)?;
        // SAFETY: forwarded from this function's contract; the descriptor was validated above.
        let region =
            unsafe { MappedRegion::from_descriptor(descriptor) }.map_err(Error::BadDescriptor)?;
        L2Endpoint::with_region(region, descriptor, args, max_inflight, initial_count)
    }
}

impl<R: Region> L2Endpoint<R> {
    /// Creates an endpoint over any region backend (see
    /// [`L2Endpoint::from_descriptor`] for `initial_count`).
    ///
    /// # Errors
    /// As [`L2Endpoint::from_task_scalars`], plus [`Error::BadArgument`]
    /// for an `initial_count` above `u64::MAX / 2`.
    pub fn with_region(
        region: R,
        descriptor: &RegionDescriptor,
        args: &QueueArgs,
        max_inflight: u64,
        initial_count: u64,
    ) -> Result<Self, Error> {
        let layout = validate_queue(descriptor, args).map_err(Error::BadDescriptor)?;
        // Counts start at initial_count and must never overflow u64.
        if max_inflight == 0
            || max_inflight > layout.depth
            || initial_count > crate::ring::MAX_INITIAL_COUNT
        {
            return Err(Error::BadArgument);
        }
        Ok(L2Endpoint {
            input: Consumer::new(Direction::input(&layout), initial_count, &region),
            region,
            layout,
            output: Sender::new(Producer::new(Direction::output(&layout), initial_count)),
            window: Window::new(max_inflight),
            max_inflight,
            stop: None,
            poison: Poison::new(
                descriptor.region_id,
                L3L2Q_L2_ABORT_FLAG_OFFSET,
                L3L2Q_L3_ABORT_FLAG_OFFSET,
            ),
        })
    }

    /// The layout both sides agreed on.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The window size.
    pub fn max_inflight(&self) -> u64 {
        self.max_inflight
    }

    /// The recorded error once poisoned.
    pub fn error(&self) -> Option<&ErrorInfo> {
        self.poison.record()
    }

    /// The region this endpoint works on.
    pub fn region(&self) -> &R {
        &self.region
    }

    /// Whether L3 has set its abort flag. Reads the flag and nothing else
    /// (no shared write, no change while it is clear); when it is set, the
    /// remote abort is recorded (REMOTE_ABORTED, operation TIMEOUT) unless
    /// an error already is, and every later queue call fails fast with
    /// [`Error::RemoteAborted`]. Our own abort flag is never set by this.
    ///
    /// # Errors
    /// [`Error::CallbackFailed`] when the flag could not be read.
    pub fn remote_aborted(&mut self) -> Result<bool, Error> {
        self.poison.query_remote_abort(&self.region)
    }

    fn ownership(&mut self, operation: Operation, args: fmt::Arguments<'_>) -> Error {
        self.poison
            .enter(&self.region, ErrorKind::Ownership, operation, args)
    }

    /// First message number past the in-flight DATA/ERROR inputs.
    fn data_end(&self) -> u64 {
        self.stop.map_or(self.input.acquired(), |s| s.index)
    }

    /// Acquires the next input without waiting.
    ///
    /// # Errors
    /// [`Error::NoProgress`] when nothing is published, the window is full,
    /// or STOP was already acquired; [`Error::Poisoned`] on a breach, a
    /// second peek with window 1, or a descriptor published after STOP;
    /// [`Error::CallbackFailed`] if the region could not be read.
    #[inline(always)]
    pub fn try_peek(&mut self) -> Result<Message, Error> {
        self.poison.check()?;
        let window_full = self.input.acquired() - self.input.released() >= self.max_inflight;
        if self.stop.is_some() || window_full {
            self.check_unusual_peek()?;
        }
        self.acquire_next(window_full)
    }

    /// The rules of [`L2Endpoint::try_peek`] after STOP or with a full
    /// window, kept out of the common path: `Ok` when the peek may go on
    /// (a full window still lets STOP through: it does not count against
    /// it). It returns no message itself: a cold call returning one would
    /// make the compiler pass every handle through memory on the hot path.
    #[cold]
    #[inline(never)]
    fn check_unusual_peek(&mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop {
            if let Err(e) = self.input.refresh(&self.region) {
                return Err(self.poison.from_ring(&self.region, Operation::Peek, e));
            }
            if self.input.observed() > stop.index + 1 {
                let next = stop.index + 2;
                return Err(self.poison.enter(
                    &self.region,
                    ErrorKind::InvalidDescriptor,
                    Operation::Peek,
                    format_args!("descriptor published after STOP (seq {next})"),
                ));
            }
            return Err(Error::NoProgress);
        }
        let inflight = self.input.acquired() - self.input.released();
        if self.max_inflight == 1 && inflight == 1 {
            return Err(self.ownership(
                Operation::Peek,
                format_args!("peek again before release with window 1"),
            ));
        }
        Ok(())
    }

    /// Acquires the next input into the window (or as STOP); with
    /// `window_full` only STOP is taken.
    #[inline(always)]
    fn acquire_next(&mut self, window_full: bool) -> Result<Message, Error> {
        let acquired = match self.input.try_acquire_if(&self.region, |slot| {
            !window_full || slot.opcode == L3L2Q_OPCODE_STOP
        }) {
            Ok(Some(a)) => a,
            Ok(None) => return Err(Error::NoProgress),
            Err(e) => return Err(self.poison.from_ring(&self.region, Operation::Peek, e)),
        };
        if acquired.slot.opcode == L3L2Q_OPCODE_STOP {
            self.stop = Some(StopState {
                index: acquired.index,
                released: false,
            });
        } else {
            self.window.record(&acquired);
        }
        Ok(acquired.message())
    }

    /// Acquires the next input, waiting up to `timeout_ns` (spinning).
    ///
    /// # Errors
    /// As [`L2Endpoint::try_peek`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`] (the L3 abort flag, sampled at timeout; a
    /// remote abort is recorded and every later call fails fast with it).
    pub fn peek(&mut self, timeout_ns: u64) -> Result<Message, Error> {
        let result = wait::until(WaitPolicy::Spin, timeout_ns, || self.try_peek());
        self.poison.on_wait_result(&self.region, result)
    }

    /// Copies a held input's payload into `dst`, for region backends
    /// without a zero-copy view; returns the byte count.
    ///
    /// # Errors
    /// [`Error::BadArgument`] for a message this endpoint does not hold;
    /// [`Error::BufferTooSmall`], [`Error::CallbackFailed`], or
    /// [`Error::Poisoned`].
    pub fn copy_payload(&self, message: &Message, dst: &mut [u8]) -> Result<usize, Error> {
        self.poison.check()?;
        if !self.holds(message) {
            return Err(Error::BadArgument);
        }
        let n = usize::try_from(message.payload_nbytes).map_err(|_| Error::BufferTooSmall)?;
        let dst = dst.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        self.region
            .read_payload(message.payload_offset, dst)
            .map_err(|_| Error::CallbackFailed)?;
        Ok(n)
    }

    /// Whether `message` is held by this endpoint: acquired, not released,
    /// unaltered.
    #[inline]
    pub fn holds(&self, message: &Message) -> bool {
        if message.opcode == L3L2Q_OPCODE_STOP {
            return self.stop.is_some_and(|s| s.held_as(message));
        }
        let index = message.seq.wrapping_sub(1);
        if index < self.input.released() || index >= self.data_end() {
            return false;
        }
        let entry = self.window.entry(index);
        !entry.completed(index) && entry.named_by(message)
    }

    /// Marks an input complete. The shared head advances over the completed
    /// FIFO prefix only, and STOP is released physically after every
    /// earlier input.
    ///
    /// # Errors
    /// [`Error::Poisoned`] for an unknown, stale, altered or already
    /// released handle, or when the head store fails.
    #[inline(always)]
    pub fn release(&mut self, message: &Message) -> Result<(), Error> {
        self.poison.check()?;
        if !self.release_oldest(message) {
            self.mark_complete_fields(
                message.seq,
                message.opcode,
                message.payload_offset,
                message.payload_nbytes,
                message.data,
            )?;
        }
        self.release_completed_prefix()
    }

    /// Acquires up to `out.len()` inputs without waiting, in order, into
    /// `out[..n]`, and returns `n`. Each is a handle exactly as
    /// [`L2Endpoint::try_peek`] returns it and counts against the window;
    /// the batch ends early when the window is full, nothing more is
    /// published, or after STOP (which is then the last element).
    ///
    /// # Errors
    /// Only when nothing was acquired: as [`L2Endpoint::try_peek`]
    /// ([`Error::NoProgress`] also for an empty `out`). A failure after
    /// some inputs were acquired ends the batch; unless it poisoned the
    /// endpoint it recurs on the next call.
    pub fn try_peek_batch(&mut self, out: &mut [Message]) -> Result<usize, Error> {
        // Fail fast when poisoned even for an empty `out` (SPEC section 9).
        self.poison.check()?;
        let Some(first) = out.first_mut() else {
            return Err(Error::NoProgress);
        };
        // Unusual states (STOP taken, window full) go through every rule of try_peek.
        let inflight = self.input.acquired() - self.input.released();
        if self.stop.is_some() || inflight >= self.max_inflight {
            *first = self.try_peek()?;
            return Ok(1);
        }
        // Within the window's room, as many as are published, in one pass;
        // STOP ends the batch (it is acquired as the last element).
        let room = usize::try_from(self.max_inflight - inflight).unwrap_or(usize::MAX);
        let (window, region) = (&mut self.window, &self.region);
        let mut stop = None;
        let mut filled = 0;
        let (n, result) = self
            .input
            .try_acquire_batch(region, out.len().min(room), |acquired| {
                out[filled] = acquired.message();
                filled += 1;
                if acquired.slot.opcode == L3L2Q_OPCODE_STOP {
                    stop = Some(StopState {
                        index: acquired.index,
                        released: false,
                    });
                    return false;
                }
                window.record(acquired);
                true
            });
        if stop.is_some() {
            self.stop = stop;
        }
        self.batch_outcome(n, result)
    }

    /// What a batch of `n` inputs that ended with `result` reports: the
    /// count; no-progress for an empty batch; a failure only when nothing
    /// was taken or it poisoned (otherwise it ends the batch and recurs on
    /// the next call).
    fn batch_outcome(
        &mut self,
        n: usize,
        result: Result<(), crate::ring::RingError>,
    ) -> Result<usize, Error> {
        match result {
            Err(e) => {
                let error = self.poison.from_ring(&self.region, Operation::Peek, e);
                if n == 0 || self.poison.check().is_err() {
                    Err(error)
                } else {
                    Ok(n)
                }
            }
            Ok(()) if n == 0 => Err(Error::NoProgress),
            Ok(()) => Ok(n),
        }
    }

    /// Marks every message in `messages` complete, as
    /// [`L2Endpoint::release`] does one, then advances the shared head over
    /// the completed FIFO prefix with a single store.
    ///
    /// # Errors
    /// [`Error::Poisoned`] as for [`L2Endpoint::release`] when any of them
    /// is unknown, stale, altered or released twice (also within the
    /// batch); the endpoint is then poisoned and nothing is stored.
    pub fn release_batch(&mut self, messages: &[Message]) -> Result<(), Error> {
        self.poison.check()?;
        // The in-order run first, counted locally and committed once: no
        // cursor store per message.
        let data_end = self.data_end();
        let (mut count, mut bytes_end) = (self.input.released(), self.input.bytes_head());
        let mut rest = messages;
        while let Some((message, tail)) = rest.split_first() {
            match self.oldest_bytes_end(count, data_end, message) {
                Some(end) => (count, bytes_end) = (count + 1, end),
                None => break,
            }
            rest = tail;
        }
        // Before the rest, so mark_complete sees the run as released (a duplicate in the batch is then a double release).
        self.input.release_to(count, bytes_end);
        for message in rest {
            self.mark_complete(message)?;
        }
        self.release_completed_prefix()
    }

    /// The common case of a release: the handle of the oldest held input,
    /// unaltered. Its bytes are freed at once, with no completion mark to
    /// set and walk later. Returns false, changing nothing, for any other
    /// handle (out of order, STOP, unknown, altered), which then goes
    /// through [`L2Endpoint::mark_complete`] (which sees a handle taken
    /// here as already released). Local only, like `mark_complete`: nothing
    /// is stored until [`L2Endpoint::release_completed_prefix`].
    #[inline(always)]
    fn release_oldest(&mut self, message: &Message) -> bool {
        let oldest = self.input.released();
        match self.oldest_bytes_end(oldest, self.data_end(), message) {
            Some(end) => {
                self.input.release_to(oldest + 1, end);
                true
            }
            None => false,
        }
    }

    /// Whether `message` is the unaltered handle of input `oldest`, when
    /// every input before it counts as released and it is not yet: then
    /// the arena cursor its release frees up to. `data_end` is
    /// [`L2Endpoint::data_end`]. Checks only.
    #[inline(always)]
    fn oldest_bytes_end(&self, oldest: u64, data_end: u64, message: &Message) -> Option<u64> {
        if message.seq != oldest.wrapping_add(1) || oldest >= data_end {
            return None;
        }
        let entry = self.window.entry(oldest);
        if entry.completed(oldest) || !entry.named_by(message) {
            return None;
        }
        Some(entry.bytes_end)
    }

    /// [`L2Endpoint::mark_complete`] for [`L2Endpoint::release`], given
    /// the handle's fields as values: a handle passed by reference would
    /// have to sit in memory, and the compiler then stores every handle
    /// to the stack on the hot path too (as `Consumer::validate_fields`).
    #[cold]
    #[inline(never)]
    fn mark_complete_fields(
        &mut self,
        seq: u64,
        opcode: u64,
        payload_offset: u64,
        payload_nbytes: u64,
        data: *const u8,
    ) -> Result<(), Error> {
        self.mark_complete(&Message {
            seq,
            opcode,
            payload_offset,
            payload_nbytes,
            data,
        })
    }

    /// Validates a held handle and marks it complete, without touching
    /// shared memory.
    fn mark_complete(&mut self, message: &Message) -> Result<(), Error> {
        if message.opcode == L3L2Q_OPCODE_STOP {
            match &mut self.stop {
                Some(stop) if stop.held_as(message) => {
                    stop.released = true;
                }
                _ => {
                    return Err(self.ownership(
                        Operation::Release,
                        format_args!(
                            "release of an unknown or already released STOP (seq {})",
                            message.seq
                        ),
                    ));
                }
            }
        } else {
            let index = message.seq.wrapping_sub(1);
            if index < self.input.released() {
                return Err(self.ownership(
                    Operation::Release,
                    format_args!("handle released twice, or stale (seq {})", message.seq),
                ));
            }
            if index >= self.data_end() {
                return Err(self.ownership(
                    Operation::Release,
                    format_args!("release of an unknown handle (seq {})", message.seq),
                ));
            }
            let entry = *self.window.entry(index);
            if !entry.named_by(message) {
                return Err(self.ownership(
                    Operation::Release,
                    format_args!("release of an altered handle (seq {})", message.seq),
                ));
            }
            if entry.completed(index) {
                return Err(self.ownership(
                    Operation::Release,
                    format_args!("handle released twice (seq {})", message.seq),
                ));
            }
            self.window.entry_mut(index).completed_seq = message.seq;
        }
        Ok(())
    }

    #[inline(always)]
    fn release_completed_prefix(&mut self) -> Result<(), Error> {
        let data_end = self.data_end();
        let mut count = self.input.released();
        let mut bytes_end = self.input.bytes_head();
        while count < data_end {
            let entry = self.window.entry(count);
            if !entry.completed(count) {
                break;
            }
            bytes_end = entry.bytes_end;
            count += 1;
        }
        if let Some(stop) = self.stop {
            if stop.released && count == stop.index {
                count += 1; // STOP is zero-byte: no arena bytes to free
            }
        }
        if count != self.input.released() {
            self.input.release_to(count, bytes_end);
        }
        // Also publishes what release_oldest freed; no store when nothing moved.
        self.input
            .announce(&self.region)
            .map_err(|e| self.poison.from_ring(&self.region, Operation::Release, e))
    }

    /// Takes up to `max` inputs without waiting and hands each, with its
    /// payload in place, to `visit` in order; then releases them all with
    /// one head store, and returns how many there were. The batch ends
    /// after STOP, which is visited (with an empty payload) and released
    /// like the rest, so [`L2Endpoint::drained`] is true afterwards when
    /// nothing else is held.
    ///
    /// This is the leanest way to take inputs that are done with once
    /// visited: no handle outlives the call, so the window does not apply
    /// and there is nothing to release afterwards. The inputs are released
    /// even if `visit` panics. While handles from [`L2Endpoint::try_peek`]
    /// are held (or after STOP), it takes and releases the inputs one at a
    /// time instead, so the FIFO rules hold unchanged: an input visited
    /// behind a held one is freed only when that one is released, counts
    /// against the window until then, and a full window ends the batch.
    ///
    /// # Errors
    /// [`Error::BadArgument`] when the region has no in-place view of the
    /// payload (a callbacks backend; use `try_peek` and `copy_payload`
    /// there), before anything is taken; [`Error::NoProgress`] when
    /// nothing is published (or `max` is 0);
    /// otherwise as [`L2Endpoint::try_peek`] and [`L2Endpoint::release`],
    /// reported only when nothing was visited, unless the endpoint is
    /// poisoned.
    pub fn try_consume(
        &mut self,
        max: usize,
        mut visit: impl FnMut(&Message, &[u8]),
    ) -> Result<usize, Error> {
        self.poison.check()?;
        if !self.input.arena_mapped() {
            return Err(Error::BadArgument);
        }
        if max == 0 {
            return Err(Error::NoProgress);
        }
        if self.stop.is_some() || self.input.acquired() != self.input.released() {
            return self.consume_through_handles(max, visit);
        }
        let (input, stop, region) = (&mut self.input, &mut self.stop, &self.region);
        let (n, result) = input.consume_batch(region, max, |acquired| {
            let is_stop = acquired.slot.opcode == L3L2Q_OPCODE_STOP;
            if is_stop {
                // Recorded before the visit, so an unwinding visitor still leaves STOP known (and released).
                *stop = Some(StopState {
                    index: acquired.index,
                    released: true,
                });
            }
            let message = acquired.message();
            // SAFETY: the message was just acquired and is released only after this call returns; a non-null
            // `data` points at its payload_nbytes bytes inside the mapped payload range.
            let payload = unsafe { message.payload() };
            visit(&message, payload);
            !is_stop
        });
        self.batch_outcome(n, result)
    }

    /// [`L2Endpoint::try_consume`] while handles are held or after STOP:
    /// one `try_peek` and `release` per input.
    #[cold]
    fn consume_through_handles(
        &mut self,
        max: usize,
        mut visit: impl FnMut(&Message, &[u8]),
    ) -> Result<usize, Error> {
        let mut n = 0;
        while n < max {
            // Inputs behind a held one stay in flight until it is released, so they count against the window;
            // a full window takes only STOP, and never trips the window-1 rule of a second try_peek.
            let window_full = self.stop.is_none()
                && self.input.acquired() - self.input.released() >= self.max_inflight;
            let next = if window_full {
                self.acquire_next(true)
            } else {
                self.try_peek()
            };
            let message = match next {
                Ok(message) => message,
                Err(e) if n == 0 || self.poison.check().is_err() => return Err(e),
                Err(_) => break,
            };
            let mut guard = ReleaseOnUnwind {
                endpoint: self,
                message,
                armed: true,
            };
            // SAFETY: the message is held (just acquired) until the release below (or the guard's, on unwind); a
            // non-null `data` points at its payload_nbytes bytes inside the mapped payload range.
            visit(&message, unsafe { message.payload() });
            guard.armed = false;
            drop(guard);
            self.release(&message)?;
            n += 1;
            if message.opcode == L3L2Q_OPCODE_STOP {
                break;
            }
        }
        Ok(n)
    }

    /// True once STOP has been acquired and physically released, which
    /// happens only after every earlier input was released.
    pub fn drained(&self) -> bool {
        self.stop.is_some_and(|s| self.input.released() > s.index)
    }

    /// Reserves `nbytes` in the output arena without waiting.
    ///
    /// # Errors
    /// [`Error::NoProgress`] when the ring or arena is full or `nbytes`
    /// exceeds the arena; [`Error::Poisoned`] for a second active
    /// reservation or a breach seen while refreshing the head.
    pub fn try_reserve(&mut self, nbytes: u64) -> Result<Reservation, Error> {
        self.output
            .try_reserve(&self.region, &mut self.poison, nbytes)
    }

    /// Reserves output space, waiting up to `timeout_ns` (spinning).
    ///
    /// # Errors
    /// As [`L2Endpoint::try_reserve`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`].
    pub fn reserve(&mut self, nbytes: u64, timeout_ns: u64) -> Result<Reservation, Error> {
        let result = wait::until(WaitPolicy::Spin, timeout_ns, || self.try_reserve(nbytes));
        self.poison.on_wait_result(&self.region, result)
    }

    /// Copies bytes into the active reservation at byte `at`, for region
    /// backends without a zero-copy pointer.
    ///
    /// # Errors
    /// [`Error::BadArgument`] when the bytes do not fit the reservation;
    /// [`Error::Poisoned`] (OWNERSHIP) when `reservation` is not the active
    /// one, or when the payload write fails.
    pub fn write_reserved(
        &mut self,
        reservation: &Reservation,
        at: u64,
        src: &[u8],
    ) -> Result<(), Error> {
        self.output
            .write(&self.region, &mut self.poison, reservation, at, src)
    }

    /// Publishes the active reservation as a message of `nbytes` (at most
    /// its capacity) with `opcode` DATA or ERROR. Unused bytes return to
    /// the arena; zero bytes roll the whole reservation back, padding
    /// included, and publish a zero-byte message at offset 0. A
    /// reservation that wrapped to the arena start but whose `nbytes` fit
    /// at the position before the wrap is published there: the bytes are
    /// moved and the padding dropped (SPEC section 7), so a strict consumer
    /// accepts it.
    ///
    /// # Errors
    /// [`Error::BadArgument`] when `nbytes` exceeds the capacity (the
    /// reservation stays active); [`Error::Poisoned`] for an unknown, stale
    /// or altered reservation (OWNERSHIP), STOP or INVALID as the opcode
    /// (INVALID_DESCRIPTOR), or a failed shared write.
    pub fn publish(
        &mut self,
        reservation: &Reservation,
        opcode: Opcode,
        nbytes: u64,
    ) -> Result<(), Error> {
        self.publish_code(reservation, opcode.into(), nbytes, true)
    }

    /// [`L2Endpoint::publish`] (`announce`: store the tail) or
    /// [`L2Endpoint::publish_deferred`] (not), with the opcode as the C API
    /// passes it: a code that is no DATA or ERROR poisons like STOP does.
    pub(crate) fn publish_code(
        &mut self,
        reservation: &Reservation,
        opcode: u64,
        nbytes: u64,
        announce: bool,
    ) -> Result<(), Error> {
        self.output.publish(
            &self.region,
            &mut self.poison,
            reservation,
            opcode,
            nbytes,
            announce,
        )
    }

    /// As [`L2Endpoint::publish`], but without the tail store: the message
    /// becomes visible to L3 at the next [`L2Endpoint::flush`], publish or
    /// send, so a batch of reserve/fill/publish_deferred costs one shared
    /// store. A reserve that finds no room stores the tail itself, so
    /// pending messages can never block their own consumer.
    ///
    /// # Errors
    /// As [`L2Endpoint::publish`].
    pub fn publish_deferred(
        &mut self,
        reservation: &Reservation,
        opcode: Opcode,
        nbytes: u64,
    ) -> Result<(), Error> {
        self.publish_code(reservation, opcode.into(), nbytes, false)
    }

    /// Makes every output published with [`L2Endpoint::publish_deferred`]
    /// visible with one release store of the tail (no store when none is
    /// pending).
    ///
    /// # Errors
    /// [`Error::Poisoned`] when the store fails.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.output.flush(&self.region, &mut self.poison)
    }

    /// Copies each payload into the output arena and publishes them all
    /// with `opcode` and one tail store; returns how many were published
    /// (a prefix of `payloads`, shorter when the ring or arena fills).
    ///
    /// # Errors
    /// Only when nothing was published: as [`L2Endpoint::try_send`]
    /// ([`Error::NoProgress`] also for an empty batch); an invalid opcode
    /// poisons as in [`L2Endpoint::publish`].
    pub fn try_send_batch<'a>(
        &mut self,
        opcode: Opcode,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<usize, Error> {
        self.try_send_batch_code(opcode.into(), payloads)
    }

    /// [`L2Endpoint::try_send_batch`] with the opcode as the C API passes
    /// it.
    pub(crate) fn try_send_batch_code<'a>(
        &mut self,
        opcode: u64,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<usize, Error> {
        // Fail fast when poisoned even for an empty batch (SPEC section 9).
        self.poison.check()?;
        match self.output.try_send_batch(
            &self.region,
            &mut self.poison,
            opcode,
            payloads,
            |_| Ok(()),
        )? {
            0 => Err(Error::NoProgress),
            n => Ok(n),
        }
    }

    /// Reserves, copies `payload` and publishes it in one call.
    ///
    /// # Errors
    /// As [`L2Endpoint::try_reserve`] and [`L2Endpoint::publish`].
    pub fn try_send(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        self.output
            .try_send(&self.region, &mut self.poison, opcode.into(), payload, true)
    }

    /// As [`L2Endpoint::try_send`], waiting up to `timeout_ns` (spinning).
    ///
    /// # Errors
    /// As [`L2Endpoint::try_send`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`].
    pub fn send(&mut self, opcode: Opcode, payload: &[u8], timeout_ns: u64) -> Result<(), Error> {
        let result = wait::until(WaitPolicy::Spin, timeout_ns, || {
            self.try_send(opcode, payload)
        });
        self.poison.on_wait_result(&self.region, result)
    }
}

impl L2Endpoint<MappedRegion> {
    /// The payload of a held input, in place; empty for a message this
    /// endpoint does not hold. The bytes are found from the handle's
    /// offset and length as validated at acquisition (its `data` field is
    /// not consulted). The borrow of `self` keeps the slice from outliving
    /// the release, which needs `&mut self`.
    #[inline]
    pub fn payload(&self, message: &Message) -> &[u8] {
        if !self.holds(message) {
            return &[];
        }
        // SAFETY: a held handle carries exactly the offset and length of an input slot the consumer validated and
        // has not released (`holds` compares them with the window entry recorded at acquisition); the borrow of
        // `self` ends before any release.
        unsafe {
            self.input
                .payload_in_place(message.payload_offset, message.payload_nbytes)
        }
    }

    /// The in-place bytes of the active output reservation, to fill before
    /// publishing; empty for any other reservation.
    #[inline]
    pub fn reserved_mut(&mut self, reservation: &Reservation) -> &mut [u8] {
        if !self.output.is_active(reservation) {
            return &mut [];
        }
        match self
            .region
            .payload_ptr(reservation.payload_offset, reservation.capacity)
        {
            // SAFETY: the range lies inside the mapped payload and was reserved for this side only (the
            // consumer cannot see it before publish); the &mut borrow of self prevents publishing meanwhile.
            Some(p) if reservation.capacity != 0 && p.as_ptr() == reservation.data => unsafe {
                core::slice::from_raw_parts_mut(p.as_ptr(), reservation.capacity as usize)
            },
            _ => &mut [],
        }
    }
}

/// Releases the input [`L2Endpoint::try_consume`] is visiting through a
/// handle if the visitor unwinds, so no input is left acquired without a
/// handle anyone could release (which would hold back the head for good).
struct ReleaseOnUnwind<'a, R: Region> {
    endpoint: &'a mut L2Endpoint<R>,
    message: Message,
    armed: bool,
}

impl<R: Region> Drop for ReleaseOnUnwind<'_, R> {
    fn drop(&mut self) {
        if self.armed {
            // Unwinding: nobody to report a failure to; a failed release poisons the endpoint, which is reported next call.
            let _ = self.endpoint.release(&self.message);
        }
    }
}
