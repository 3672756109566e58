//! The L3 (host-side) queue: input producer, output consumer, STOP and
//! lifecycle (SPEC sections 6-9), over a mapped or a callback region.

use core::fmt;

use crate::abi::*;
use crate::error::{Error, ErrorInfo, ErrorKind, Operation, Poison};
use crate::layout::Violation;
use crate::region::Region;
use crate::ring::{Consumer, Direction, Message, Producer, Reservation, Sender};
use crate::wait::{self, WaitPolicy};

/// Most outputs an L3 queue holds at once (acquired by
/// [`L3Queue::try_peek_batch`], not yet released); `min(depth, this)`.
pub const L3L2Q_L3_MAX_HELD: u64 = 256;

#[derive(Debug, Clone, Copy, Default)]
struct ActiveOutput {
    /// The slot as copied once and validated; the payload pointer handed
    /// out is derived from it on each peek, so the queue holds no raw
    /// pointer (and stays `Send`).
    slot: DescriptorSlot,
    index: u64,
    bytes_end: u64,
}

/// The shape of a queue: what [`L3Queue::create`] lays out and the L2 side
/// receives in the queue arguments (SPEC section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Ring capacity per direction: a power of two, at most
    /// [`L3L2Q_DEPTH_MAX`].
    pub depth: u64,
    /// Bytes of the input (L3 -> L2) payload arena, a multiple of
    /// [`L3L2Q_ARENA_ALIGN`].
    pub input_arena_bytes: u64,
    /// Bytes of the output (L2 -> L3) payload arena, a multiple of
    /// [`L3L2Q_ARENA_ALIGN`].
    pub output_arena_bytes: u64,
}

/// The host-side end of a queue.
pub struct L3Queue<R: Region> {
    region: R,
    layout: Layout,
    descriptor: RegionDescriptor,
    input: Sender,
    output: Consumer,
    stopped: bool,
    /// Outputs acquired and not yet released, oldest first: message `i`
    /// at `i & (len - 1)`; the length is a power of two.
    held: Box<[ActiveOutput]>,
    poison: Poison,
}

impl<R: Region> fmt::Debug for L3Queue<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("L3Queue")
            .field("layout", &self.layout)
            .field("descriptor", &self.descriptor)
            .field("input", &self.input)
            .field("output", &self.output)
            .field("stopped", &self.stopped)
            .field("poison", &self.poison.record())
            .finish()
    }
}

const COUNTERS: [u64; 6] = [
    L3L2Q_INPUT_DESC_TAIL_OFFSET,
    L3L2Q_INPUT_DESC_HEAD_OFFSET,
    L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
    L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
    L3L2Q_L3_ABORT_FLAG_OFFSET,
    L3L2Q_L2_ABORT_FLAG_OFFSET,
];

impl<R: Region> L3Queue<R> {
    /// Creates a queue over `region`, which `descriptor` describes as the L2
    /// side will see it (device addresses for a callback region). Validates
    /// everything, computes the layout, checks the region is large enough
    /// and zeroes the six counters. A failure leaves no queue behind.
    ///
    /// # Errors
    /// [`Error::BadDescriptor`] with the violated rule (including
    /// [`Violation::RegionTooSmall`]), or [`Error::CallbackFailed`] when a
    /// counter could not be zeroed.
    pub fn create(
        region: R,
        descriptor: &RegionDescriptor,
        config: QueueConfig,
    ) -> Result<Self, Error> {
        Self::create_at(region, descriptor, config, 0)
    }

