//! Every rule of the L3 queue, one test each, against a raw L2
//! peer that reads input slots, stores heads and writes output slots by
//! hand from the wire format (docs/SPEC.md), over both region backends (mapped,
//! and `extern "C"` copy callbacks with failure injection).

mod support;

use std::time::{Duration, Instant};

use l3l2q::layout::{pack_magic_version, validate_queue};
use l3l2q::region::{CallbackRegion, MappedRegion, Region};
use l3l2q::*;
use support::raw::{CallKind, FaultyCallbacks, RawConsumer, RawProducer, RawRegion};

const DATA: u64 = L3L2Q_OPCODE_DATA;
const STOP: u64 = L3L2Q_OPCODE_STOP;
const ERROR: u64 = L3L2Q_OPCODE_ERROR;
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
        l.depth,
        l.input_arena_bytes,
        l.output_arena_bytes,
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
        l.depth,
        l.input_arena_bytes,
        l.output_arena_bytes,
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
    assert_eq!(q.try_enqueue(DATA, b"late"), Err(Error::Poisoned(kind)));
    assert_eq!(q.enqueue(DATA, b"late", MS), Err(Error::Poisoned(kind)));
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

// ---------------------------------------------------------------- creation

#[test]
fn layout_agrees_with_the_l2_side() {
    // The region is larger than the queue needs; the descriptor handed to
    // L2 must carry the exact layout sizes, which L2 requires.
    let region = RawRegion::with_skew(16, 2048, 1024, 5);
    let q = L3Queue::create(mapped(&region), &region.descriptor(), 8, 1024, 576).unwrap();
    let layout = Layout::compute(8, 1024, 576).unwrap();
    assert_eq!(*q.layout(), layout);
    assert_eq!(layout.input_desc_offset, 0);
    assert_eq!(layout.output_desc_offset, 8 * 32);
    assert_eq!(layout.input_arena_offset, 512);
    assert_eq!(layout.output_arena_offset, 512 + 1024);
    assert_eq!(layout.payload_bytes, 512 + 1024 + 576);

    let d = *q.descriptor();
    let raw = region.descriptor();
    assert_eq!(
        d,
        RegionDescriptor {
            payload_bytes: layout.payload_bytes,
            counter_bytes: L3L2Q_COUNTER_BYTES,
            ..raw
        }
    );
    assert!(d.payload_bytes < raw.payload_bytes);

    let args = q.queue_args();
    assert_eq!(
        args.magic_version,
        pack_magic_version(L3L2Q_QUEUE_MAGIC, 1, 1)
    );
    assert_eq!(
        (args.depth, args.input_arena_bytes, args.output_arena_bytes),
        (8, 1024, 576)
    );
    assert_eq!(
        (args.payload_bytes, args.counter_bytes),
        (layout.payload_bytes, 384)
    );
    assert_eq!(validate_queue(&d, &args), Ok(layout));

    let s = q.task_scalars().scalars;
    assert_eq!(
        s,
        [
            d.magic_version,
            d.region_id,
            d.payload_base,
            d.payload_bytes,
            d.counter_base,
            d.counter_bytes,
            args.magic_version,
            args.depth,
            args.input_arena_bytes,
            args.output_arena_bytes,
            args.payload_bytes,
            args.counter_bytes
        ]
    );

    // L2 accepts the scalars and computes the same layout; a message in
    // each direction lands where the other side looks for it.
    let mut q = q;
    let mut l2 = l2_of(&q, 1);
    assert_eq!(*l2.layout(), layout);
    q.try_enqueue(DATA, b"to L2").unwrap();
    let m = l2.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_offset), (1, layout.input_arena_offset));
    assert_eq!(l2.payload(&m), b"to L2");
    l2.release(&m).unwrap();
    l2.try_send(DATA, b"to L3").unwrap();
    let m = q.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_offset), (1, layout.output_arena_offset));
    // SAFETY: held until the release below.
    assert_eq!(unsafe { m.payload() }, b"to L3");
    q.release(&m).unwrap();
    assert!(l2.error().is_none());
    assert_healthy(&q, &region);
}

#[test]
fn worked_layout_cases_from_the_spec() {
    for (depth, ia, oa, out_desc, ia_off, oa_off, total) in [
        (1, 64, 64, 32, 64, 128, 192),
        (4, 128, 192, 128, 256, 384, 576),
        (8, 192, 64, 256, 512, 704, 768),
    ] {
        let region = RawRegion::new(depth, ia, oa);
        let q = queue(&region);
        let l = q.layout();
        assert_eq!(
            (
                l.output_desc_offset,
                l.input_arena_offset,
                l.output_arena_offset,
                l.payload_bytes
            ),
            (out_desc, ia_off, oa_off, total)
        );
        assert_eq!(*l2_of(&q, 1).layout(), *l);
    }
}

#[test]
fn creation_zeroes_the_six_counters() {
    let region = RawRegion::new(4, 128, 128);
    for (i, off) in COUNTERS.iter().enumerate() {
        region.set_counter(*off, 0xdead_0000 + i as u32);
    }
    let q = queue(&region);
    assert_eq!(counters(&region), [0; 6]);
    assert_healthy(&q, &region);

    // Through callbacks too, with exactly one store per counter and nothing else.
    let region = RawRegion::new(4, 128, 128);
    for off in COUNTERS {
        region.set_counter(off, 0xffff_ffff);
    }
    let cb = FaultyCallbacks::new(&region);
    let q = cb_queue(&cb);
    assert_eq!(counters(&region), [0; 6]);
    assert_eq!(cb.calls(CallKind::CounterStore), 6);
    assert_eq!(cb.total_calls(), 6);
    assert_healthy(&q, &region);
}

#[test]
fn creation_rejects_bad_depth_and_arenas_and_touches_nothing() {
    let region = RawRegion::new(8, 1024, 1024);
    for off in COUNTERS {
        region.set_counter(off, 0x5555_5555);
    }
    let before = snapshot(&region);
    let d = region.descriptor();
    let cases: [(u64, u64, u64, Violation); 9] = [
        (0, 64, 64, Violation::Depth),
        (3, 64, 64, Violation::Depth),
        (12, 64, 64, Violation::Depth),
        ((1 << 30) * 2, 64, 64, Violation::Depth),
        (4, 0, 64, Violation::InputArena),
        (4, 100, 64, Violation::InputArena),
        (4, 64, 0, Violation::OutputArena),
        (4, 64, 65, Violation::OutputArena),
        (4, 64, u64::MAX - 63, Violation::LayoutOverflow),
    ];
    for (depth, ia, oa, violation) in cases {
        let r = L3Queue::create(mapped(&region), &d, depth, ia, oa);
        assert_eq!(
            r.err(),
            Some(Error::BadDescriptor(violation)),
            "depth {depth} arenas {ia}/{oa}"
        );
        assert_eq!(
            snapshot(&region),
            before,
            "a failed create touched shared memory"
        );
    }
    // Through callbacks: not a single callback is called.
    let cb = FaultyCallbacks::new(&region);
    for (depth, ia, oa, violation) in cases {
        // SAFETY: cb outlives the backend.
        let r = L3Queue::create(unsafe { cb.backend() }, &d, depth, ia, oa);
        assert_eq!(r.err(), Some(Error::BadDescriptor(violation)));
    }
    assert_eq!(cb.total_calls(), 0);
}

