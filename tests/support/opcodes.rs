//! Short names for the three opcodes (SPEC 4), for tests that spell many
//! descriptors by hand.

use l3l2q::abi::{L3L2Q_OPCODE_DATA, L3L2Q_OPCODE_ERROR, L3L2Q_OPCODE_STOP};

/// An ordinary message.
pub const DATA: u64 = L3L2Q_OPCODE_DATA;
/// The last input: the L2 task drains and ends.
pub const STOP: u64 = L3L2Q_OPCODE_STOP;
/// An error report carried like data.
pub const ERROR: u64 = L3L2Q_OPCODE_ERROR;