    /// As [`L3Queue::create`], with every ring counter starting at
    /// `initial_count` instead of 0 (tests use it to cross 2^31 and 2^32;
    /// the L2 side must be created with the same value).
    ///
    /// # Errors
    /// As [`L3Queue::create`], plus [`Error::BadArgument`] for an
    /// `initial_count` above `u64::MAX / 2` (the counts could overflow).
    pub fn create_at(
        region: R,
        descriptor: &RegionDescriptor,
        config: QueueConfig,
        initial_count: u64,
    ) -> Result<Self, Error> {
        let QueueConfig {
            depth,
            input_arena_bytes,
            output_arena_bytes,
        } = config;
        if initial_count > crate::ring::MAX_INITIAL_COUNT {
            return Err(Error::BadArgument);
        }
        descriptor.validate().map_err(Error::BadDescriptor)?;
        let layout = Layout::compute(depth, input_arena_bytes, output_arena_bytes)
            .map_err(Error::BadDescriptor)?;
        if descriptor.payload_bytes < layout.payload_bytes
            || descriptor.counter_bytes < layout.counter_bytes
        {
            return Err(Error::BadDescriptor(Violation::RegionTooSmall));
        }
        for offset in COUNTERS {
            let value = if offset >= L3L2Q_L3_ABORT_FLAG_OFFSET {
                0
            } else {
                initial_count as u32
            };
            region
                .store_counter(offset, value)
                .map_err(|_| Error::CallbackFailed)?;
        }
        let exact = RegionDescriptor {
            payload_bytes: layout.payload_bytes,
            counter_bytes: layout.counter_bytes,
            ..*descriptor
        };
        Ok(L3Queue {
            output: Consumer::new(Direction::output(&layout), initial_count, &region),
            region,
            layout,
            descriptor: exact,
            input: Sender::new(Producer::new(Direction::input(&layout), initial_count)),
            stopped: false,
            held: vec![ActiveOutput::default(); depth.min(L3L2Q_L3_MAX_HELD) as usize]
                .into_boxed_slice(),
            poison: Poison::new(
                descriptor.region_id,
                L3L2Q_L3_ABORT_FLAG_OFFSET,
                L3L2Q_L2_ABORT_FLAG_OFFSET,
            ),
        })
    }

    /// The computed layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The region descriptor to hand to L2 (sizes exactly the layout's).
    pub fn descriptor(&self) -> &RegionDescriptor {
        &self.descriptor
    }

    /// The queue arguments to hand to L2.
    pub fn queue_args(&self) -> QueueArgs {
        self.layout.queue_args()
    }

    /// The twelve scalars an L2 task is started with.
    pub fn task_scalars(&self) -> TaskScalars {
        TaskScalars::encode(&self.descriptor, &self.layout.queue_args())
    }

    /// The recorded error once poisoned.
    pub fn error(&self) -> Option<&ErrorInfo> {
        self.poison.record()
    }

    /// The region this queue works on.
    pub fn region(&self) -> &R {
        &self.region
    }

    /// Whether STOP has been published.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    #[inline(always)]
    fn check_input(&self) -> Result<(), Error> {
        self.poison.check()?;
        if self.stopped {
            Err(Error::Stopped)
        } else {
            Ok(())
        }
    }

    /// Copies `payload` into the input arena and publishes it with `opcode`
    /// DATA or ERROR, without waiting. Zero-byte messages are allowed.
    ///
    /// # Errors
    /// [`Error::NoProgress`] when the ring or arena is full;
    /// [`Error::BadArgument`] for another opcode or a payload larger than
    /// the arena (it could never fit); [`Error::Stopped`] after STOP
    /// (shared memory untouched); [`Error::CallbackFailed`] when reading
    /// the peer's head failed (nothing changed); [`Error::Poisoned`] when a
    /// payload or counter write failed or the peer broke the protocol.
    #[inline(always)]
    pub fn try_send(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        self.try_send_code(opcode.into(), payload)
    }

    /// [`L3Queue::try_send`] with the opcode as the C API passes it: a
    /// code that is no DATA or ERROR is a bad argument like any other.
    #[inline(always)]
    pub(crate) fn try_send_code(&mut self, opcode: u64, payload: &[u8]) -> Result<(), Error> {
        self.check_input()?;
        if (opcode != L3L2Q_OPCODE_DATA && opcode != L3L2Q_OPCODE_ERROR)
            || payload.len() as u64 > self.layout.input_arena_bytes
        {
            return Err(Error::BadArgument);
        }
        // The opcode was refused above unless DATA or ERROR.
        self.input.try_send_opcode::<_, false>(
            &self.region,
            &mut self.poison,
            opcode,
            payload,
            true,
        )
    }

    /// The batch form of [`L3Queue::try_send`]: copies each payload in
    /// and publishes them all with `opcode` and one tail store. Returns
    /// how many were published, a prefix of `payloads` that ends early when
    /// the ring or arena fills (or at a payload larger than the arena).
    ///
    /// # Errors
    /// Only when nothing was published: as [`L3Queue::try_send`]
    /// ([`Error::NoProgress`] also for an empty batch). A failure after
    /// some were published ends the batch and recurs on the next call.
    pub fn try_send_batch<'a>(
        &mut self,
        opcode: Opcode,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<usize, Error> {
        self.try_send_batch_code(opcode.into(), payloads)
    }