#[test]
fn creation_rejects_a_region_too_small() {
    let region = RawRegion::new(8, 1024, 1024);
    for off in COUNTERS {
        region.set_counter(off, 7);
    }
    let before = snapshot(&region);
    let cb = FaultyCallbacks::new(&region);
    let d = region.descriptor();
    // Payload range one arena line short.
    let r = L3Queue::create(mapped(&region), &d, 8, 1024, 1088);
    assert_eq!(
        r.err(),
        Some(Error::BadDescriptor(Violation::RegionTooSmall))
    );
    // A deeper ring than the region holds.
    let r = L3Queue::create(mapped(&region), &d, 16, 1024, 1024);
    assert_eq!(
        r.err(),
        Some(Error::BadDescriptor(Violation::RegionTooSmall))
    );
    // Counter range short of the six lines.
    let short = RegionDescriptor {
        counter_bytes: 320,
        ..d
    };
    // SAFETY: a subset of the raw region.
    let m = unsafe { MappedRegion::from_descriptor(&short) }.unwrap();
    assert_eq!(
        L3Queue::create(m, &short, 8, 1024, 1024).err(),
        Some(Error::BadDescriptor(Violation::RegionTooSmall))
    );
    // SAFETY: cb outlives the backend.
    let r = L3Queue::create(unsafe { cb.backend() }, &d, 8, 2048, 1024);
    assert_eq!(
        r.err(),
        Some(Error::BadDescriptor(Violation::RegionTooSmall))
    );
    assert_eq!(cb.total_calls(), 0);
    assert_eq!(snapshot(&region), before);
    // The exact size is fine.
    let q = L3Queue::create(mapped(&region), &d, 8, 1024, 1024).unwrap();
    assert_healthy(&q, &region);
}

#[test]
fn creation_rejects_a_bad_descriptor_before_any_callback() {
    let region = RawRegion::new(4, 128, 128);
    let cb = FaultyCallbacks::new(&region);
    let good = region.descriptor();
    let cases = [
        (
            RegionDescriptor {
                magic_version: pack_magic_version(0x1234_5678, 2, 0),
                ..good
            },
            Violation::RegionMagic,
        ),
        (
            RegionDescriptor {
                magic_version: pack_magic_version(L3L2Q_REGION_MAGIC, 1, 0),
                ..good
            },
            Violation::RegionMajor,
        ),
        (
            RegionDescriptor {
                region_id: 0,
                ..good
            },
            Violation::RegionIdZero,
        ),
        (
            RegionDescriptor {
                payload_base: 0,
                ..good
            },
            Violation::PayloadBaseZero,
        ),
        (
            RegionDescriptor {
                counter_base: good.counter_base + 4,
                ..good
            },
            Violation::CounterBaseMisaligned,
        ),
        (
            RegionDescriptor {
                counter_bytes: 6,
                ..good
            },
            Violation::CounterBytesInvalid,
        ),
        (
            RegionDescriptor {
                payload_bytes: u64::MAX,
                ..good
            },
            Violation::PayloadRangeOverflow,
        ),
        (
            RegionDescriptor {
                counter_base: good.payload_base & !63,
                ..good
            },
            Violation::RangesOverlap,
        ),
    ];
    for (d, violation) in cases {
        // SAFETY: cb outlives the backend; the backend is never called on this path.
        let r = L3Queue::create(unsafe { cb.backend() }, &d, 4, 128, 128);
        assert_eq!(r.err(), Some(Error::BadDescriptor(violation)), "{d:?}");
    }
    assert_eq!(
        cb.total_calls(),
        0,
        "validation must come before any access"
    );
    // Minor may differ; major 3 is accepted too.
    for (major, minor) in [(2, 7), (3, 0)] {
        let d = RegionDescriptor {
            magic_version: pack_magic_version(L3L2Q_REGION_MAGIC, major, minor),
            ..good
        };
        // SAFETY: as above.
        assert!(L3Queue::create(unsafe { cb.backend() }, &d, 4, 128, 128).is_ok());
    }
}

#[test]
fn creation_counter_store_failure_is_callback_failed() {
    let region = RawRegion::new(4, 128, 128);
    let cb = FaultyCallbacks::new(&region);
    cb.fail_nth(CallKind::CounterStore, 3);
    // SAFETY: cb outlives the backend.
    let r = L3Queue::create(unsafe { cb.backend() }, &region.descriptor(), 4, 128, 128);
    assert_eq!(r.err(), Some(Error::CallbackFailed));
    cb.heal();
    let q = cb_queue(&cb);
    assert_healthy(&q, &region);
}

// ------------------------------------------------------------ basic paths

#[test]
fn zero_byte_enqueue_and_dequeue() {
    let region = RawRegion::new(4, 128, 128);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    let mut out = RawProducer::output(&region, 0);

    q.try_enqueue(DATA, &[]).unwrap();
    q.enqueue(ERROR, &[], MS).unwrap();
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 2);
    let (s, p) = l2.expect();
    assert_eq!(
        s,
        DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: 0,
            payload_nbytes: 0
        }
    );
    assert!(p.is_empty());
    let (s, _) = l2.expect();
    assert_eq!(
        s,
        DescriptorSlot {
            seq: 2,
            opcode: ERROR,
            payload_offset: 0,
            payload_nbytes: 0
        }
    );
    // Zero-byte messages use no arena: a full-arena message still fits.
    q.try_enqueue(DATA, &[9; 128]).unwrap();
    assert_eq!(l2.expect().0.payload_offset, in_off(&region, 0));

    out.send(DATA, 0, &[]);
    let m = q.try_peek().unwrap();
    assert_eq!(
        (m.seq, m.opcode, m.payload_offset, m.payload_nbytes),
        (1, DATA, 0, 0)
    );
    assert!(m.data.is_null());
    assert_eq!(q.read_into(&m, &mut []), Ok(0));
    q.release(&m).unwrap();
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 1);
    out.send(DATA, 0, &[]);
    assert_eq!(q.try_dequeue_into(&mut []), Ok((DATA, 0)));
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 2);
    assert_eq!(q.try_peek(), Err(Error::NoProgress));
    assert_healthy(&q, &region);
}

#[test]
fn enqueue_rejects_stop_and_invalid_opcodes_without_poison() {
    let region = RawRegion::new(4, 128, 128);
    let mut q = queue(&region);
    let before = snapshot(&region);
    for op in [L3L2Q_OPCODE_INVALID, STOP, 4, u64::MAX] {
        assert_eq!(q.try_enqueue(op, b"x"), Err(Error::BadArgument));
        assert_eq!(q.enqueue(op, b"x", MS), Err(Error::BadArgument));
    }
    assert_eq!(snapshot(&region), before);
    assert_healthy(&q, &region);
    q.try_enqueue(DATA, b"x").unwrap();
}

#[test]
fn exactly_depth_messages_fit_then_ring_full_is_no_progress() {
    let region = RawRegion::new(4, 1024, 64);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    for i in 0..4u8 {
        q.try_enqueue(DATA, &[i; 10]).unwrap();
    }
    let before = snapshot(&region);
    assert_eq!(q.try_enqueue(DATA, &[4; 10]), Err(Error::NoProgress));
    assert_eq!(
        q.try_enqueue(DATA, &[]),
        Err(Error::NoProgress),
        "zero-byte messages need a slot too"
    );
    assert_eq!(q.try_request_stop(), Err(Error::NoProgress));
    assert!(!q.is_stopped());
    assert_eq!(snapshot(&region), before, "a full ring changes nothing");
    assert_healthy(&q, &region);
    for i in 0..4u64 {
        let (s, p) = l2.expect();
        assert_eq!(
            (s.seq, s.payload_offset, p),
            (i + 1, in_off(&region, 10 * i), vec![i as u8; 10])
        );
    }
    l2.release_to(1);
    q.try_enqueue(DATA, &[4; 10]).unwrap();
    assert_eq!(q.try_enqueue(DATA, &[5; 10]), Err(Error::NoProgress));
    let (s, p) = l2.expect();
    assert_eq!(
        (s.seq, s.payload_offset, p),
        (5, in_off(&region, 40), vec![4; 10])
    );
    assert_healthy(&q, &region);
}

