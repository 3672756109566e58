//! Every rule of the L3 queue, one test each, against a raw L2
//! peer that reads input slots, stores heads and writes output slots by
//! hand from the wire format (docs/SPEC.md), over both region backends (mapped,
//! and `extern "C"` copy callbacks with failure injection).

#[path = "../support"]
mod support {
    #[allow(
        dead_code,
        reason = "the raw peer is a kit; each test binary drives part of it"
    )]
    pub mod faulty;
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

use std::time::{Duration, Instant};

use l3l2q::abi::*;
use l3l2q::layout::{pack_magic_version, validate_queue};
use l3l2q::region::{CallbackRegion, MappedRegion, Region};
use l3l2q::*;
use support::faulty::{CallKind, FaultyCallbacks};
use support::opcodes::{DATA, ERROR, STOP};
use support::peer::{RawConsumer, RawProducer};
use support::region::RawRegion;

const L3_FLAG: u64 = L3L2Q_L3_ABORT_FLAG_OFFSET;
const L2_FLAG: u64 = L3L2Q_L2_ABORT_FLAG_OFFSET;
const COUNTERS: [u64; 6] = [
    L3L2Q_INPUT_DESC_TAIL_OFFSET,
    L3L2Q_INPUT_DESC_HEAD_OFFSET,
    L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
    L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
    L3_FLAG,
    L2_FLAG,
];
const MS: u64 = 1_000_000;

fn mapped(region: &RawRegion) -> MappedRegion {
    // SAFETY: every test declares the raw region before the queue, so it outlives it.
    unsafe { MappedRegion::from_descriptor(&region.descriptor()) }.expect("valid descriptor")
}

/// An L3 queue over the whole raw region, mapped.
fn queue(region: &RawRegion) -> L3Queue<MappedRegion> {
    let l = region.layout;
    L3Queue::create(
        mapped(region),
        &region.descriptor(),
        QueueConfig {
            depth: l.depth,
            input_arena_bytes: l.input_arena_bytes,
            output_arena_bytes: l.output_arena_bytes,
        },
    )
    .expect("create")
}

/// An L3 queue over the raw region, reached only through copy callbacks.
fn cb_queue(cb: &FaultyCallbacks<'_>) -> L3Queue<CallbackRegion> {
    let l = cb.region.layout;
    // SAFETY: every test declares the callbacks before the queue, so they outlive it.
    let backend = unsafe { cb.backend() };
    L3Queue::create(
        backend,
        &cb.region.descriptor(),
        QueueConfig {
            depth: l.depth,
            input_arena_bytes: l.input_arena_bytes,
            output_arena_bytes: l.output_arena_bytes,
        },
    )
    .expect("create")
}

/// An L2 endpoint built from the queue's task scalars.
fn l2_of<R: Region>(q: &L3Queue<R>, max_inflight: u64) -> L2Endpoint {
    // SAFETY: the raw region behind the queue outlives the endpoint in every test.
    unsafe { L2Endpoint::from_task_scalars(&q.task_scalars(), max_inflight) }
        .expect("L2 accepts the L3 task scalars")
}

fn counters(region: &RawRegion) -> [u32; 6] {
    COUNTERS.map(|off| region.counter(off))
}

/// Every payload byte and every counter.
fn snapshot(region: &RawRegion) -> (Vec<u8>, [u32; 6]) {
    (
        region.read(0, region.layout.payload_bytes as usize),
        counters(region),
    )
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}

fn in_off(region: &RawRegion, arena_pos: u64) -> u64 {
    region.layout.input_arena_offset + arena_pos
}

fn out_off(region: &RawRegion, arena_pos: u64) -> u64 {
    region.layout.output_arena_offset + arena_pos
}

#[track_caller]
fn assert_healthy<R: Region>(q: &L3Queue<R>, region: &RawRegion) {
    assert!(q.error().is_none(), "queue poisoned: {:?}", q.error());
    assert_eq!(region.counter(L3_FLAG), 0, "L3 abort flag raised");
}

/// Checks the poison record, the abort flag, that the L2 flag is left
/// alone, and that every later operation fails fast with the recorded
/// kind without changing any shared byte.
#[track_caller]
fn assert_poisoned<R: Region>(
    q: &mut L3Queue<R>,
    region: &RawRegion,
    kind: ErrorKind,
    op: Operation,
) {
    let info = *q.error().expect("queue must be poisoned");
    assert_eq!(info.kind(), kind, "{info:?}");
    assert_eq!(info.operation, op as u32, "{info:?}");
    assert_eq!(info.region_id, region.region_id);
    assert!(!info.message().is_empty());
    assert_eq!(
        region.counter(L3_FLAG),
        1,
        "poison must raise the L3 abort flag (offset 256)"
    );
    assert_eq!(
        region.counter(L2_FLAG),
        0,
        "poison must not touch the L2 flag"
    );
    let before = snapshot(region);
    assert_eq!(
        q.try_send(Opcode::Data, b"late"),
        Err(Error::Poisoned(kind))
    );
    assert_eq!(
        q.send(Opcode::Data, b"late", MS),
        Err(Error::Poisoned(kind))
    );
    assert_eq!(q.try_peek(), Err(Error::Poisoned(kind)));
    assert_eq!(q.peek(MS), Err(Error::Poisoned(kind)));
    assert_eq!(q.try_request_stop(), Err(Error::Poisoned(kind)));
    assert_eq!(q.try_reserve(8).err(), Some(Error::Poisoned(kind)));
    let mut buf = [0u8; 64];
    assert_eq!(q.try_dequeue_into(&mut buf), Err(Error::Poisoned(kind)));
    assert_eq!(q.release(&Message::EMPTY), Err(Error::Poisoned(kind)));
    assert_eq!(
        snapshot(region),
        before,
        "a poisoned queue must not touch shared memory"
    );
    assert_eq!(q.error().unwrap().kind(), kind, "the first error is kept");
}

mod arena_reuse;
mod basic_paths;
mod callback_failures;
mod counters_and_peers;
mod creation;
mod output_validation;
mod ownership;
mod stop;
mod timeouts;
mod zero_copy_input;