    /// [`L3Queue::try_send_batch`] with the opcode as the C API passes it.
    pub(crate) fn try_send_batch_code<'a>(
        &mut self,
        opcode: u64,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<usize, Error> {
        self.check_input()?;
        if opcode != L3L2Q_OPCODE_DATA && opcode != L3L2Q_OPCODE_ERROR {
            return Err(Error::BadArgument);
        }
        let arena = self.layout.input_arena_bytes;
        let accept = |payload: &[u8]| {
            if payload.len() as u64 > arena {
                Err(Error::BadArgument)
            } else {
                Ok(())
            }
        };
        match self
            .input
            .try_send_batch(&self.region, &mut self.poison, opcode, payloads, accept)?
        {
            0 => Err(Error::NoProgress),
            n => Ok(n),
        }
    }

    /// As [`L3Queue::try_send`], waiting up to `timeout_ns` for room.
    ///
    /// # Errors
    /// As [`L3Queue::try_send`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`] (the L2 abort flag, sampled at timeout; a
    /// remote abort is recorded and every later call fails fast with it).
    pub fn send(&mut self, opcode: Opcode, payload: &[u8], timeout_ns: u64) -> Result<(), Error> {
        self.send_code(opcode.into(), payload, timeout_ns)
    }

    /// [`L3Queue::send`] with the opcode as the C API passes it.
    pub(crate) fn send_code(
        &mut self,
        opcode: u64,
        payload: &[u8],
        timeout_ns: u64,
    ) -> Result<(), Error> {
        let result = wait::until(WaitPolicy::Backoff, timeout_ns, || {
            self.try_send_code(opcode, payload)
        });
        self.poison.on_wait_result(&self.region, result)
    }

    /// Publishes STOP, the last input, without waiting. Afterwards the
    /// input side rejects messages with [`Error::Stopped`]; the output side
    /// keeps working.
    ///
    /// # Errors
    /// [`Error::NoProgress`] when the ring is full; [`Error::Stopped`] when
    /// STOP was already published; [`Error::Poisoned`] as for
    /// [`L3Queue::try_send`].
    pub fn try_request_stop(&mut self) -> Result<(), Error> {
        self.check_input()?;
        self.input.try_send_stop(&self.region, &mut self.poison)?;
        self.stopped = true;
        Ok(())
    }

    /// As [`L3Queue::try_request_stop`], waiting up to `timeout_ns`.
    /// Returns once STOP is published; it does not wait for L2.
    ///
    /// # Errors
    /// As [`L3Queue::try_request_stop`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`].
    pub fn request_stop(&mut self, timeout_ns: u64) -> Result<(), Error> {
        let result = wait::until(WaitPolicy::Backoff, timeout_ns, || self.try_request_stop());
        self.poison.on_wait_result(&self.region, result)
    }

    /// Reserves `nbytes` of input arena for zero-copy filling (mapped
    /// regions give a pointer in `data`; otherwise use
    /// [`L3Queue::write_reserved`]). Publish with [`L3Queue::publish`].
    ///
    /// Publishing fewer bytes than reserved returns the rest to the arena.
    /// A reservation that had to wrap to the arena start but is published
    /// with bytes that fit at the position before the wrap is published
    /// there (the publish moves the bytes and drops the padding, SPEC
    /// section 7), so every payload sits where any consumer of the format
    /// expects it. `data` and `payload_offset` say where to fill, not where
    /// the message ends up.
    ///
    /// # Errors
    /// As [`L3Queue::try_send`]; a second active reservation poisons.
    pub fn try_reserve(&mut self, nbytes: u64) -> Result<Reservation, Error> {
        self.check_input()?;
        if nbytes > self.layout.input_arena_bytes {
            return Err(Error::BadArgument);
        }
        self.input
            .try_reserve(&self.region, &mut self.poison, nbytes)
    }

    /// As [`L3Queue::try_reserve`], waiting up to `timeout_ns` for room.
    ///
    /// # Errors
    /// As [`L3Queue::try_reserve`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`].
    pub fn reserve(&mut self, nbytes: u64, timeout_ns: u64) -> Result<Reservation, Error> {
        let result = wait::until(WaitPolicy::Backoff, timeout_ns, || self.try_reserve(nbytes));
        self.poison.on_wait_result(&self.region, result)
    }