#[test]
fn arena_full_is_no_progress_without_poison() {
    let region = RawRegion::new(16, 256, 64);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_enqueue(DATA, &[1; 200]).unwrap();
    let before = snapshot(&region);
    assert_eq!(
        q.try_enqueue(DATA, &[2; 100]),
        Err(Error::NoProgress),
        "needs a wrap over live bytes"
    );
    assert_eq!(q.try_reserve(100).err(), Some(Error::NoProgress));
    assert_eq!(snapshot(&region), before);
    q.try_enqueue(DATA, &[3; 56]).unwrap(); // exactly the rest of the arena
    assert_eq!(
        q.try_enqueue(DATA, &[4; 1]),
        Err(Error::NoProgress),
        "arena full"
    );
    q.try_enqueue(DATA, &[]).unwrap(); // zero bytes still go
    assert_healthy(&q, &region);
    for (pos, len) in [(0, 200), (200, 56), (0, 0)] {
        let (s, p) = l2.expect();
        assert_eq!(
            (s.payload_offset, p.len()),
            (if len == 0 { 0 } else { in_off(&region, pos) }, len)
        );
    }
    l2.release_all();
    q.try_enqueue(DATA, &[5; 256]).unwrap();
    let (s, p) = l2.expect();
    assert_eq!(
        (s.seq, s.payload_offset, p),
        (4, in_off(&region, 0), vec![5; 256])
    );
    assert_healthy(&q, &region);
}

#[test]
fn message_larger_than_the_arena_is_bad_argument() {
    let region = RawRegion::new(4, 256, 64);
    let mut q = queue(&region);
    let before = snapshot(&region);
    let started = Instant::now();
    assert_eq!(q.try_enqueue(DATA, &[0; 257]), Err(Error::BadArgument));
    assert_eq!(
        q.enqueue(DATA, &[0; 257], 10_000 * MS),
        Err(Error::BadArgument),
        "must not wait for room that never comes"
    );
    assert_eq!(q.try_reserve(257).err(), Some(Error::BadArgument));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(snapshot(&region), before);
    assert_healthy(&q, &region);
    q.try_enqueue(DATA, &[0; 256]).unwrap();
}

// ------------------------------------------------- arena reuse and padding

#[test]
fn releases_are_replayed_before_the_arena_is_reused() {
    let region = RawRegion::new(8, 1024, 64);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    for i in 1..=3u8 {
        q.try_enqueue(DATA, &[i; 300]).unwrap();
    }
    assert_eq!(q.try_enqueue(DATA, &[4; 300]), Err(Error::NoProgress));
    for pos in [0, 300, 600] {
        assert_eq!(l2.expect().0.payload_offset, in_off(&region, pos));
    }
    // L2 frees only the first message: exactly its 300 bytes come back.
    l2.release_to(1);
    q.try_enqueue(DATA, &[4; 300]).unwrap();
    assert_eq!(
        q.try_enqueue(DATA, &[5; 1]),
        Err(Error::NoProgress),
        "[300, 1024) and [0, 300) are live"
    );
    let (s, p) = l2.expect();
    assert_eq!(
        (s.seq, s.payload_offset, p),
        (4, in_off(&region, 0), vec![4; 300])
    );
    l2.release_to(2);
    q.try_enqueue(DATA, &[5; 1]).unwrap();
    assert_eq!(l2.expect().0.payload_offset, in_off(&region, 300));
    // The bytes L2 still holds were never overwritten.
    assert_eq!(region.read(in_off(&region, 600), 300), vec![3; 300]);
    assert_healthy(&q, &region);
}

#[test]
fn replay_rejects_an_altered_released_descriptor() {
    for tamper in 0..3 {
        let region = RawRegion::new(8, 1024, 64);
        let mut q = queue(&region);
        let mut l2 = RawConsumer::input(&region, 0);
        for i in 1..=3u8 {
            q.try_enqueue(DATA, &[i; 300]).unwrap();
        }
        let (mut s, _) = l2.expect();
        match tamper {
            0 => s.payload_offset += 64,
            1 => s.seq = 7,
            _ => s.payload_offset = region.layout.output_arena_offset,
        }
        region.write_slot(region.layout.input_desc_offset, 0, s);
        l2.release_to(1);
        assert_eq!(
            q.try_enqueue(DATA, &[4; 300]),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "tamper {tamper}"
        );
        // A breach found while placing an enqueued message records Enqueue.
        assert_poisoned(
            &mut q,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Enqueue,
        );
    }
}

#[test]
fn failed_try_of_a_large_message_then_a_smaller_one_does_not_poison_the_peer() {
    // Raw peer: the smaller message must sit at the exact next position.
    let region = RawRegion::new(8, 1024, 64);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_enqueue(DATA, &[1; 300]).unwrap();
    q.try_enqueue(DATA, &[2; 600]).unwrap();
    assert_eq!(q.try_enqueue(DATA, &[3; 400]), Err(Error::NoProgress));
    assert_eq!(q.enqueue(DATA, &[3; 400], MS), Err(Error::Timeout));
    q.try_enqueue(DATA, &[4; 100]).unwrap();
    let _ = (l2.expect(), l2.expect());
    let (s, p) = l2.expect();
    assert_eq!(
        (s.seq, s.payload_offset, p),
        (3, in_off(&region, 900), vec![4; 100]),
        "padding of the failed try leaked"
    );

    // Library peer: it validates arena positions and must stay healthy.
    let region = RawRegion::new(8, 1024, 64);
    let mut q = queue(&region);
    let mut l2 = l2_of(&q, 8);
    q.try_enqueue(DATA, &[1; 300]).unwrap();
    q.try_enqueue(DATA, &[2; 600]).unwrap();
    for _ in 0..3 {
        assert_eq!(q.try_enqueue(DATA, &[3; 400]), Err(Error::NoProgress));
        assert_eq!(q.try_reserve(400).err(), Some(Error::NoProgress));
    }
    q.try_enqueue(DATA, &[4; 100]).unwrap();
    q.try_enqueue(DATA, &[5; 24]).unwrap();
    for (len, byte) in [(300, 1), (600, 2), (100, 4), (24, 5)] {
        let m = l2.try_peek().unwrap();
        assert_eq!(l2.payload(&m), vec![byte; len].as_slice());
    }
    assert!(l2.error().is_none(), "{:?}", l2.error());
    assert_eq!(region.counter(L2_FLAG), 0);
    assert_healthy(&q, &region);
}

