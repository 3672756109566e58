//! Wire types and constants of SPEC sections 1-5.
//!
//! Everything here is `#[repr(C)]` and mirrored byte for byte in the
//! generated C header. The compile-time assertions at the bottom pin every
//! size and offset to the specification so a careless edit fails the build
//! rather than the interoperability tests.

use memoffset::offset_of;
use static_assertions::const_assert_eq;

/// Magic of the region descriptor ("L3L2").
pub const L3L2Q_REGION_MAGIC: u32 = 0x4C334C32;
/// Region descriptor ABI major this library writes.
pub const L3L2Q_REGION_ABI_MAJOR: u16 = 2;
/// Region descriptor ABI minor this library writes (readers ignore it).
pub const L3L2Q_REGION_ABI_MINOR: u16 = 0;
/// A later region ABI major with the identical six-field layout; accepted.
pub const L3L2Q_REGION_ABI_MAJOR_COMPAT: u16 = 3;
/// Magic of the queue arguments ("L3Q2").
pub const L3L2Q_QUEUE_MAGIC: u32 = 0x4C335132;
/// Queue ABI major; L2 requires exact equality of the packed word.
pub const L3L2Q_QUEUE_ABI_MAJOR: u16 = 1;
/// Queue ABI minor; L2 requires exact equality of the packed word.
pub const L3L2Q_QUEUE_ABI_MINOR: u16 = 1;

/// Number of u64 fields of a region descriptor.
pub const L3L2Q_REGION_DESCRIPTOR_FIELDS: usize = 6;
/// Number of u64 fields of the queue arguments.
pub const L3L2Q_QUEUE_ARGS_FIELDS: usize = 6;
/// Number of u64 scalars handed to the L2 task: descriptor, then args.
pub const L3L2Q_TASK_SCALARS: usize = 12;

/// Bytes of one descriptor slot.
pub const L3L2Q_SLOT_BYTES: u64 = 32;
/// Largest ring depth (messages per direction).
pub const L3L2Q_DEPTH_MAX: u64 = 1 << 30;
/// Alignment of each arena inside the payload range, and of arena sizes.
pub const L3L2Q_ARENA_ALIGN: u64 = 64;
/// Required alignment of `counter_base`.
pub const L3L2Q_COUNTER_ALIGN: u64 = 64;
/// Distance between two counters: one 64-byte line per writer.
pub const L3L2Q_COUNTER_STRIDE: u64 = 64;
/// Size of the counter range the layout calls for.
pub const L3L2Q_COUNTER_BYTES: u64 = 384;

/// Offset of `input_desc_tail` (written by L3).
pub const L3L2Q_INPUT_DESC_TAIL_OFFSET: u64 = 0;
/// Offset of `input_desc_head` (written by L2).
pub const L3L2Q_INPUT_DESC_HEAD_OFFSET: u64 = 64;
/// Offset of `output_desc_tail` (written by L2).
pub const L3L2Q_OUTPUT_DESC_TAIL_OFFSET: u64 = 128;
/// Offset of `output_desc_head` (written by L3).
pub const L3L2Q_OUTPUT_DESC_HEAD_OFFSET: u64 = 192;
/// Offset of `l3_abort_flag` (written by L3).
pub const L3L2Q_L3_ABORT_FLAG_OFFSET: u64 = 256;
/// Offset of `l2_abort_flag` (written by L2).
pub const L3L2Q_L2_ABORT_FLAG_OFFSET: u64 = 320;

/// Opcode of an unused or corrupt slot; never valid on the wire.
pub const L3L2Q_OPCODE_INVALID: u64 = 0;
/// An ordinary message.
pub const L3L2Q_OPCODE_DATA: u64 = 1;
/// The last input: zero-byte, input ring only.
pub const L3L2Q_OPCODE_STOP: u64 = 2;
/// An ordinary message whose payload carries an application error.
pub const L3L2Q_OPCODE_ERROR: u64 = 3;

