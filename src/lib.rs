//! # l3l2q
//!
//! Ordered messages between a host orchestrator (L3) and a persistent
//! device task (L2) through one shared region: two descriptor rings, two
//! payload arenas and six signal counters, byte-compatible with the wire
//! format in `docs/SPEC.md`.
//!
//! "SPEC n" or "SPEC section n" in code comments refers to section n of
//! `docs/SPEC.md` in the repository.
//!
//! Module map, from the wire up:
//! - [`abi`]: `#[repr(C)]` wire structs and constants, size/offset checks,
//!   and the [`Opcode`] of a message.
//! - [`layout`]: layout math, descriptor/args validation, task scalars.
//! - [`region`]: how bytes and counters are reached (mapped, callbacks,
//!   POSIX shared memory).
//! - [`l2`] and [`l3`]: the two ends, composed from one internal protocol
//!   core (a producer half and a consumer half per ring).
//! - [`error`]: error kinds, status codes.
//! - [`ffi`]: the `extern "C"` surface.
//!
//! Both producer halves ([`L3Queue`] for inputs, [`L2Endpoint`] for
//! outputs) share one verb set: `try_send`/`send`/`try_send_batch` copy
//! payloads in; `try_reserve`/`reserve`, `write_reserved`,
//! `publish`/`publish_deferred` and `flush` fill the arena in place.

//!
//! Both ends in one process, over memory this process owns:
//!
//! ```
//! use l3l2q::abi::L3L2Q_COUNTER_BYTES;
//! use l3l2q::{L2Endpoint, L3Queue, Layout, MappedRegion, Opcode, QueueConfig, RegionDescriptor};
//!
//! let layout = Layout::compute(8, 4096, 4096).unwrap();
//! let mut payload = vec![0u64; layout.payload_bytes as usize / 8];
//! #[repr(C, align(64))]
//! struct Line([u8; 64]);
//! let mut counters: Vec<Line> = (0..6).map(|_| Line([0; 64])).collect(); // 384 B, 64-byte aligned
//! let descriptor = RegionDescriptor::new(
//!     1,
//!     payload.as_mut_ptr() as u64,
//!     layout.payload_bytes,
//!     counters.as_mut_ptr() as u64,
//!     L3L2Q_COUNTER_BYTES,
//! );
//!
//! // Host side. SAFETY: both ranges outlive the queue and the endpoint.
//! let region = unsafe { MappedRegion::from_descriptor(&descriptor) }.unwrap();
//! let config = QueueConfig { depth: 8, input_arena_bytes: 4096, output_arena_bytes: 4096 };
//! let mut l3 = L3Queue::create(region, &descriptor, config).unwrap();
//! // Device side, from the twelve scalars the host hands over; window 4.
//! let mut l2 = unsafe { L2Endpoint::from_task_scalars(&l3.task_scalars(), 4) }.unwrap();
//!
//! l3.send(Opcode::Data, b"ping", 1_000_000_000).unwrap();
//! let input = l2.peek(1_000_000_000).unwrap();
//! assert_eq!(l2.payload(&input), b"ping");
//! let reply = l2.reserve(4, 1_000_000_000).unwrap();
//! l2.reserved_mut(&reply).copy_from_slice(b"pong");
//! l2.publish(&reply, Opcode::Data, 4).unwrap();
//! l2.release(&input).unwrap();
//!
//! let mut buf = [0u8; 16];
//! let (opcode, n) = l3.dequeue_into(&mut buf, 1_000_000_000).unwrap();
//! assert_eq!((opcode, &buf[..n]), (Opcode::Data, &b"pong"[..]));
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod abi;
pub(crate) mod counter;
pub mod error;
pub mod ffi;
pub mod l2;
pub mod l3;
pub mod layout;
pub mod region;
pub(crate) mod ring;
pub(crate) mod wait;

pub use abi::{DescriptorSlot, Layout, Opcode, QueueArgs, RegionDescriptor, TaskScalars};
pub use error::{Error, ErrorInfo, ErrorKind, Operation, Status};
pub use l2::L2Endpoint;
pub use l3::{L3Queue, QueueConfig};
pub use layout::Violation;
pub use region::MappedRegion;
pub use ring::{Message, Reservation};