#[test]
fn a_message_that_must_wrap_after_a_full_drain_goes_through() {
    // 300 B then 800 B in a 1024 B arena: after the 300 are released the
    // 800 must wrap to the arena start instead of waiting forever.
    let region = RawRegion::new(8, 1024, 64);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_enqueue(DATA, &[1; 300]).unwrap();
    assert_eq!(q.try_enqueue(DATA, &[2; 800]), Err(Error::NoProgress));
    l2.expect();
    l2.release_all();
    q.enqueue(DATA, &[2; 800], 1000 * MS)
        .expect("must not wait forever");
    let (s, p) = l2.expect();
    assert_eq!(
        (s.seq, s.payload_offset, p),
        (2, in_off(&region, 0), vec![2; 800])
    );
    // And the whole arena after another full drain, from a non-zero position.
    l2.release_all();
    q.enqueue(DATA, &[3; 1024], 1000 * MS).unwrap();
    assert_eq!(l2.expect().0.payload_offset, in_off(&region, 0));
    assert_healthy(&q, &region);

    // Same with the library's L2 releasing concurrently from another thread.
    let region = RawRegion::new(8, 1024, 64);
    let mut q = queue(&region);
    let mut l2 = l2_of(&q, 1);
    std::thread::scope(|s| {
        s.spawn(move || {
            for (len, byte) in [(300usize, 1u8), (800, 2), (1024, 3), (0, 4), (1000, 5)] {
                let m = l2.peek(5_000 * MS).expect("L2 peek");
                assert_eq!(m.payload_nbytes, len as u64);
                if len > 0 {
                    assert_eq!(l2.payload(&m), vec![byte; len].as_slice());
                }
                l2.release(&m).unwrap();
            }
            assert!(l2.error().is_none());
        });
        for (len, byte) in [(300usize, 1u8), (800, 2), (1024, 3), (0, 4), (1000, 5)] {
            q.enqueue(DATA, &vec![byte; len], 5_000 * MS)
                .expect("enqueue");
        }
    });
    assert_healthy(&q, &region);
}

// ------------------------------------------------------------------- STOP

#[test]
fn enqueue_after_stop_is_stopped_without_touching_shared_memory() {
    let region = RawRegion::new(4, 128, 128);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_enqueue(DATA, b"last").unwrap();
    q.request_stop(MS).unwrap();
    assert!(q.is_stopped());
    l2.expect();
    let (s, p) = l2.expect();
    assert_eq!(
        s,
        DescriptorSlot {
            seq: 2,
            opcode: STOP,
            payload_offset: 0,
            payload_nbytes: 0
        }
    );
    assert!(p.is_empty());
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 2);

    let before = snapshot(&region);
    assert_eq!(q.try_enqueue(DATA, b"x"), Err(Error::Stopped));
    assert_eq!(q.try_enqueue(ERROR, &[]), Err(Error::Stopped));
    assert_eq!(q.enqueue(DATA, b"x", 10 * MS), Err(Error::Stopped));
    assert_eq!(q.try_enqueue_batch(DATA, [&b"x"[..]]), Err(Error::Stopped));
    assert_eq!(q.try_reserve(8).err(), Some(Error::Stopped));
    assert_eq!(q.try_request_stop(), Err(Error::Stopped));
    assert_eq!(q.request_stop(MS), Err(Error::Stopped));
    assert_eq!(q.flush(), Ok(()));
    assert_eq!(
        snapshot(&region),
        before,
        "STOPPED must not touch shared memory"
    );
    assert_healthy(&q, &region);

    // Through callbacks: not a single callback call.
    let region = RawRegion::new(4, 128, 128);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    q.try_request_stop().unwrap();
    let calls = cb.total_calls();
    let before = snapshot(&region);
    assert_eq!(q.try_enqueue(DATA, b"x"), Err(Error::Stopped));
    assert_eq!(q.enqueue(DATA, &[], MS), Err(Error::Stopped));
    assert_eq!(q.try_reserve(0).err(), Some(Error::Stopped));
    assert_eq!(q.try_request_stop(), Err(Error::Stopped));
    assert_eq!(cb.total_calls(), calls);
    assert_eq!(snapshot(&region), before);
    assert_healthy(&q, &region);
}

#[test]
fn stop_waits_for_a_slot_and_the_output_side_keeps_working_after_it() {
    let region = RawRegion::new(2, 128, 128);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    let mut out = RawProducer::output(&region, 0);
    q.try_enqueue(DATA, b"a").unwrap();
    q.try_enqueue(DATA, b"b").unwrap();
    assert_eq!(q.try_request_stop(), Err(Error::NoProgress));
    assert_eq!(q.request_stop(2 * MS), Err(Error::Timeout));
    assert!(!q.is_stopped());
    l2.expect();
    l2.release_to(1);
    q.request_stop(MS).unwrap();
    l2.expect();
    assert_eq!(l2.expect().0.opcode, STOP);

    out.send(DATA, 0, b"reply 1");
    out.send(ERROR, 7, b"reply 2");
    let mut buf = [0u8; 128];
    assert_eq!(q.dequeue_into(&mut buf, MS), Ok((DATA, 7)));
    assert_eq!(&buf[..7], b"reply 1");
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((ERROR, 7)));
    assert_eq!(&buf[..7], b"reply 2");
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 2);
    assert_healthy(&q, &region);
}

// ------------------------------------------------------ output validation

/// Publishes one crafted output slot as message 0 and expects the next
/// peek to poison with `kind`.
fn expect_output_poison(slot: impl Fn(&RawRegion) -> DescriptorSlot, kind: ErrorKind, what: &str) {
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.write_slot(slot(&region));
    out.publish();
    assert_eq!(q.try_peek(), Err(Error::Poisoned(kind)), "{what}");
    assert_eq!(
        region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET),
        0,
        "{what}: nothing released"
    );
    assert_poisoned(&mut q, &region, kind, Operation::Peek);
}

#[test]
fn stop_on_the_output_ring_poisons() {
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: STOP,
            payload_offset: 0,
            payload_nbytes: 0,
        },
        ErrorKind::InvalidDescriptor,
        "STOP",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: STOP,
            payload_offset: out_off(r, 0),
            payload_nbytes: 8,
        },
        ErrorKind::InvalidDescriptor,
        "STOP with payload",
    );
    // Also through the blocking and the copying forms, after a good message.
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.send(DATA, 0, b"fine");
    out.send(STOP, 0, &[]);
    let mut buf = [0u8; 16];
    assert_eq!(q.dequeue_into(&mut buf, MS), Ok((DATA, 4)));
    assert_eq!(
        q.dequeue_into(&mut buf, MS),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
    );
}

#[test]
fn zero_byte_output_with_nonzero_offset_poisons() {
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: out_off(r, 0),
            payload_nbytes: 0,
        },
        ErrorKind::InvalidDescriptor,
        "arena start",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: ERROR,
            payload_offset: 1,
            payload_nbytes: 0,
        },
        ErrorKind::InvalidDescriptor,
        "offset 1",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: u64::MAX,
            payload_nbytes: 0,
        },
        ErrorKind::InvalidDescriptor,
        "offset MAX",
    );
}

