//! The protocol core: one direction of the queue is a descriptor ring plus
//! a payload arena, with a producer half and a consumer half. Both ends of
//! the queue are composed from these two halves (L2 = input consumer +
//! output producer; L3 = input producer + output consumer).

pub mod arena;
pub mod consumer;
pub mod producer;
pub mod sender;

pub use consumer::{Acquired, Consumer};
pub use producer::{Placement, Producer};
pub use sender::{Reservation, Sender};

use crate::abi::*;
use crate::error::ErrorKind;
use crate::region::{Fault, Region};

/// An acquired message as handed to the application: which message it is
/// and where its payload sits. Plain data: it names the message, it does not
/// own it. The payload stays valid and unchanged until the message is
/// released; pass the value back unaltered to release it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// Transport sequence number (message number + 1).
    pub seq: u64,
    /// `L3L2Q_OPCODE_DATA`, `_ERROR` or (L2 input only) `_STOP`.
    pub opcode: u64,
    /// Payload offset relative to the payload base (0 when empty).
    pub payload_offset: u64,
    /// Payload length in bytes.
    pub payload_nbytes: u64,
    /// The payload in place (zero-copy); null when empty or when the
    /// region is not directly mapped.
    pub data: *const u8,
}

impl Default for Message {
    /// [`Message::EMPTY`], to fill arrays for the batch peeks.
    fn default() -> Message {
        Message::EMPTY
    }
}

impl Message {
    /// A value naming no message (seq 0, INVALID opcode), to initialise
    /// buffers that a batch peek fills.
    pub const EMPTY: Message = Message {
        seq: 0,
        opcode: L3L2Q_OPCODE_INVALID,
        payload_offset: 0,
        payload_nbytes: 0,
        data: core::ptr::null(),
    };

    /// The opcode, typed: messages this library hands out carry
    /// [`Opcode::Data`], [`Opcode::Error`] or (L2 input only)
    /// [`Opcode::Stop`]; a code naming no opcode (a value built by hand)
    /// reads as [`Opcode::Invalid`].
    pub fn opcode(&self) -> Opcode {
        Opcode::try_from(self.opcode).unwrap_or(Opcode::Invalid)
    }

    /// The handle of the message a validated `slot` describes, its
    /// payload at `data` (null when empty or not mapped).
    #[inline(always)]
    pub(crate) fn from_slot(slot: &DescriptorSlot, data: *const u8) -> Message {
        Message {
            seq: slot.seq,
            opcode: slot.opcode,
            payload_offset: slot.payload_offset,
            payload_nbytes: slot.payload_nbytes,
            data,
        }
    }

    /// Whether this is the message `slot` describes (all wire fields equal).
    pub(crate) fn names(&self, slot: &DescriptorSlot) -> bool {
        self.seq == slot.seq
            && self.opcode == slot.opcode
            && self.payload_offset == slot.payload_offset
            && self.payload_nbytes == slot.payload_nbytes
    }

    /// The payload in place. Empty when the message has no bytes or the
    /// region is not mapped.
    ///
    /// # Safety
    /// The message must be held (acquired, not yet released) from an
    /// endpoint or queue that is still alive, and the returned slice must
    /// not be used after the release.
    pub unsafe fn payload(&self) -> &[u8] {
        if self.data.is_null() {
            return &[];
        }
        // SAFETY: a non-null `data` was produced by a mapped region for exactly payload_nbytes bytes inside the
        // payload range, and the caller guarantees the message is still held so the bytes are ours to read.
        unsafe { core::slice::from_raw_parts(self.data, self.payload_nbytes as usize) }
    }
}

/// Largest start value for the message counts (`initial_count`, a testing
/// aid): counts are monotonic u64 and must never overflow, so a start in
/// the upper half is refused as a bad argument before anything is touched.
pub(crate) const MAX_INITIAL_COUNT: u64 = u64::MAX >> 1;

