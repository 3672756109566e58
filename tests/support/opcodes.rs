//! Short names for the three opcodes (SPEC 4), for tests that spell many
//! descriptors by hand. They are [`Opcode`]s, which compare equal to the
//! wire codes (`u64`) and convert with `.into()` where a slot is spelled.

use l3l2q::Opcode;

/// An ordinary message.
pub const DATA: Opcode = Opcode::Data;
/// The last input: the L2 task drains and ends.
pub const STOP: Opcode = Opcode::Stop;
/// An error report carried like data.
pub const ERROR: Opcode = Opcode::Error;