#[test]
fn output_offset_mismatch_poisons() {
    let k = ErrorKind::InvalidDescriptor;
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: out_off(r, 64),
            payload_nbytes: 16,
        },
        k,
        "not at the expected position",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: in_off(r, 0),
            payload_nbytes: 16,
        },
        k,
        "in the input arena",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: 0,
            payload_nbytes: 16,
        },
        k,
        "in the descriptor rings",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: out_off(r, 200),
            payload_nbytes: 100,
        },
        k,
        "past the arena end",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: out_off(r, 0),
            payload_nbytes: 257,
        },
        k,
        "larger than the arena",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: u64::MAX - 3,
            payload_nbytes: 8,
        },
        k,
        "offset overflows",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA,
            payload_offset: out_off(r, 0),
            payload_nbytes: u64::MAX,
        },
        k,
        "size overflows",
    );

    // After a message at [0, 100) is released, the next one must be at 100
    // (or 0, as a wrap); 200 is neither.
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.send(DATA, 0, &[1; 100]);
    let m = q.try_peek().unwrap();
    q.release(&m).unwrap();
    out.send(DATA, 200, &[2; 50]);
    assert_eq!(q.try_peek(), Err(Error::Poisoned(k)));
    assert_poisoned(&mut q, &region, k, Operation::Peek);
}

#[test]
fn output_seq_opcode_and_counter_breaches_poison() {
    let k = ErrorKind::InvalidDescriptor;
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 2,
            opcode: DATA,
            payload_offset: out_off(r, 0),
            payload_nbytes: 4,
        },
        k,
        "seq ahead",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 0,
            opcode: DATA,
            payload_offset: out_off(r, 0),
            payload_nbytes: 4,
        },
        k,
        "seq 0",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: L3L2Q_OPCODE_INVALID,
            payload_offset: 0,
            payload_nbytes: 0,
        },
        k,
        "INVALID",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: 4,
            payload_offset: 0,
            payload_nbytes: 0,
        },
        k,
        "opcode 4",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: u64::MAX,
            payload_offset: 0,
            payload_nbytes: 0,
        },
        k,
        "opcode MAX",
    );

    // Impossible tails: more than depth ahead, 2^31 ahead, backwards.
    for tail in [5u32, 0x8000_0000, u32::MAX] {
        let region = RawRegion::new(4, 256, 256);
        let mut q = queue(&region);
        region.set_counter(L3L2Q_OUTPUT_DESC_TAIL_OFFSET, tail);
        assert_eq!(
            q.try_peek(),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "tail {tail:#x}"
        );
        assert_poisoned(
            &mut q,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
        );
    }
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.send(DATA, 0, b"one");
    out.send(DATA, 3, b"two");
    let m = q.try_peek().unwrap();
    q.release(&m).unwrap();
    region.set_counter(L3L2Q_OUTPUT_DESC_TAIL_OFFSET, 1);
    // The second message was already observed; the tail moving back is a breach
    // the next time the queue looks at it.
    let m = q.try_peek().unwrap();
    q.release(&m).unwrap();
    assert_eq!(
        q.try_peek(),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
    );
}

#[test]
fn input_head_breaches_poison() {
    // Head more than depth ahead.
    let region = RawRegion::new(2, 256, 64);
    let mut q = queue(&region);
    q.try_enqueue(DATA, b"a").unwrap();
    q.try_enqueue(DATA, b"b").unwrap();
    region.set_counter(L3L2Q_INPUT_DESC_HEAD_OFFSET, 3);
    assert_eq!(
        q.try_enqueue(DATA, b"c"),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Enqueue,
    );
    // Head past the published tail, within depth.
    let region = RawRegion::new(4, 64, 64);
    let mut q = queue(&region);
    q.try_enqueue(DATA, &[1; 64]).unwrap();
    region.set_counter(L3L2Q_INPUT_DESC_HEAD_OFFSET, 2);
    assert_eq!(
        q.try_enqueue(DATA, &[2; 1]),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Enqueue,
    );
}

#[test]
fn output_wrap_to_the_arena_start_is_accepted_even_when_it_would_fit() {
    // Other implementations retire padding eagerly: after a full drain a
    // message may come at the arena start although it fit at the tail.
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.send(DATA, 0, &[1; 100]);
    let m = q.try_peek().unwrap();
    q.release(&m).unwrap();
    out.send(DATA, 0, &[2; 10]);
    out.send(DATA, 10, &[3; 20]);
    let mut buf = [0u8; 256];
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((DATA, 10)));
    assert_eq!(&buf[..10], &[2; 10]);
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((DATA, 20)));
    assert_eq!(&buf[..20], &[3; 20]);
    assert_healthy(&q, &region);
}

#[test]
fn output_wrap_over_held_bytes_poisons() {
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.send(DATA, 0, &[1; 200]);
    let m = q.try_peek().unwrap();
    out.send(DATA, 0, &[2; 100]); // would overwrite the bytes L3 holds
    // Acquiring the second while the first is held must poison.
    let mut batch = [Message::EMPTY; 2];
    assert_eq!(
        q.try_peek_batch(&mut batch),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(batch[0], m);
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
    );
}

#[test]
fn error_output_is_delivered_without_poison() {
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.send(ERROR, 0, b"device says no");
    out.send(ERROR, 0, &[]);
    out.send(DATA, 14, b"ok");
    let m = q.peek(MS).unwrap();
    assert_eq!((m.opcode, m.payload_nbytes), (ERROR, 14));
    let mut buf = [0u8; 64];
    assert_eq!(q.read_into(&m, &mut buf), Ok(14));
    assert_eq!(&buf[..14], b"device says no");
    q.release(&m).unwrap();
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((ERROR, 0)));
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((DATA, 2)));
    assert_healthy(&q, &region);
    // And ERROR goes the other way as an ordinary message.
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_enqueue(ERROR, b"host failure").unwrap();
    let (s, p) = l2.expect();
    assert_eq!((s.opcode, p.as_slice()), (ERROR, &b"host failure"[..]));
    assert_healthy(&q, &region);
}

// --------------------------------------------------------------- ownership

#[test]
fn repeated_try_peek_returns_the_same_message_until_released() {
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.send(DATA, 0, b"first");
    out.send(DATA, 5, b"second");
    let m = q.try_peek().unwrap();
    for _ in 0..5 {
        assert_eq!(q.try_peek(), Ok(m));
        assert_eq!(q.peek(MS), Ok(m));
    }
    assert_eq!(m.seq, 1);
    assert_eq!(
        region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET),
        0,
        "peeking releases nothing"
    );
    let mut buf = [0u8; 16];
    assert_eq!(q.read_into(&m, &mut buf), Ok(5));
    assert_eq!(q.read_into(&m, &mut buf), Ok(5), "reading does not release");
    assert_eq!(q.try_peek(), Ok(m));
    q.release(&m).unwrap();
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 1);
    let n = q.try_peek().unwrap();
    assert_eq!((n.seq, n.payload_nbytes), (2, 6));
    assert_eq!(q.try_peek(), Ok(n));
    assert_healthy(&q, &region);
}

#[test]
fn read_into_a_small_buffer_is_buffer_too_small_without_poison() {
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.send(DATA, 0, b"0123456789");
    let m = q.try_peek().unwrap();
    let mut small = [0xeeu8; 9];
    assert_eq!(q.read_into(&m, &mut small), Err(Error::BufferTooSmall));
    assert_eq!(small, [0xee; 9], "nothing copied");
    assert_eq!(q.try_dequeue_into(&mut small), Err(Error::BufferTooSmall));
    assert_eq!(q.dequeue_into(&mut small, MS), Err(Error::BufferTooSmall));
    assert_eq!(q.try_peek(), Ok(m), "still active");
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 0);
    assert_healthy(&q, &region);
    let mut exact = [0u8; 10];
    assert_eq!(q.try_dequeue_into(&mut exact), Ok((DATA, 10)));
    assert_eq!(&exact, b"0123456789");
    assert_healthy(&q, &region);
}