/// Where one direction lives inside the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direction {
    /// Ring capacity, a power of two.
    pub depth: u64,
    /// Payload offset of slot 0.
    pub ring_offset: u64,
    /// Payload offset of the arena.
    pub arena_offset: u64,
    /// Arena size in bytes.
    pub arena_bytes: u64,
    /// Counter offset of the tail (producer-written).
    pub tail_counter: u64,
    /// Counter offset of the head (consumer-written).
    pub head_counter: u64,
    /// Whether STOP may appear (input ring only).
    pub carries_stop: bool,
}

impl Direction {
    /// The L3 -> L2 direction of a layout.
    pub fn input(layout: &Layout) -> Direction {
        Direction {
            depth: layout.depth,
            ring_offset: layout.input_desc_offset,
            arena_offset: layout.input_arena_offset,
            arena_bytes: layout.input_arena_bytes,
            tail_counter: L3L2Q_INPUT_DESC_TAIL_OFFSET,
            head_counter: L3L2Q_INPUT_DESC_HEAD_OFFSET,
            carries_stop: true,
        }
    }

    /// The L2 -> L3 direction of a layout.
    pub fn output(layout: &Layout) -> Direction {
        Direction {
            depth: layout.depth,
            ring_offset: layout.output_desc_offset,
            arena_offset: layout.output_arena_offset,
            arena_bytes: layout.output_arena_bytes,
            tail_counter: L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
            head_counter: L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
            carries_stop: false,
        }
    }

    /// Payload offset of the slot holding message number `index`.
    #[inline(always)]
    pub fn slot_offset(&self, index: u64) -> u64 {
        // depth <= 2^30 and the layout was validated, so this cannot overflow.
        self.ring_offset + (index & (self.depth - 1)) * L3L2Q_SLOT_BYTES
    }

    /// Converts a payload offset from a slot into an arena-relative one,
    /// checking that `nbytes` at it lie wholly inside the arena.
    pub fn arena_relative(&self, payload_offset: u64, nbytes: u64) -> Option<u64> {
        let relative = payload_offset.checked_sub(self.arena_offset)?;
        crate::region::range_fits(relative, nbytes, self.arena_bytes).then_some(relative)
    }

    /// The arena-relative offset a slot's payload claims: for a zero-byte
    /// message the raw offset (which the arena rule then requires to be 0),
    /// otherwise the offset inside the arena when the whole payload lies in
    /// it; `None` when it does not.
    #[inline]
    pub(crate) fn claimed_arena_offset(
        &self,
        payload_offset: u64,
        payload_nbytes: u64,
    ) -> Option<u64> {
        if payload_nbytes == 0 {
            Some(payload_offset)
        } else {
            self.arena_relative(payload_offset, payload_nbytes)
        }
    }

    #[inline(always)]
    pub(crate) fn read_slot<R: Region + ?Sized>(
        &self,
        region: &R,
        index: u64,
    ) -> Result<DescriptorSlot, RingError> {
        Ok(region.read_slot(self.slot_offset(index))?)
    }
}

/// A rule of the protocol that shared memory broke: the endpoint must poison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breach {
    /// The error kind recorded.
    pub kind: ErrorKind,
    /// What was wrong, for the message.
    pub what: &'static str,
    /// Message number the breach concerns.
    pub index: u64,
    /// The value seen.
    pub seen: u64,
}

impl Breach {
    #[cold]
    pub(crate) fn new(kind: ErrorKind, what: &'static str, index: u64, seen: u64) -> Breach {
        Breach {
            kind,
            what,
            index,
            seen,
        }
    }
}

/// Why a core operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingError {
    /// The region refused an access.
    Memory(Fault),
    /// The peer broke the protocol.
    Breach(Breach),
}

impl From<Fault> for RingError {
    fn from(fault: Fault) -> Self {
        RingError::Memory(fault)
    }
}

impl From<Breach> for RingError {
    fn from(breach: Breach) -> Self {
        RingError::Breach(breach)
    }
}