/// The opcode of a message (SPEC section 4), as the Rust API passes it.
/// On the wire, and in the C API, it is the `u64` of the matching
/// `L3L2Q_OPCODE_*` constant; a code read from C or from shared memory is
/// converted with [`TryFrom<u64>`], never reinterpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// An unused or corrupt slot ([`L3L2Q_OPCODE_INVALID`]); never valid
    /// on the wire.
    Invalid,
    /// An ordinary message ([`L3L2Q_OPCODE_DATA`]).
    Data,
    /// The last input ([`L3L2Q_OPCODE_STOP`]): zero-byte, input ring only.
    Stop,
    /// An ordinary message whose payload carries an application error
    /// ([`L3L2Q_OPCODE_ERROR`]).
    Error,
}

impl From<Opcode> for u64 {
    fn from(opcode: Opcode) -> u64 {
        match opcode {
            Opcode::Invalid => L3L2Q_OPCODE_INVALID,
            Opcode::Data => L3L2Q_OPCODE_DATA,
            Opcode::Stop => L3L2Q_OPCODE_STOP,
            Opcode::Error => L3L2Q_OPCODE_ERROR,
        }
    }
}

impl TryFrom<u64> for Opcode {
    /// The code, which names no opcode.
    type Error = u64;

    fn try_from(code: u64) -> Result<Opcode, u64> {
        match code {
            L3L2Q_OPCODE_INVALID => Ok(Opcode::Invalid),
            L3L2Q_OPCODE_DATA => Ok(Opcode::Data),
            L3L2Q_OPCODE_STOP => Ok(Opcode::Stop),
            L3L2Q_OPCODE_ERROR => Ok(Opcode::Error),
            other => Err(other),
        }
    }
}

/// Compares with a wire code such as [`DescriptorSlot::opcode`].
impl PartialEq<u64> for Opcode {
    fn eq(&self, code: &u64) -> bool {
        u64::from(*self) == *code
    }
}

/// Compares a wire code such as [`DescriptorSlot::opcode`] with an opcode.
impl PartialEq<Opcode> for u64 {
    fn eq(&self, opcode: &Opcode) -> bool {
        *self == u64::from(*opcode)
    }
}

/// Region descriptor (SPEC section 1): where the payload and counter
/// ranges are, as seen from the process holding the descriptor.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionDescriptor {
    /// `(magic << 32) | (major << 16) | minor`.
    pub magic_version: u64,
    /// Non-zero identifier carried into every error.
    pub region_id: u64,
    /// Address of the payload range (no alignment rule).
    pub payload_base: u64,
    /// Length of the payload range.
    pub payload_bytes: u64,
    /// Address of the counter range, 64-byte aligned.
    pub counter_base: u64,
    /// Length of the counter range, a multiple of 4.
    pub counter_bytes: u64,
}

/// Queue arguments (SPEC section 2).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueArgs {
    /// Queue magic and ABI, packed like the region's.
    pub magic_version: u64,
    /// Ring capacity per direction, a power of two.
    pub depth: u64,
    /// Bytes of the input (L3 -> L2) payload arena.
    pub input_arena_bytes: u64,
    /// Bytes of the output (L2 -> L3) payload arena.
    pub output_arena_bytes: u64,
    /// Size of the payload range the layout requires.
    pub payload_bytes: u64,
    /// Size of the counter range the layout requires.
    pub counter_bytes: u64,
}

/// Offsets of every part of the payload range (SPEC section 3), all
/// relative to `payload_base`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// Ring capacity per direction.
    pub depth: u64,
    /// Offset of the input descriptor ring (always 0).
    pub input_desc_offset: u64,
    /// Offset of the output descriptor ring.
    pub output_desc_offset: u64,
    /// Offset of the input arena.
    pub input_arena_offset: u64,
    /// Bytes of the input arena.
    pub input_arena_bytes: u64,
    /// Offset of the output arena.
    pub output_arena_offset: u64,
    /// Bytes of the output arena.
    pub output_arena_bytes: u64,
    /// Size of the payload range: the end of the output arena.
    pub payload_bytes: u64,
    /// Size of the counter range.
    pub counter_bytes: u64,
}

/// One descriptor slot as it sits in a ring (SPEC section 4).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DescriptorSlot {
    /// Message number + 1; a transport check, not a request id.
    pub seq: u64,
    /// One of the `L3L2Q_OPCODE_*` values.
    pub opcode: u64,
    /// Offset of the payload relative to `payload_base`; 0 when empty.
    pub payload_offset: u64,
    /// Payload length in bytes.
    pub payload_nbytes: u64,
}