#[test]
fn releasing_anything_but_the_active_message_is_ownership_poison() {
    type Case = fn(&mut L3Queue<MappedRegion>, &RawRegion) -> (Result<(), Error>, Operation);
    let cases: [(&str, Case); 8] = [
        ("release before any peek", |q, r| {
            let fake = Message {
                seq: 1,
                opcode: DATA,
                payload_offset: out_off(r, 0),
                payload_nbytes: 4,
                data: core::ptr::null(),
            };
            (q.release(&fake), Operation::Release)
        }),
        ("release an altered size", |q, _| {
            let m = q.try_peek().unwrap();
            (
                q.release(&Message {
                    payload_nbytes: 3,
                    ..m
                }),
                Operation::Release,
            )
        }),
        ("release an altered offset", |q, _| {
            let m = q.try_peek().unwrap();
            (
                q.release(&Message {
                    payload_offset: m.payload_offset + 1,
                    ..m
                }),
                Operation::Release,
            )
        }),
        ("release an altered opcode", |q, _| {
            let m = q.try_peek().unwrap();
            (
                q.release(&Message { opcode: ERROR, ..m }),
                Operation::Release,
            )
        }),
        ("release twice", |q, _| {
            let m = q.try_peek().unwrap();
            q.release(&m).unwrap();
            (q.release(&m), Operation::Release)
        }),
        ("release the next message instead", |q, r| {
            let m = q.try_peek().unwrap();
            let next = Message {
                seq: 2,
                payload_offset: out_off(r, 4),
                data: core::ptr::null(),
                ..m
            };
            (q.release(&next), Operation::Release)
        }),
        ("release an empty message", |q, _| {
            let _ = q.try_peek().unwrap();
            (q.release(&Message::EMPTY), Operation::Release)
        }),
        ("read a message not held", |q, _| {
            let m = q.try_peek().unwrap();
            q.release(&m).unwrap();
            let mut buf = [0u8; 8];
            (q.read_into(&m, &mut buf).map(|_| ()), Operation::ReadInto)
        }),
    ];
    for (what, case) in cases {
        let region = RawRegion::new(4, 256, 256);
        let mut q = queue(&region);
        let mut out = RawProducer::output(&region, 0);
        out.send(DATA, 0, b"abcd");
        out.send(DATA, 4, b"efgh");
        let head = region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET);
        let (result, op) = case(&mut q, &region);
        assert_eq!(result, Err(Error::Poisoned(ErrorKind::Ownership)), "{what}");
        assert!(
            region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET) <= head + 1,
            "{what}"
        );
        assert_poisoned(&mut q, &region, ErrorKind::Ownership, op);
    }
}

// ---------------------------------------------------------------- timeouts

#[test]
fn timeout_without_the_l2_abort_flag() {
    let region = RawRegion::new(2, 128, 128);
    let mut q = queue(&region);
    q.try_enqueue(DATA, b"a").unwrap();
    q.try_enqueue(DATA, b"b").unwrap();
    let mut buf = [0u8; 8];
    let started = Instant::now();
    assert_eq!(q.enqueue(DATA, b"c", 3 * MS), Err(Error::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(3));
    assert_eq!(q.request_stop(3 * MS), Err(Error::Timeout));
    assert_eq!(q.peek(3 * MS), Err(Error::Timeout));
    assert_eq!(q.dequeue_into(&mut buf, 3 * MS), Err(Error::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(12));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!q.peer_aborted());
    assert_healthy(&q, &region);
    // Not poisoned: everything works once there is room / something to read.
    let mut l2 = RawConsumer::input(&region, 0);
    l2.expect();
    l2.release_to(1);
    q.enqueue(DATA, b"c", 3 * MS).unwrap();
    RawProducer::output(&region, 0).send(DATA, 0, b"x");
    assert_eq!(q.dequeue_into(&mut buf, 3 * MS), Ok((DATA, 1)));
}

#[test]
fn timeout_with_the_l2_abort_flag_is_remote_aborted_and_terminal() {
    let region = RawRegion::new(2, 128, 128);
    let mut q = queue(&region);
    q.try_enqueue(DATA, b"a").unwrap();
    q.try_enqueue(DATA, b"b").unwrap();
    region.set_counter(L2_FLAG, 1);
    assert!(q.peer_aborted());
    assert_healthy(&q, &region); // the pure observation records nothing
    let mut buf = [0u8; 8];
    assert_eq!(q.enqueue(DATA, b"c", 2 * MS), Err(Error::RemoteAborted));
    // Recorded (SPEC 9) without raising our own flag...
    let info = *q.error().expect("a remote abort is recorded");
    assert_eq!(info.kind(), ErrorKind::RemoteAborted);
    assert_eq!(info.operation, Operation::Timeout as u32);
    assert_eq!(region.counter(L3_FLAG), 0);
    // ...and terminal: every later call fails fast, blocking or not, even
    // with work available.
    RawProducer::output(&region, 0).send(DATA, 0, b"late reply");
    assert_eq!(q.request_stop(2 * MS), Err(Error::RemoteAborted));
    assert_eq!(q.peek(2 * MS).map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(q.dequeue_into(&mut buf, 2 * MS), Err(Error::RemoteAborted));
    assert_eq!(q.try_peek().map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(q.try_enqueue(DATA, b"c"), Err(Error::RemoteAborted));
    assert_eq!(region.counter(L3_FLAG), 0);
}

#[test]
fn zero_timeout_is_one_immediate_attempt() {
    let region = RawRegion::new(1, 64, 64);
    let mut q = queue(&region);
    let started = Instant::now();
    assert_eq!(q.peek(0).map(|_| ()), Err(Error::Timeout));
    q.enqueue(DATA, b"a", 0).unwrap();
    assert_eq!(q.enqueue(DATA, b"b", 0), Err(Error::Timeout));
    assert_healthy(&q, &region);
    region.set_counter(L2_FLAG, 1);
    assert_eq!(q.enqueue(DATA, b"b", 0), Err(Error::RemoteAborted));
    assert_eq!(q.peek(0).map(|_| ()), Err(Error::RemoteAborted));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(region.counter(L3_FLAG), 0);
}

// -------------------------------------------------------- callback failures

#[test]
fn counter_load_failure_before_mutation_is_callback_failed_without_poison() {
    let region = RawRegion::new(2, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_enqueue(DATA, b"one").unwrap();
    q.try_enqueue(DATA, b"two").unwrap();
    l2.expect();
    l2.expect();
    l2.release_all();

    // The ring looks full locally, so the queue must load the head first.
    let before = snapshot(&region);
    let (writes, stores) = (
        cb.calls(CallKind::PayloadWrite),
        cb.calls(CallKind::CounterStore),
    );
    cb.fail_nth(CallKind::CounterLoad, 1);
    assert_eq!(q.try_enqueue(DATA, b"three"), Err(Error::CallbackFailed));
    assert_eq!(
        (
            cb.calls(CallKind::PayloadWrite),
            cb.calls(CallKind::CounterStore)
        ),
        (writes, stores)
    );
    assert_eq!(snapshot(&region), before);
    assert_healthy(&q, &region);
    cb.fail_nth(CallKind::CounterLoad, 1);
    assert_eq!(
        q.enqueue(DATA, b"three", 1000 * MS),
        Err(Error::CallbackFailed),
        "a failed load ends a blocking call at once"
    );
    assert_healthy(&q, &region);
    // Retried, it goes through.
    q.try_enqueue(DATA, b"three").unwrap();
    assert_eq!(l2.expect().1, b"three");

    // Output side: a failed tail load is CallbackFailed too.
    RawProducer::output(&region, 0).send(DATA, 0, b"out");
    cb.fail_nth(CallKind::CounterLoad, 1);
    assert_eq!(q.try_peek(), Err(Error::CallbackFailed));
    cb.fail_nth(CallKind::CounterLoad, 1);
    assert_eq!(q.peek(1000 * MS), Err(Error::CallbackFailed));
    assert_healthy(&q, &region);
    let m = q.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_nbytes), (1, 3));
    assert!(m.data.is_null(), "a callback region has no in-place view");
    assert_healthy(&q, &region);
}

#[test]
fn payload_read_failure_is_callback_failed_without_poison() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    let mut out = RawProducer::output(&region, 0);
    out.send(DATA, 0, b"abc");
    // Slot read of a peek.
    cb.fail_nth(CallKind::PayloadRead, 1);
    assert_eq!(q.try_peek(), Err(Error::CallbackFailed));
    assert_healthy(&q, &region);
    let m = q.try_peek().unwrap();
    assert_eq!(m.seq, 1, "the failed read skipped nothing");
    // Payload read of read_into and dequeue_into: the message stays active.
    let mut buf = [0u8; 8];
    cb.fail_nth(CallKind::PayloadRead, 1);
    assert_eq!(q.read_into(&m, &mut buf), Err(Error::CallbackFailed));
    cb.fail_nth(CallKind::PayloadRead, 1);
    assert_eq!(q.try_dequeue_into(&mut buf), Err(Error::CallbackFailed));
    assert_eq!(q.try_peek(), Ok(m));
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 0);
    assert_healthy(&q, &region);
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((DATA, 3)));
    assert_eq!(&buf[..3], b"abc");

    // Slot read while replaying released input descriptors.
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_enqueue(DATA, &[1; 200]).unwrap();
    q.try_enqueue(DATA, &[2; 50]).unwrap();
    l2.expect();
    l2.expect();
    l2.release_to(1);
    let before = snapshot(&region);
    cb.fail_nth(CallKind::PayloadRead, 1);
    assert_eq!(q.try_enqueue(DATA, &[3; 100]), Err(Error::CallbackFailed));
    assert_eq!(snapshot(&region), before);
    assert_healthy(&q, &region);
    q.try_enqueue(DATA, &[3; 100]).unwrap();
    let (s, p) = l2.expect();
    assert_eq!((s.payload_offset, p), (in_off(&region, 0), vec![3; 100]));
    assert_healthy(&q, &region);
}