    /// Copies bytes into the active input reservation at byte `at`.
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
        self.poison.check()?;
        self.input
            .write(&self.region, &mut self.poison, reservation, at, src)
    }

    /// Publishes the active input reservation with `nbytes <= capacity`
    /// and `opcode` DATA or ERROR.
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

    /// [`L3Queue::publish`] (`announce`: store the tail) or
    /// [`L3Queue::publish_deferred`] (not), with the opcode as the C API
    /// passes it: a code that is no DATA or ERROR poisons like STOP does.
    pub(crate) fn publish_code(
        &mut self,
        reservation: &Reservation,
        opcode: u64,
        nbytes: u64,
        announce: bool,
    ) -> Result<(), Error> {
        self.input.publish(
            &self.region,
            &mut self.poison,
            reservation,
            opcode,
            nbytes,
            announce,
        )
    }

    /// As [`L3Queue::publish`], but without the tail store: the message
    /// becomes visible to L2 at the next [`L3Queue::flush`], publish,
    /// send or STOP, so a batch of reserve/fill/publish_deferred costs one
    /// shared store. A reserve that finds no room stores the tail itself,
    /// so pending messages can never block their own consumer.
    ///
    /// # Errors
    /// As [`L3Queue::publish`].
    pub fn publish_deferred(
        &mut self,
        reservation: &Reservation,
        opcode: Opcode,
        nbytes: u64,
    ) -> Result<(), Error> {
        self.publish_code(reservation, opcode.into(), nbytes, false)
    }

    /// Makes every input published with [`L3Queue::publish_deferred`]
    /// visible with one release store of the tail (none when nothing is
    /// pending). Allowed after STOP (STOP itself stored the tail).
    ///
    /// # Errors
    /// [`Error::Poisoned`] when the store fails.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.input.flush(&self.region, &mut self.poison)
    }

    /// Takes the next output without waiting. Until it is released, every
    /// call returns the same message.
    ///
    /// # Errors
    /// [`Error::NoProgress`] when nothing is published;
    /// [`Error::CallbackFailed`] on a failed read (nothing changed);
    /// [`Error::Poisoned`] on an invalid descriptor or counter.
    #[inline(always)]
    pub fn try_peek(&mut self) -> Result<Message, Error> {
        self.poison.check()?;
        if self.held_count() > 0 {
            let slot = self.held_entry(self.output.released()).slot;
            return Ok(self.output.message(&self.region, &slot));
        }
        self.acquire_one()
    }

    /// Outputs acquired and not released.
    fn held_count(&self) -> u64 {
        self.output.acquired() - self.output.released()
    }

    fn held_entry(&self, index: u64) -> &ActiveOutput {
        &self.held[(index & (self.held.len() as u64 - 1)) as usize]
    }

    /// Acquires the next output into the held set (there must be room).
    /// Inlined, like `try_peek`: a message returned through memory is
    /// copied by the caller with 16-byte loads of the 8-byte stores just
    /// made, which the store buffer cannot forward (the C API's
    /// `l3l2q_l3_try_peek` did so).
    #[inline(always)]
    fn acquire_one(&mut self) -> Result<Message, Error> {
        match self.output.try_acquire(&self.region) {
            Ok(Some(acquired)) => {
                let position = (acquired.index & (self.held.len() as u64 - 1)) as usize;
                self.held[position] = ActiveOutput {
                    slot: acquired.slot,
                    index: acquired.index,
                    bytes_end: acquired.span.end,
                };
                Ok(acquired.message())
            }
            Ok(None) => Err(Error::NoProgress),
            Err(e) => Err(self.poison.from_ring(&self.region, Operation::Peek, e)),
        }
    }

    /// The batch form of [`L3Queue::try_peek`]: writes the held outputs,
    /// oldest first, into `out`, acquiring more until `out` is full, nothing
    /// more is published, or [`L3L2Q_L3_MAX_HELD`] (at most `depth`) are
    /// held; returns how many it wrote. Like `try_peek` it is repeatable:
    /// until they are released, the same messages come back first.
    ///
    /// # Errors
    /// Only when it writes nothing: as [`L3Queue::try_peek`]
    /// ([`Error::NoProgress`] also for an empty `out`). A failure after
    /// some were written ends the batch; unless it poisoned the queue it
    /// recurs on the next call.
    pub fn try_peek_batch(&mut self, out: &mut [Message]) -> Result<usize, Error> {
        self.poison.check()?;
        let mut n = 0;
        let first = self.output.released();
        while n < out.len() && (n as u64) < self.held_count() {
            let slot = self.held_entry(first + n as u64).slot;
            out[n] = self.output.message(&self.region, &slot);
            n += 1;
        }
        while n < out.len() && self.held_count() < self.held.len() as u64 {
            match self.acquire_one() {
                Ok(message) => out[n] = message,
                Err(e) if n == 0 || self.poison.check().is_err() => return Err(e),
                Err(_) => break,
            }
            n += 1;
        }
        if n == 0 {
            Err(Error::NoProgress)
        } else {
            Ok(n)
        }
    }

    /// As [`L3Queue::try_peek`], waiting up to `timeout_ns`.
    ///
    /// # Errors
    /// As [`L3Queue::try_peek`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`].
    pub fn peek(&mut self, timeout_ns: u64) -> Result<Message, Error> {
        let result = wait::until(WaitPolicy::Backoff, timeout_ns, || self.try_peek());
        self.poison.on_wait_result(&self.region, result)
    }

    /// The held output `message` names, unaltered; `expected` requires it
    /// to be that message number (releases go in FIFO order).
    fn check_held(
        &mut self,
        message: &Message,
        expected: Option<u64>,
        operation: Operation,
    ) -> Result<ActiveOutput, Error> {
        let index = message.seq.wrapping_sub(1);
        let in_range = index >= self.output.released()
            && index < self.output.acquired()
            && expected.is_none_or(|e| e == index);
        match *self.held_entry(index) {
            active if in_range && active.index == index && message.names(&active.slot) => {
                Ok(active)
            }
            _ => Err(self.poison.enter(
                &self.region,
                ErrorKind::Ownership,
                operation,
                format_args!("message seq {} is not the active output", message.seq),
            )),
        }
    }

    /// Copies a held message's payload into `dst`; returns its length.
    /// Any held message may be read, in any order.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] (nothing changes, the message stays
    /// active); [`Error::CallbackFailed`] on a failed read;
    /// [`Error::Poisoned`] (OWNERSHIP) when `message` is not held.
    pub fn read_into(&mut self, message: &Message, dst: &mut [u8]) -> Result<usize, Error> {
        self.poison.check()?;
        let active = self.check_held(message, None, Operation::ReadInto)?;
        let n = active.slot.payload_nbytes as usize;
        let dst = dst.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        self.region
            .read_payload(active.slot.payload_offset, dst)
            .map_err(|_| Error::CallbackFailed)?;
        Ok(n)
    }

    /// Releases the active message, returning its slot and bytes to L2.
    ///
    /// # Errors
    /// [`Error::Poisoned`]: OWNERSHIP for anything but the active message,
    /// ENDPOINT_ERROR when the head store fails.
    pub fn release(&mut self, message: &Message) -> Result<(), Error> {
        self.release_batch(core::slice::from_ref(message))
    }

    /// Releases several held messages with one store of the head. They
    /// must be the oldest held ones, in order (outputs are released in
    /// FIFO order).
    ///
    /// # Errors
    /// [`Error::Poisoned`]: OWNERSHIP when any is not the next held message
    /// in order (nothing is released), ENDPOINT_ERROR when the store fails.
    pub fn release_batch(&mut self, messages: &[Message]) -> Result<(), Error> {
        self.poison.check()?;
        let mut end = (self.output.released(), self.output.bytes_head());
        for message in messages {
            let active = self.check_held(message, Some(end.0), Operation::Release)?;
            end = (active.index + 1, active.bytes_end);
        }
        self.output.release_to(end.0, end.1);
        self.output
            .announce(&self.region)
            .map_err(|e| self.poison.from_ring(&self.region, Operation::Release, e))
    }

    /// Peeks, copies into `dst` and releases: returns `(opcode, length)`.
    ///
    /// # Errors
    /// As [`L3Queue::try_peek`] and [`L3Queue::read_into`]; on
    /// [`Error::BufferTooSmall`] the message stays active.
    pub fn try_dequeue_into(&mut self, dst: &mut [u8]) -> Result<(Opcode, usize), Error> {
        let message = self.try_peek()?;
        let n = self.read_into(&message, dst)?;
        self.release(&message)?;
        Ok((message.opcode(), n))
    }

    /// As [`L3Queue::try_dequeue_into`], waiting up to `timeout_ns`.
    ///
    /// # Errors
    /// As [`L3Queue::try_dequeue_into`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`].
    pub fn dequeue_into(
        &mut self,
        dst: &mut [u8],
        timeout_ns: u64,
    ) -> Result<(Opcode, usize), Error> {
        let result = wait::until(WaitPolicy::Backoff, timeout_ns, || {
            self.try_dequeue_into(dst)
        });
        self.poison.on_wait_result(&self.region, result)
    }

    /// Whether the L2 side has set its abort flag, as a pure observation:
    /// nothing is recorded (see [`L3Queue::remote_aborted`]).
    pub fn peer_aborted(&self) -> bool {
        self.poison.peer_aborted(&self.region)
    }

    /// Whether L2 has set its abort flag. Reads the flag and nothing else
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
}
