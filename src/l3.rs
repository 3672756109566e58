//! The L3 (host-side) queue: input producer, output consumer, STOP and
//! lifecycle (SPEC sections 6-9), over a mapped or a callback region.

use core::fmt;

use crate::abi::*;
use crate::error::{Error, ErrorInfo, ErrorKind, Operation, Poison};
use crate::layout::Violation;
use crate::region::Region;
use crate::ring::{Consumer, Direction, Message, Producer, Reservation, Sender};
use crate::wait::{self, WaitPolicy};

#[derive(Debug, Clone, Copy)]
struct ActiveOutput {
    message: Message,
    index: u64,
    bytes_end: u64,
}

/// The host-side end of a queue.
pub struct L3Queue<R: Region> {
    region: R,
    layout: Layout,
    descriptor: RegionDescriptor,
    input: Sender,
    output: Consumer,
    stopped: bool,
    active: Option<ActiveOutput>,
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
    pub fn create(region: R, descriptor: &RegionDescriptor, depth: u64, input_arena_bytes: u64, output_arena_bytes: u64) -> Result<Self, Error> {
        Self::create_at(region, descriptor, depth, input_arena_bytes, output_arena_bytes, 0)
    }

    /// As [`L3Queue::create`], with every ring counter starting at
    /// `initial_count` instead of 0 (tests use it to cross 2^31 and 2^32;
    /// the L2 side must be created with the same value).
    ///
    /// # Errors
    /// As [`L3Queue::create`].
    pub fn create_at(region: R, descriptor: &RegionDescriptor, depth: u64, input_arena_bytes: u64, output_arena_bytes: u64, initial_count: u64) -> Result<Self, Error> {
        descriptor.validate().map_err(Error::BadDescriptor)?;
        let layout = Layout::compute(depth, input_arena_bytes, output_arena_bytes).map_err(Error::BadDescriptor)?;
        if descriptor.payload_bytes < layout.payload_bytes || descriptor.counter_bytes < layout.counter_bytes {
            return Err(Error::BadDescriptor(Violation::RegionTooSmall));
        }
        for offset in COUNTERS {
            let value = if offset >= L3L2Q_L3_ABORT_FLAG_OFFSET { 0 } else { initial_count as u32 };
            region.store_counter(offset, value).map_err(|_| Error::CallbackFailed)?;
        }
        let exact = RegionDescriptor { payload_bytes: layout.payload_bytes, counter_bytes: layout.counter_bytes, ..*descriptor };
        Ok(L3Queue {
            region,
            layout,
            descriptor: exact,
            input: Sender::new(Producer::new(Direction::input(&layout), initial_count)),
            output: Consumer::new(Direction::output(&layout), initial_count),
            stopped: false,
            active: None,
            poison: Poison::new(descriptor.region_id, L3L2Q_L3_ABORT_FLAG_OFFSET, L3L2Q_L2_ABORT_FLAG_OFFSET),
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

    fn check_input(&self) -> Result<(), Error> {
        self.poison.check()?;
        if self.stopped { Err(Error::Stopped) } else { Ok(()) }
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
    pub fn try_enqueue(&mut self, opcode: u64, payload: &[u8]) -> Result<(), Error> {
        self.check_input()?;
        if (opcode != L3L2Q_OPCODE_DATA && opcode != L3L2Q_OPCODE_ERROR) || payload.len() as u64 > self.layout.input_arena_bytes {
            return Err(Error::BadArgument);
        }
        self.input.try_send(&self.region, &mut self.poison, opcode, payload, true)
    }

    /// As [`L3Queue::try_enqueue`], waiting up to `timeout_ns` for room.
    ///
    /// # Errors
    /// As [`L3Queue::try_enqueue`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`] (the L2 abort flag, sampled at timeout).
    pub fn enqueue(&mut self, opcode: u64, payload: &[u8], timeout_ns: u64) -> Result<(), Error> {
        let result = wait::until(WaitPolicy::Backoff, timeout_ns, || self.try_enqueue(opcode, payload));
        self.poison.on_wait_result(&self.region, result)
    }

    /// Publishes STOP, the last input, without waiting. Afterwards the
    /// input side rejects messages with [`Error::Stopped`]; the output side
    /// keeps working.
    ///
    /// # Errors
    /// [`Error::NoProgress`] when the ring is full; [`Error::Stopped`] when
    /// STOP was already published; [`Error::Poisoned`] as for enqueue.
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
    /// [`L3Queue::write_reserved`]). Commit with [`L3Queue::commit`].
    ///
    /// Committing fewer bytes than reserved returns the rest to the arena.
    /// A reservation that had to wrap to the arena start stays there even
    /// when shrunk below the size that forced the wrap: consumers built on
    /// this library accept that, but a strict consumer of another
    /// implementation that requires the payload at the exact next position
    /// unless it cannot fit may reject it. Reserve the size you will use
    /// when talking to such a peer.
    ///
    /// # Errors
    /// As [`L3Queue::try_enqueue`]; a second active reservation poisons.
    pub fn try_reserve(&mut self, nbytes: u64) -> Result<Reservation, Error> {
        self.check_input()?;
        if nbytes > self.layout.input_arena_bytes {
            return Err(Error::BadArgument);
        }
        self.input.try_reserve(&self.region, &mut self.poison, nbytes)
    }

    /// Copies bytes into the active input reservation at byte `at`.
    ///
    /// # Errors
    /// As [`Sender::write`].
    pub fn write_reserved(&mut self, reservation: &Reservation, at: u64, src: &[u8]) -> Result<(), Error> {
        self.poison.check()?;
        self.input.write(&self.region, &mut self.poison, reservation, at, src)
    }

    /// Publishes the active input reservation with `nbytes <= capacity`.
    ///
    /// # Errors
    /// As [`Sender::publish`].
    pub fn commit(&mut self, reservation: &Reservation, opcode: u64, nbytes: u64) -> Result<(), Error> {
        self.input.publish(&self.region, &mut self.poison, reservation, opcode, nbytes, true)
    }

    /// Takes the next output without waiting. Until it is released, every
    /// call returns the same message.
    ///
    /// # Errors
    /// [`Error::NoProgress`] when nothing is published;
    /// [`Error::CallbackFailed`] on a failed read (nothing changed);
    /// [`Error::Poisoned`] on an invalid descriptor or counter.
    pub fn try_peek(&mut self) -> Result<Message, Error> {
        self.poison.check()?;
        if let Some(active) = self.active {
            return Ok(active.message);
        }
        match self.output.try_acquire(&self.region) {
            Ok(Some(acquired)) => {
                let message = Message::of(&self.region, &acquired.slot);
                self.active = Some(ActiveOutput { message, index: acquired.index, bytes_end: acquired.span.end });
                Ok(message)
            }
            Ok(None) => Err(Error::NoProgress),
            Err(e) => Err(self.poison.from_ring(&self.region, Operation::Peek, e)),
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

    fn check_active(&mut self, message: &Message, operation: Operation) -> Result<ActiveOutput, Error> {
        match self.active {
            Some(active) if active.message == *message => Ok(active),
            _ => Err(self.poison.enter(&self.region, ErrorKind::Ownership, operation, format_args!("message seq {} is not the active output", message.seq))),
        }
    }

    /// Copies the active message's payload into `dst`; returns its length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] (nothing changes, the message stays
    /// active); [`Error::CallbackFailed`] on a failed read;
    /// [`Error::Poisoned`] (OWNERSHIP) when `message` is not the active one.
    pub fn read_into(&mut self, message: &Message, dst: &mut [u8]) -> Result<usize, Error> {
        self.poison.check()?;
        let active = self.check_active(message, Operation::ReadInto)?;
        let n = active.message.payload_nbytes as usize;
        let dst = dst.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        self.region.read_payload(active.message.payload_offset, dst).map_err(|_| Error::CallbackFailed)?;
        Ok(n)
    }

    /// Releases the active message, returning its slot and bytes to L2.
    ///
    /// # Errors
    /// [`Error::Poisoned`]: OWNERSHIP for anything but the active message,
    /// ENDPOINT_ERROR when the head store fails.
    pub fn release(&mut self, message: &Message) -> Result<(), Error> {
        self.poison.check()?;
        let active = self.check_active(message, Operation::Release)?;
        self.active = None;
        self.output.release_to(active.index + 1, active.bytes_end);
        self.output.announce(&self.region).map_err(|e| self.poison.from_ring(&self.region, Operation::Release, e))
    }

    /// Peeks, copies into `dst` and releases: returns `(opcode, length)`.
    ///
    /// # Errors
    /// As [`L3Queue::try_peek`] and [`L3Queue::read_into`]; on
    /// [`Error::BufferTooSmall`] the message stays active.
    pub fn try_dequeue_into(&mut self, dst: &mut [u8]) -> Result<(u64, usize), Error> {
        let message = self.try_peek()?;
        let n = self.read_into(&message, dst)?;
        self.release(&message)?;
        Ok((message.opcode, n))
    }

    /// As [`L3Queue::try_dequeue_into`], waiting up to `timeout_ns`.
    ///
    /// # Errors
    /// As [`L3Queue::try_dequeue_into`], plus [`Error::Timeout`] or
    /// [`Error::RemoteAborted`].
    pub fn dequeue_into(&mut self, dst: &mut [u8], timeout_ns: u64) -> Result<(u64, usize), Error> {
        let result = wait::until(WaitPolicy::Backoff, timeout_ns, || self.try_dequeue_into(dst));
        self.poison.on_wait_result(&self.region, result)
    }

    /// Whether the L2 side has set its abort flag.
    pub fn peer_aborted(&self) -> bool {
        self.poison.peer_aborted(&self.region)
    }
}