#[test]
fn payload_write_failure_poisons_and_sets_flag_256() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    cb.fail_nth(CallKind::PayloadWrite, 1);
    assert_eq!(
        q.try_enqueue(DATA, b"hello"),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(
        region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET),
        0,
        "nothing published"
    );
    assert_eq!(region.counter(L3_FLAG), 1);
    let info = *q.error().unwrap();
    assert!(
        matches!(info.operation, o if o == Operation::Publish as u32 || o == Operation::Enqueue as u32),
        "{info:?}"
    );
    let op = info.operation;
    let calls = cb.total_calls();
    let kind = ErrorKind::EndpointError;
    assert_eq!(q.try_enqueue(DATA, b"x"), Err(Error::Poisoned(kind)));
    assert_eq!(q.try_peek(), Err(Error::Poisoned(kind)));
    assert_eq!(q.try_request_stop(), Err(Error::Poisoned(kind)));
    assert_eq!(
        cb.total_calls(),
        calls,
        "fail fast: no callback after poison"
    );
    assert_poisoned(
        &mut q,
        &region,
        kind,
        if op == Operation::Publish as u32 {
            Operation::Publish
        } else {
            Operation::Enqueue
        },
    );

    // The zero-copy path: write_reserved fails.
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    let r = q.try_reserve(16).unwrap();
    assert!(r.data.is_null());
    q.write_reserved(&r, 0, &[1; 8]).unwrap();
    cb.fail_nth(CallKind::PayloadWrite, 1);
    assert_eq!(
        q.write_reserved(&r, 8, &[2; 8]),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(region.counter(L3_FLAG), 1);
    assert_eq!(
        q.commit(&r, DATA, 16),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 0);
}

#[test]
fn slot_write_failure_poisons() {
    for nth in [1, 2] {
        let region = RawRegion::new(4, 256, 256);
        let cb = FaultyCallbacks::new(&region);
        let mut q = cb_queue(&cb);
        // Zero bytes: the only writes are the slot's (fields, then seq).
        cb.fail_nth(CallKind::PayloadWrite, nth);
        assert_eq!(
            q.try_enqueue(ERROR, &[]),
            Err(Error::Poisoned(ErrorKind::EndpointError)),
            "slot write {nth}"
        );
        assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 0);
        assert_poisoned(
            &mut q,
            &region,
            ErrorKind::EndpointError,
            Operation::Enqueue,
        );
    }
}

#[test]
fn tail_store_failure_poisons_and_sets_flag_256() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    q.try_enqueue(DATA, b"ok").unwrap();
    cb.fail_nth(CallKind::CounterStore, 1);
    assert_eq!(
        q.try_enqueue(DATA, b"lost"),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 1);
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::EndpointError,
        Operation::Enqueue,
    );

    // STOP's tail store.
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    cb.fail_nth(CallKind::CounterStore, 1);
    assert_eq!(
        q.try_request_stop(),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert!(!q.is_stopped());
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::EndpointError,
        Operation::RequestStop,
    );
}

#[test]
fn head_store_failure_poisons() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    RawProducer::output(&region, 0).send(DATA, 0, b"abc");
    let m = q.try_peek().unwrap();
    cb.fail_nth(CallKind::CounterStore, 1);
    assert_eq!(
        q.release(&m),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 0);
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::EndpointError,
        Operation::Release,
    );
}

