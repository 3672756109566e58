//! FFI safety, one file per part.
//!
//! 1. `scan.rs`: every exported function's body is one `ffi_boundary!`
//!    (checked on the source, cross-checked against the header and the
//!    shared library's dynamic symbols), apart from the documented string
//!    functions that use `catch_unwind` directly.
//! 2. `boundary_works.rs`: a panic forced deep inside an operation (the
//!    debug-only `panic_probe`) comes back as `L3L2Q_STATUS_PANIC`, at
//!    every region access of every L3 operation, and the handle can still
//!    be freed.
//! 3. `null_and_misaligned.rs`: every pointer argument of every exported
//!    function is checked: NULL and misaligned pointers give
//!    `L3L2Q_STATUS_BAD_ARGUMENT`, nothing is written and no shared state
//!    changes.

mod boundary_works;
mod null_and_misaligned;
mod scan;

#[path = "../support"]
mod support {
    pub mod artifacts;
    #[allow(
        dead_code,
        reason = "the raw peer is a kit; each test binary drives part of it"
    )]
    pub mod faulty;
    #[allow(
        dead_code,
        reason = "the raw peer is a kit; each test binary drives part of it"
    )]
    pub mod peer;
    #[allow(
        dead_code,
        reason = "the raw peer is a kit; each test binary drives part of it"
    )]
    pub mod region;
}

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use l3l2q::abi::L3L2Q_OPCODE_DATA as DATA;
use l3l2q::abi::*;
use l3l2q::ffi::ByteSlice;
use l3l2q::ffi::common::*;
use l3l2q::ffi::l2::*;
use l3l2q::ffi::l3::*;
use l3l2q::ffi::shm::*;
use l3l2q::layout::Violation;
use l3l2q::{ErrorInfo, Message, Reservation, Status};
use support::artifacts;
use support::faulty::FaultyCallbacks;
use support::peer::{RawConsumer, RawProducer};
use support::region::RawRegion;

/// The six counters, in SPEC order.
const COUNTERS: [u64; 6] = [
    L3L2Q_INPUT_DESC_TAIL_OFFSET,
    L3L2Q_INPUT_DESC_HEAD_OFFSET,
    L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
    L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
    L3L2Q_L3_ABORT_FLAG_OFFSET,
    L3L2Q_L2_ABORT_FLAG_OFFSET,
];

fn counters(region: &RawRegion) -> [u32; 6] {
    COUNTERS.map(|o| region.counter(o))
}

fn l3_config(region: &RawRegion, initial_count: u64) -> L3Config {
    let l = region.layout;
    L3Config {
        depth: l.depth,
        input_arena_bytes: l.input_arena_bytes,
        output_arena_bytes: l.output_arena_bytes,
        initial_count,
    }
}

/// Creates an L3 queue over `region`, mapped or through callbacks.
fn create(
    region: &RawRegion,
    callbacks: Option<&FaultyCallbacks<'_>>,
    initial_count: u64,
    out: &mut *mut L3QueueHandle,
) -> Status {
    let descriptor = region.descriptor();
    let config = l3_config(region, initial_count);
    // SAFETY: valid pointers; the region (and the callbacks) outlive every queue made here.
    unsafe {
        match callbacks {
            None => l3l2q_l3_queue_create_mapped(&descriptor, &config, out, std::ptr::null_mut()),
            Some(cb) => l3l2q_l3_queue_create_callbacks(
                &descriptor,
                &cb.vtable(),
                &config,
                out,
                std::ptr::null_mut(),
            ),
        }
    }
}