/// The twelve scalars an L2 task is started with: the region descriptor
/// followed by the queue arguments.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskScalars {
    /// Scalars 0..6 and 6..12, in wire order.
    pub scalars: [u64; L3L2Q_TASK_SCALARS],
}

const_assert_eq!(core::mem::size_of::<RegionDescriptor>(), 48);
const_assert_eq!(offset_of!(RegionDescriptor, magic_version), 0);
const_assert_eq!(offset_of!(RegionDescriptor, region_id), 8);
const_assert_eq!(offset_of!(RegionDescriptor, payload_base), 16);
const_assert_eq!(offset_of!(RegionDescriptor, payload_bytes), 24);
const_assert_eq!(offset_of!(RegionDescriptor, counter_base), 32);
const_assert_eq!(offset_of!(RegionDescriptor, counter_bytes), 40);

const_assert_eq!(core::mem::size_of::<QueueArgs>(), 48);
const_assert_eq!(offset_of!(QueueArgs, magic_version), 0);
const_assert_eq!(offset_of!(QueueArgs, depth), 8);
const_assert_eq!(offset_of!(QueueArgs, input_arena_bytes), 16);
const_assert_eq!(offset_of!(QueueArgs, output_arena_bytes), 24);
const_assert_eq!(offset_of!(QueueArgs, payload_bytes), 32);
const_assert_eq!(offset_of!(QueueArgs, counter_bytes), 40);

const_assert_eq!(core::mem::size_of::<Layout>(), 72);
const_assert_eq!(offset_of!(Layout, depth), 0);
const_assert_eq!(offset_of!(Layout, input_desc_offset), 8);
const_assert_eq!(offset_of!(Layout, output_desc_offset), 16);
const_assert_eq!(offset_of!(Layout, input_arena_offset), 24);
const_assert_eq!(offset_of!(Layout, input_arena_bytes), 32);
const_assert_eq!(offset_of!(Layout, output_arena_offset), 40);
const_assert_eq!(offset_of!(Layout, output_arena_bytes), 48);
const_assert_eq!(offset_of!(Layout, payload_bytes), 56);
const_assert_eq!(offset_of!(Layout, counter_bytes), 64);

const_assert_eq!(
    core::mem::size_of::<DescriptorSlot>() as u64,
    L3L2Q_SLOT_BYTES
);
const_assert_eq!(offset_of!(DescriptorSlot, seq), 0);
const_assert_eq!(offset_of!(DescriptorSlot, opcode), 8);
const_assert_eq!(offset_of!(DescriptorSlot, payload_offset), 16);
const_assert_eq!(offset_of!(DescriptorSlot, payload_nbytes), 24);

const_assert_eq!(core::mem::size_of::<TaskScalars>(), 96);
const_assert_eq!(
    L3L2Q_TASK_SCALARS,
    L3L2Q_REGION_DESCRIPTOR_FIELDS + L3L2Q_QUEUE_ARGS_FIELDS
);
const_assert_eq!(L3L2Q_COUNTER_BYTES, 6 * L3L2Q_COUNTER_STRIDE);
const_assert_eq!(
    L3L2Q_L2_ABORT_FLAG_OFFSET + L3L2Q_COUNTER_STRIDE,
    L3L2Q_COUNTER_BYTES
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_converts_both_ways_and_refuses_unnamed_codes() {
        let named = [
            (Opcode::Invalid, L3L2Q_OPCODE_INVALID),
            (Opcode::Data, L3L2Q_OPCODE_DATA),
            (Opcode::Stop, L3L2Q_OPCODE_STOP),
            (Opcode::Error, L3L2Q_OPCODE_ERROR),
        ];
        for (opcode, code) in named {
            assert_eq!(u64::from(opcode), code);
            assert_eq!(Opcode::try_from(code), Ok(opcode));
            assert_eq!(opcode, code);
            assert_eq!(code, opcode);
        }
        for code in [4, 9, 1 << 32, u64::MAX] {
            assert_eq!(Opcode::try_from(code), Err(code));
            assert!(named.iter().all(|&(opcode, _)| opcode != code));
        }
    }
}
