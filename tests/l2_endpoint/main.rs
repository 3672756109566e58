//! The L2 endpoint, driven by a raw L3 written against the wire
//! format (the raw peer in tests/support/) rather than the library's own core. Every
//! test asserts the wire effects (counters, slots the endpoint wrote on the
//! output ring, the abort flags) as well as the return values.

#[path = "../support"]
mod support {
    pub mod opcodes;
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

use std::ptr;
use std::time::{Duration, Instant};

use l3l2q::*;

use l3l2q::abi::*;
use support::opcodes::{DATA, ERROR, STOP};
use support::peer::{RawConsumer, RawProducer};
use support::region::RawRegion;

const INVALID: u64 = L3L2Q_OPCODE_INVALID;

const IN_TAIL: u64 = L3L2Q_INPUT_DESC_TAIL_OFFSET;
const IN_HEAD: u64 = L3L2Q_INPUT_DESC_HEAD_OFFSET;
const OUT_TAIL: u64 = L3L2Q_OUTPUT_DESC_TAIL_OFFSET;
const OUT_HEAD: u64 = L3L2Q_OUTPUT_DESC_HEAD_OFFSET;
const L3_FLAG: u64 = L3L2Q_L3_ABORT_FLAG_OFFSET;
const L2_FLAG: u64 = L3L2Q_L2_ABORT_FLAG_OFFSET;

/// An endpoint from the task scalars of a fresh region.
fn open(region: &RawRegion, window: u64) -> L2Endpoint {
    // SAFETY: every test declares the region before the endpoint, so the
    // region outlives it.
    unsafe { L2Endpoint::from_task_scalars(&region.scalars(), window) }.expect("endpoint")
}

/// An endpoint whose ring counters (and the region's) start at `start`.
fn open_at(region: &RawRegion, window: u64, start: u64) -> L2Endpoint {
    region.start_counters_at(start);
    // SAFETY: as in `open`.
    unsafe { L2Endpoint::from_descriptor(&region.descriptor(), &region.args(), window, start) }
        .expect("endpoint")
}

/// `n` distinguishable bytes.
fn bytes(n: usize, tag: u8) -> Vec<u8> {
    (0..n)
        .map(|i| tag.wrapping_add((i as u8).wrapping_mul(7)))
        .collect()
}

fn counters(region: &RawRegion) -> [u32; 6] {
    [IN_TAIL, IN_HEAD, OUT_TAIL, OUT_HEAD, L3_FLAG, L2_FLAG].map(|o| region.counter(o))
}

fn slot(
    seq: u64,
    opcode: impl Into<u64>,
    payload_offset: u64,
    payload_nbytes: u64,
) -> DescriptorSlot {
    DescriptorSlot {
        seq,
        opcode: opcode.into(),
        payload_offset,
        payload_nbytes,
    }
}

#[track_caller]
fn assert_healthy(l2: &L2Endpoint, region: &RawRegion) {
    assert!(l2.error().is_none(), "unexpected poison: {:?}", l2.error());
    assert_eq!(region.counter(L2_FLAG), 0, "L2 abort flag must stay clear");
}

/// Checks the poison record and the abort flag, then that every later
/// operation fails fast with the recorded kind and touches no counter.
#[track_caller]
fn assert_poisoned(
    l2: &mut L2Endpoint,
    region: &RawRegion,
    kind: ErrorKind,
    operation: Operation,
    text: &str,
) {
    let info = *l2.error().expect("a poisoned endpoint has an error record");
    assert_eq!(info.kind(), kind, "{info:?}");
    assert_eq!(info.kind, kind as u32);
    assert_eq!(info.operation, operation as u32, "{info:?}");
    assert_eq!(info.region_id, region.region_id);
    assert!(
        info.message().contains(text),
        "message {:?} lacks {text:?}",
        info.message()
    );
    assert_eq!(
        region.counter(L2_FLAG),
        1,
        "poison raises the L2 abort flag"
    );
    assert_eq!(
        region.counter(L3_FLAG),
        0,
        "poison never writes the L3 flag"
    );

    let before = counters(region);
    let fail = Err(Error::Poisoned(kind));
    assert_eq!(l2.try_peek().map(|_| ()), fail);
    let started = Instant::now();
    assert_eq!(l2.peek(10_000_000_000).map(|_| ()), fail);
    assert_eq!(l2.reserve(0, 10_000_000_000).map(|_| ()), fail);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "poisoned calls must not wait"
    );
    assert_eq!(l2.try_reserve(0).map(|_| ()), fail);
    assert_eq!(l2.try_send(Opcode::Data, b"x"), fail);
    assert_eq!(l2.release(&Message::EMPTY), fail);
    assert_eq!(l2.flush(), fail);
    assert_eq!(
        l2.copy_payload(&Message::EMPTY, &mut [0u8; 8]),
        Err(Error::Poisoned(kind))
    );
    assert_eq!(counters(region), before, "fail-fast calls touch no counter");
    let again = l2.error().expect("record stays");
    assert_eq!(
        (again.kind, again.operation, again.message()),
        (info.kind, info.operation, info.message()),
        "the first error is kept"
    );
}

mod capacity;
mod creation;
mod hostile_input;
mod hostile_output;
mod input_arena;
mod input_basics;
mod output;
mod poison;
mod release_misuse;
mod stop;
mod timeouts;
mod window;