#[test]
fn poison_stands_when_the_abort_flag_cannot_be_stored() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    cb.fail_all(CallKind::CounterStore);
    assert_eq!(
        q.try_enqueue(DATA, b"x"),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert!(
        cb.calls(CallKind::CounterStore) >= 2,
        "the queue must try to raise its flag"
    );
    assert_eq!(region.counter(L3_FLAG), 0, "the store failed");
    assert_eq!(q.error().unwrap().kind(), ErrorKind::EndpointError);
    let calls = cb.total_calls();
    let mut buf = [0u8; 4];
    assert_eq!(
        q.try_enqueue(DATA, b"x"),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(q.try_peek(), Err(Error::Poisoned(ErrorKind::EndpointError)));
    assert_eq!(
        q.try_dequeue_into(&mut buf),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(
        q.request_stop(MS),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(q.flush(), Err(Error::Poisoned(ErrorKind::EndpointError)));
    assert_eq!(
        cb.total_calls(),
        calls,
        "fail fast without touching the region"
    );
    drop(q); // freeing a poisoned queue is fine
}

// ------------------------------------------------------ counters and peers

#[test]
fn counters_cross_2_pow_31_and_2_pow_32() {
    for initial in [(1u64 << 31) - 5, (1u64 << 32) - 5, (7u64 << 32) - 5] {
        let region = RawRegion::new(4, 256, 256);
        let l = region.layout;
        let mut q = L3Queue::create_at(mapped(&region), &region.descriptor(), 4, 256, 256, initial)
            .unwrap();
        assert_eq!(
            counters(&region),
            [
                initial as u32,
                initial as u32,
                initial as u32,
                initial as u32,
                0,
                0
            ]
        );
        let mut l2 = RawConsumer::input(&region, initial);
        let mut out = RawProducer::output(&region, initial);
        let mut buf = [0u8; 256];
        for k in 0..24u64 {
            let payload = pattern((k as usize * 37) % 200, k as u8);
            q.enqueue(DATA, &payload, MS).unwrap();
            let (s, p) = l2.expect();
            assert_eq!(s.seq, initial + k + 1);
            assert_eq!(p, payload);
            l2.release_all();
            // Output after a full drain: the arena start is always allowed
            // (the expected position, or a wrap).
            out.send(ERROR, 0, &payload);
            assert_eq!(q.dequeue_into(&mut buf, MS), Ok((ERROR, payload.len())));
            assert_eq!(&buf[..payload.len()], payload.as_slice());
        }
        assert_eq!(
            region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET),
            (initial + 24) as u32
        );
        assert_eq!(
            region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET),
            (initial + 24) as u32
        );
        assert_eq!(l.depth, 4);
        assert_healthy(&q, &region);
    }
}

#[test]
fn callbacks_backend_round_trips_with_a_library_l2() {
    let region = RawRegion::new(8, 512, 384);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    let mut l2 = l2_of(&q, 4);
    let mut buf = [0u8; 512];
    for k in 0..200usize {
        let payload = pattern((k * 53) % 513, k as u8);
        if k % 3 == 0 {
            let r = q
                .try_reserve(payload.len() as u64 + 7)
                .or_else(|_| q.try_reserve(payload.len() as u64))
                .unwrap();
            assert!(r.data.is_null());
            q.write_reserved(&r, 0, &payload).unwrap();
            q.commit(&r, DATA, payload.len() as u64).unwrap();
        } else {
            q.enqueue(DATA, &payload, MS).unwrap();
        }
        let m = l2.try_peek().unwrap();
        assert_eq!(l2.payload(&m), payload.as_slice());
        l2.release(&m).unwrap();
        let reply = pattern((k * 29) % 385, !(k as u8));
        l2.try_send(if k % 5 == 0 { ERROR } else { DATA }, &reply)
            .unwrap();
        let (op, n) = q.dequeue_into(&mut buf, MS).unwrap();
        assert_eq!(
            (op, &buf[..n]),
            (if k % 5 == 0 { ERROR } else { DATA }, reply.as_slice())
        );
    }
    q.request_stop(MS).unwrap();
    let stop = l2.try_peek().unwrap();
    assert_eq!(stop.opcode, STOP);
    l2.release(&stop).unwrap();
    assert!(l2.drained());
    assert!(l2.error().is_none());
    assert_healthy(&q, &region);
}

// ------------------------------------------------- zero-copy input rules

#[test]
fn zero_copy_reservation_fills_in_place_and_shrinks() {
    let region = RawRegion::new(4, 256, 64);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    let r = q.try_reserve(100).unwrap();
    assert!(!r.data.is_null());
    assert_eq!((r.capacity, r.payload_offset), (100, in_off(&region, 0)));
    // SAFETY: the active reservation's bytes, not visible to L2 before commit.
    unsafe { core::slice::from_raw_parts_mut(r.data, 100) }.fill(7);
    assert_eq!(
        region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET),
        0,
        "nothing visible before commit"
    );
    q.commit(&r, DATA, 60).unwrap();
    let (s, p) = l2.expect();
    assert_eq!((s.payload_offset, p), (in_off(&region, 0), vec![7; 60]));
    // The unused 40 bytes went back: the next message starts at 60.
    q.try_enqueue(DATA, b"next").unwrap();
    assert_eq!(l2.expect().0.payload_offset, in_off(&region, 60));
    // Committing zero bytes rolls the reservation back and writes offset 0.
    let r = q.try_reserve(50).unwrap();
    q.commit(&r, ERROR, 0).unwrap();
    assert_eq!(
        l2.expect().0,
        DescriptorSlot {
            seq: 3,
            opcode: ERROR,
            payload_offset: 0,
            payload_nbytes: 0
        }
    );
    q.try_enqueue(DATA, b"x").unwrap();
    assert_eq!(l2.expect().0.payload_offset, in_off(&region, 64));
    assert_healthy(&q, &region);
}

#[test]
fn zero_copy_reservation_misuse() {
    // Commit more than reserved: a caller error, the reservation stays active.
    let region = RawRegion::new(4, 256, 64);
    let mut q = queue(&region);
    let r = q.try_reserve(8).unwrap();
    assert_eq!(q.commit(&r, DATA, 9), Err(Error::BadArgument));
    assert_eq!(q.write_reserved(&r, 4, &[0; 5]), Err(Error::BadArgument));
    assert_eq!(
        q.write_reserved(&r, u64::MAX, &[0; 1]),
        Err(Error::BadArgument)
    );
    // STOP cannot overtake an uncommitted input.
    assert_eq!(q.try_request_stop(), Err(Error::BadArgument));
    assert!(!q.is_stopped());
    assert_healthy(&q, &region);
    q.commit(&r, DATA, 8).unwrap();
    q.try_request_stop().unwrap();
    assert_healthy(&q, &region);

    type Case = fn(&mut L3Queue<MappedRegion>) -> (Result<(), Error>, ErrorKind, Operation);
    let cases: [(&str, Case); 6] = [
        ("second reserve while one is active", |q| {
            let _r = q.try_reserve(8).unwrap();
            (
                q.try_reserve(8).map(|_| ()),
                ErrorKind::Ownership,
                Operation::Reserve,
            )
        }),
        ("enqueue while a reservation is active", |q| {
            let _r = q.try_reserve(8).unwrap();
            (
                q.try_enqueue(DATA, b"x"),
                ErrorKind::Ownership,
                Operation::Reserve,
            )
        }),
        ("commit twice", |q| {
            let r = q.try_reserve(8).unwrap();
            q.commit(&r, DATA, 8).unwrap();
            (
                q.commit(&r, DATA, 8),
                ErrorKind::Ownership,
                Operation::Publish,
            )
        }),
        ("commit an altered reservation", |q| {
            let r = q.try_reserve(8).unwrap();
            (
                q.commit(
                    &Reservation {
                        payload_offset: r.payload_offset + 8,
                        ..r
                    },
                    DATA,
                    8,
                ),
                ErrorKind::Ownership,
                Operation::Publish,
            )
        }),
        ("commit with STOP", |q| {
            let r = q.try_reserve(0).unwrap();
            (
                q.commit(&r, STOP, 0),
                ErrorKind::InvalidDescriptor,
                Operation::Publish,
            )
        }),
        ("commit with an invalid opcode", |q| {
            let r = q.try_reserve(4).unwrap();
            (
                q.commit(&r, 9, 4),
                ErrorKind::InvalidDescriptor,
                Operation::Publish,
            )
        }),
    ];
    for (what, case) in cases {
        let region = RawRegion::new(4, 256, 64);
        let mut q = queue(&region);
        let tail = region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET);
        let (result, kind, op) = case(&mut q);
        assert_eq!(result, Err(Error::Poisoned(kind)), "{what}");
        assert!(
            region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET) <= tail + 1,
            "{what}"
        );
        assert_poisoned(&mut q, &region, kind, op);
    }
}
