//! # l3l2q
//!
//! Ordered messages between a host orchestrator (L3) and a persistent
//! device task (L2) through one shared region: two descriptor rings, two
//! payload arenas and six signal counters, byte-compatible with the wire
//! format in `SPEC.md`.
//!
//! Module map, from the wire up:
//! - [`abi`]: `#[repr(C)]` wire structs and constants, size/offset checks.
//! - [`layout`]: layout math, descriptor/args validation, task scalars.
//! - [`counter`]: folding of low-32 counter observations.
//! - [`region`]: how bytes and counters are reached (mapped, callbacks).
//! - [`ring`]: the protocol core, one producer half and one consumer half.
//! - [`l2`] and [`l3`]: the two ends, composed from [`ring`].
//! - [`error`]: error kinds, status codes, poison state.
//! - [`wait`]: bounded waiting.
//! - `ffi`: the `extern "C"` surface.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod abi;
pub mod counter;
pub mod error;
pub mod l2;
pub mod l3;
pub mod layout;
pub mod region;
pub mod ring;
pub mod wait;
pub mod ffi;

pub use abi::*;
pub use error::{Error, ErrorInfo, ErrorKind, Operation, Status};
pub use l2::L2Endpoint;
pub use l3::L3Queue;
pub use ring::{Message, Reservation};
pub use layout::Violation;
