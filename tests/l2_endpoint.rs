//! The L2 endpoint, driven by a raw L3 written against the wire
//! format (tests/support/raw.rs) rather than the library's own core. Every
//! test asserts the wire effects (counters, slots the endpoint wrote on the
//! output ring, the abort flags) as well as the return values.

mod support;

use std::ptr;
use std::time::{Duration, Instant};

use l3l2q::*;
use support::raw::{RawConsumer, RawProducer, RawRegion};

const DATA: u64 = L3L2Q_OPCODE_DATA;
const STOP: u64 = L3L2Q_OPCODE_STOP;
const ERROR: u64 = L3L2Q_OPCODE_ERROR;
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

fn slot(seq: u64, opcode: u64, payload_offset: u64, payload_nbytes: u64) -> DescriptorSlot {
    DescriptorSlot {
        seq,
        opcode,
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
    assert_eq!(l2.try_send(DATA, b"x"), fail);
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

// ---------------------------------------------------------------- creation

#[test]
fn creation_with_a_bad_descriptor_reports_the_violation_and_touches_nothing() {
    let region = RawRegion::new(4, 1024, 1024);
    let good_d = region.descriptor();
    let good_a = region.args();
    type Case = (fn(&mut RegionDescriptor, &mut QueueArgs), Violation);
    let cases: [Case; 12] = [
        (|d, _| d.magic_version ^= 1 << 33, Violation::RegionMagic),
        (
            |d, _| d.magic_version = layout::pack_magic_version(L3L2Q_REGION_MAGIC, 4, 0),
            Violation::RegionMajor,
        ),
        (|d, _| d.region_id = 0, Violation::RegionIdZero),
        (|d, _| d.payload_base = 0, Violation::PayloadBaseZero),
        (|d, _| d.counter_base += 4, Violation::CounterBaseMisaligned),
        (|d, _| d.counter_bytes = 6, Violation::CounterBytesInvalid),
        (
            |d, _| d.counter_base = d.payload_base,
            Violation::RangesOverlap,
        ),
        (
            |_, a| a.magic_version = layout::pack_magic_version(L3L2Q_QUEUE_MAGIC, 1, 0),
            Violation::QueueMagic,
        ),
        (|_, a| a.depth = 3, Violation::Depth),
        (|_, a| a.output_arena_bytes = 1000, Violation::OutputArena),
        (|_, a| a.payload_bytes += 64, Violation::ArgsPayloadBytes),
        (
            |d, _| d.payload_bytes += 64,
            Violation::DescriptorPayloadBytes,
        ),
    ];
    for (mutate, violation) in cases {
        let (mut d, mut a) = (good_d, good_a);
        mutate(&mut d, &mut a);
        // SAFETY: the descriptor is rejected before anything is touched; the
        // mapped parts are the region's own.
        let result = unsafe { L2Endpoint::from_descriptor(&d, &a, 1, 0) };
        assert_eq!(result.err(), Some(Error::BadDescriptor(violation)));
        // SAFETY: as above.
        let result = unsafe { L2Endpoint::from_task_scalars(&TaskScalars::encode(&d, &a), 1) };
        assert_eq!(result.err(), Some(Error::BadDescriptor(violation)));
        assert_eq!(counters(&region), [0; 6], "{violation:?}: nothing touched");
    }
    // Minor versions and region major 3 are accepted.
    for (major, minor) in [(2, 7), (3, 0), (3, 9)] {
        let mut d = good_d;
        d.magic_version = layout::pack_magic_version(L3L2Q_REGION_MAGIC, major, minor);
        // SAFETY: the region outlives the endpoint.
        let l2 = unsafe { L2Endpoint::from_descriptor(&d, &good_a, 1, 0) }.expect("accepted");
        assert_eq!(*l2.layout(), region.layout);
    }
}

#[test]
fn window_zero_or_above_depth_is_bad_argument_without_touching_the_abort_flag() {
    let region = RawRegion::new(4, 1024, 1024);
    for window in [0, 5, 8, u64::MAX] {
        // SAFETY: the region outlives the attempt.
        let result = unsafe { L2Endpoint::from_task_scalars(&region.scalars(), window) };
        assert_eq!(result.err(), Some(Error::BadArgument), "window {window}");
        // SAFETY: as above.
        let result =
            unsafe { L2Endpoint::from_descriptor(&region.descriptor(), &region.args(), window, 0) };
        assert_eq!(result.err(), Some(Error::BadArgument), "window {window}");
    }
    assert_eq!(counters(&region), [0; 6]);
    for window in 1..=4 {
        assert_eq!(open(&region, window).max_inflight(), window);
    }
    assert_eq!(counters(&region), [0; 6]);
}

// ------------------------------------------------------------ input basics

#[test]
fn zero_byte_messages_have_offset_zero_no_view_and_take_no_arena_bytes() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);

    l3.send(DATA, 0, b"");
    let m = l2.try_peek().unwrap();
    assert_eq!(
        m,
        Message {
            seq: 1,
            opcode: DATA,
            payload_offset: 0,
            payload_nbytes: 0,
            data: ptr::null()
        }
    );
    assert!(l2.holds(&m));
    assert!(l2.payload(&m).is_empty());
    assert_eq!(l2.copy_payload(&m, &mut []), Ok(0));
    assert_eq!(region.counter(IN_HEAD), 0, "the head moves only on release");
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    assert!(!l2.holds(&m));

    // No arena bytes were used: the next payload is expected at arena offset 0.
    l3.send(DATA, 0, b"abc");
    let m = l2.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_offset, m.payload_nbytes), (2, arena, 3));
    assert_eq!(l2.payload(&m), b"abc");
    l2.release(&m).unwrap();

    // A zero-byte ERROR between payloads leaves the cursor at 3.
    l3.send(ERROR, 0, b"");
    let m = l2.try_peek().unwrap();
    assert_eq!(
        (m.seq, m.opcode, m.payload_offset, m.payload_nbytes),
        (3, ERROR, 0, 0)
    );
    l2.release(&m).unwrap();
    l3.send(DATA, 3, b"de");
    let m = l2.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_offset), (4, arena + 3));
    assert_eq!(l2.payload(&m), b"de");
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 4);
    assert_healthy(&l2, &region);
}

#[test]
fn input_payload_bytes_are_visible_in_place_through_the_view() {
    // An odd payload base: no alignment may be assumed.
    let region = RawRegion::with_skew(4, 1024, 1024, 5);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    let (a, b) = (bytes(100, 7), bytes(37, 200));
    l3.write(DATA, 0, &a);
    l3.write(DATA, 100, &b);
    l3.publish();

    let ma = l2.try_peek().unwrap();
    let mb = l2.try_peek().unwrap();
    assert_eq!(
        (ma.seq, ma.opcode, ma.payload_offset, ma.payload_nbytes),
        (1, DATA, arena, 100)
    );
    assert_eq!(
        (mb.seq, mb.opcode, mb.payload_offset, mb.payload_nbytes),
        (2, DATA, arena + 100, 37)
    );
    assert_eq!(
        ma.data,
        region
            .payload_base()
            .wrapping_add(arena as usize)
            .cast_const(),
        "zero-copy: points into the region"
    );
    assert_eq!(
        mb.data,
        region
            .payload_base()
            .wrapping_add(arena as usize + 100)
            .cast_const()
    );
    assert_eq!(l2.payload(&ma), &a[..]);
    // SAFETY: mb is held by the live endpoint and released only below.
    assert_eq!(unsafe { mb.payload() }, &b[..]);
    let mut buf = [0u8; 128];
    assert_eq!(l2.copy_payload(&ma, &mut buf), Ok(100));
    assert_eq!(&buf[..100], &a[..]);
    assert_eq!(
        l2.copy_payload(&ma, &mut buf[..99]),
        Err(Error::BufferTooSmall),
        "caller error, no poison"
    );

    let mut altered = mb;
    altered.payload_nbytes = 36;
    assert!(
        l2.payload(&altered).is_empty(),
        "an altered handle has no view"
    );
    let mut repointed = mb;
    repointed.data = ma.data;
    assert_eq!(
        l2.payload(&repointed),
        &b[..],
        "the view comes from the validated offset, not the handle's pointer"
    );
    repointed.data = ptr::null();
    assert_eq!(l2.payload(&repointed), &b[..]);
    l2.release(&ma).unwrap();
    assert!(l2.payload(&ma).is_empty(), "a released message has no view");
    assert_eq!(region.counter(IN_HEAD), 1);
    l2.release(&mb).unwrap();
    assert_eq!(region.counter(IN_HEAD), 2);
    assert_healthy(&l2, &region);
}

#[test]
fn error_input_is_an_ordinary_message_and_never_poisons() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(ERROR, 0, b"remote failure");
    let m = l2.try_peek().unwrap();
    assert_eq!(
        (m.seq, m.opcode, m.payload_offset, m.payload_nbytes),
        (1, ERROR, arena, 14)
    );
    assert_eq!(l2.payload(&m), b"remote failure");
    l2.release(&m).unwrap();
    l3.send(DATA, 14, b"after");
    let m = l2.try_peek().unwrap();
    assert_eq!((m.seq, m.opcode), (2, DATA));
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 2);
    assert_healthy(&l2, &region);
}

#[test]
fn input_slot_rewritten_after_acquire_does_not_change_the_held_handle() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(DATA, 0, &bytes(64, 1));
    let m = l2.try_peek().unwrap();
    // A hostile rewrite of the slot after the copy was taken.
    region.write_slot(
        region.layout.input_desc_offset,
        0,
        slot(9, INVALID, 7, u64::MAX),
    );
    assert!(l2.holds(&m));
    assert_eq!(
        (m.seq, m.opcode, m.payload_offset, m.payload_nbytes),
        (1, DATA, arena, 64)
    );
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_healthy(&l2, &region);
}

#[test]
fn peek_waits_for_a_message_published_later_by_another_thread() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            RawProducer::input(&region, 0).send(DATA, 0, b"late");
        });
        let m = l2.peek(10_000_000_000).expect("arrives within the bound");
        assert_eq!(l2.payload(&m), b"late");
        l2.release(&m).unwrap();
    });
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_healthy(&l2, &region);
}

// ------------------------------------------------------------ input arena

#[test]
fn input_message_ending_at_the_arena_end_is_followed_at_offset_zero() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 4);
    let mut l3 = RawProducer::input(&region, 0);
    l3.write(DATA, 0, &bytes(600, 1));
    l3.write(DATA, 600, &bytes(424, 2)); // ends exactly at the arena end
    l3.publish();
    let a = l2.try_peek().unwrap();
    let b = l2.try_peek().unwrap();
    assert_eq!((b.payload_offset, b.payload_nbytes), (arena + 600, 424));
    l2.release(&a).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    // The expected position is now 1024 % 1024 = 0; 424 bytes are still held
    // at [600, 1024) and [1024, 1124) does not reach them.
    let c_bytes = bytes(100, 3);
    l3.send(DATA, 0, &c_bytes);
    let c = l2.try_peek().unwrap();
    assert_eq!((c.seq, c.payload_offset, c.payload_nbytes), (3, arena, 100));
    assert_eq!(l2.payload(&c), &c_bytes[..]);
    l3.send(DATA, 100, b"next");
    let d = l2.try_peek().unwrap();
    assert_eq!(d.payload_offset, arena + 100);
    for m in [b, c, d] {
        l2.release(&m).unwrap();
    }
    assert_eq!(region.counter(IN_HEAD), 4);
    assert_healthy(&l2, &region);
}

#[test]
fn input_message_that_does_not_fit_before_the_end_wraps_to_arena_start() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(DATA, 0, &bytes(700, 1));
    let a = l2.try_peek().unwrap();
    l2.release(&a).unwrap();
    // 400 bytes do not fit in [700, 1024): the producer skips to the start.
    let b_bytes = bytes(400, 2);
    l3.send(DATA, 0, &b_bytes);
    let b = l2.try_peek().unwrap();
    assert_eq!((b.seq, b.payload_offset, b.payload_nbytes), (2, arena, 400));
    assert_eq!(l2.payload(&b), &b_bytes[..]);
    // The cursor continues after the wrapped message.
    l3.send(DATA, 400, &bytes(64, 3));
    let c = l2.try_peek().unwrap();
    assert_eq!(c.payload_offset, arena + 400);
    l2.release(&b).unwrap();
    l2.release(&c).unwrap();
    assert_eq!(region.counter(IN_HEAD), 3);
    assert_healthy(&l2, &region);
}

#[test]
fn input_wrap_to_arena_start_is_accepted_even_when_the_message_would_fit() {
    // Other producers retire padding eagerly (SPEC section 6).
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(DATA, 0, &bytes(300, 1));
    let a = l2.try_peek().unwrap();
    l2.release(&a).unwrap();
    l3.send(DATA, 0, &bytes(100, 2)); // would have fit at 300
    let b = l2.try_peek().unwrap();
    assert_eq!((b.payload_offset, b.payload_nbytes), (arena, 100));
    l2.release(&b).unwrap();
    l3.send(DATA, 100, &bytes(50, 3)); // after the wrap the cursor is at 100, not 400
    let c = l2.try_peek().unwrap();
    assert_eq!(c.payload_offset, arena + 100);
    l2.release(&c).unwrap();
    assert_eq!(region.counter(IN_HEAD), 3);
    assert_healthy(&l2, &region);
}

#[test]
fn input_wrap_over_held_bytes_poisons_and_leaves_the_head_untouched() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(DATA, 0, &bytes(800, 1));
    let _held = l2.try_peek().unwrap();
    l3.send(DATA, 0, &bytes(300, 2)); // would overwrite [0, 300) of the held message
    assert_eq!(
        l2.try_peek().unwrap_err(),
        Error::Poisoned(ErrorKind::InvalidDescriptor)
    );
    assert_eq!(region.counter(IN_HEAD), 0);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "bad arena position",
    );
}

#[test]
fn input_offset_mismatch_poisons_and_leaves_the_head_untouched() {
    // After 64 bytes at 0, the next payload belongs at 64 (or at 0 as a wrap).
    for bad in [128u64, 32, 65, 1023] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        let mut l3 = RawProducer::input(&region, 0);
        l3.send(DATA, 0, &bytes(64, 1));
        let a = l2.try_peek().unwrap();
        l2.release(&a).unwrap();
        assert_eq!(region.counter(IN_HEAD), 1);
        l3.send(DATA, bad, &[9]);
        assert_eq!(
            l2.try_peek().unwrap_err(),
            Error::Poisoned(ErrorKind::InvalidDescriptor),
            "offset {bad}"
        );
        assert_eq!(region.counter(IN_HEAD), 1, "offset {bad}: head untouched");
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
            "bad arena position",
        );
    }
}

// ---------------------------------------------------- capacity and counters

#[test]
fn input_capacity_is_exactly_depth_and_a_full_ring_is_not_empty() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    for lap in 0..3u64 {
        // tail = head + depth: masked, tail and head are the same slot.
        for _ in 0..4 {
            l3.write(DATA, 0, &[]);
        }
        l3.publish();
        assert_eq!(region.counter(IN_TAIL) as u64, 4 * lap + 4);
        assert_eq!(region.counter(IN_HEAD) as u64, 4 * lap);
        for i in 0..4 {
            let m = l2
                .try_peek()
                .unwrap_or_else(|e| panic!("lap {lap} message {i}: {e:?}"));
            assert_eq!(m.seq, 4 * lap + i + 1);
            l2.release(&m).unwrap();
        }
        assert_eq!(
            l2.try_peek().unwrap_err(),
            Error::NoProgress,
            "tail == head: empty"
        );
        assert_eq!(region.counter(IN_HEAD) as u64, 4 * lap + 4);
    }
    assert_healthy(&l2, &region);
}

#[test]
fn output_capacity_is_exactly_depth_and_a_full_ring_is_not_empty() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut l3 = RawConsumer::output(&region, 0);
    for i in 0..4u8 {
        l2.try_send(DATA, &[i]).unwrap();
    }
    assert_eq!((region.counter(OUT_TAIL), region.counter(OUT_HEAD)), (4, 0));
    // Masked tail == masked head, but the counters say full.
    assert_eq!(l2.try_send(DATA, &[4]), Err(Error::NoProgress));
    assert_eq!(
        l2.try_reserve(0).map(|_| ()),
        Err(Error::NoProgress),
        "a zero-byte message needs a slot too"
    );
    assert_eq!(region.counter(OUT_TAIL), 4);
    let (first, payload) = l3.take().unwrap();
    assert_eq!((first, payload), (slot(1, DATA, out, 1), vec![0]));
    l3.release();
    l2.try_send(DATA, &[4]).unwrap();
    assert_eq!(region.counter(OUT_TAIL), 5);
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        slot(5, DATA, out + 4, 1),
        "slot 0 reused by message 5"
    );
    let rest = l3.drain();
    let seqs: Vec<u64> = rest.iter().map(|(s, _)| s.seq).collect();
    assert_eq!(seqs, [2, 3, 4, 5]);
    assert_eq!(
        rest.iter().map(|(_, p)| p[0]).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(region.counter(OUT_HEAD), 5);
    // Drained: a full depth fits again.
    for i in 0..4u8 {
        l2.try_send(DATA, &[i]).unwrap();
    }
    assert_eq!(l2.try_send(DATA, &[9]), Err(Error::NoProgress));
    assert_eq!(region.counter(OUT_TAIL), 9);
    assert_healthy(&l2, &region);
}

/// Input and output traffic from counter value `start`, checking the raw
/// counters hold the low 32 bits of the monotonic counts and seq the full
/// u64 message number + 1.
fn traffic_from(start: u64) {
    let region = RawRegion::new(4, 256, 256);
    let (arena, out) = (
        region.layout.input_arena_offset,
        region.layout.output_arena_offset,
    );
    let mut l2 = open_at(&region, 1, start);
    let mut l3 = RawProducer::input(&region, start);
    let mut sink = RawConsumer::output(&region, start);
    for k in 0..10u64 {
        let p = start + k;
        let payload = bytes(64, k as u8);
        l3.send(DATA, (k % 4) * 64, &payload);
        assert_eq!(region.counter(IN_TAIL), (p + 1) as u32);
        let m = l2
            .try_peek()
            .unwrap_or_else(|e| panic!("start {start:#x} k {k}: {e:?}"));
        assert_eq!((m.seq, m.payload_offset), (p + 1, arena + (k % 4) * 64));
        assert_eq!(l2.payload(&m), &payload[..]);
        l2.release(&m).unwrap();
        assert_eq!(region.counter(IN_HEAD), (p + 1) as u32);

        l2.try_send(DATA, &payload).unwrap();
        assert_eq!(region.counter(OUT_TAIL), (p + 1) as u32);
        let (s, got) = sink.take().unwrap();
        assert_eq!(s, slot(p + 1, DATA, out + (k % 4) * 64, 64));
        assert_eq!(got, payload);
        if k % 3 == 2 {
            sink.release();
        }
    }
    // Fill the output ring to capacity at high counts: full by counters.
    sink.release();
    for _ in 0..4 {
        l2.try_send(DATA, &[]).unwrap();
    }
    assert_eq!(l2.try_send(DATA, &[]), Err(Error::NoProgress));
    assert_eq!(region.counter(OUT_TAIL), (start + 14) as u32);
    assert_eq!(sink.drain().len(), 4);
    l2.try_send(DATA, &[]).unwrap();
    assert_eq!(region.counter(OUT_TAIL), (start + 15) as u32);
    assert_healthy(&l2, &region);
}

#[test]
fn counters_fold_across_2_pow_31() {
    traffic_from((1 << 31) - 5);
}

#[test]
fn counters_fold_across_2_pow_32() {
    traffic_from((1 << 32) - 5);
    traffic_from((7 << 32) - 2);
}

#[test]
fn window_prefix_release_across_2_pow_32_and_ring_wrap() {
    window_script((1 << 32) - 3);
    window_script((1 << 31) - 2);
}

// ------------------------------------------------------------------ window

#[test]
fn window_one_second_peek_before_release_poisons_with_ownership() {
    // With the next message published and with nothing published: the rule
    // does not depend on what comes next.
    for publish_second in [true, false] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        let mut l3 = RawProducer::input(&region, 0);
        l3.write(DATA, 0, b"one");
        if publish_second {
            l3.write(DATA, 3, b"two");
        }
        l3.publish();
        let m = l2.try_peek().unwrap();
        assert_eq!(m.seq, 1);
        assert_eq!(
            l2.try_peek().unwrap_err(),
            Error::Poisoned(ErrorKind::Ownership)
        );
        assert_eq!(region.counter(IN_HEAD), 0);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::Ownership,
            Operation::Peek,
            "window 1",
        );
        assert_eq!(l2.release(&m), Err(Error::Poisoned(ErrorKind::Ownership)));
        assert_eq!(region.counter(IN_HEAD), 0);
    }
}

#[test]
fn window_full_is_no_progress_and_frees_only_the_completed_prefix() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 3);
    let mut l3 = RawProducer::input(&region, 0);
    for k in 0..4u64 {
        l3.write(DATA, k * 64, &bytes(64, k as u8));
    }
    l3.publish();
    let m: Vec<Message> = (0..3).map(|_| l2.try_peek().unwrap()).collect();
    assert_eq!(m.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        l2.try_peek().unwrap_err(),
        Error::NoProgress,
        "window full is ordinary no-progress"
    );
    assert_healthy(&l2, &region);

    l2.release(&m[1]).unwrap();
    assert_eq!(region.counter(IN_HEAD), 0, "#2 before #1 frees nothing");
    assert!(!l2.holds(&m[1]) && l2.holds(&m[0]) && l2.holds(&m[2]));
    l2.release(&m[2]).unwrap();
    assert_eq!(region.counter(IN_HEAD), 0);
    // The bytes of released-but-not-freed messages stay readable through
    // their region: the producer cannot reuse them yet.
    l2.release(&m[0]).unwrap();
    assert_eq!(
        region.counter(IN_HEAD),
        3,
        "the whole completed prefix is freed at once"
    );
    let d = l2.try_peek().unwrap();
    assert_eq!(
        (d.seq, d.payload_offset),
        (4, region.layout.input_arena_offset + 192)
    );
    l2.release(&d).unwrap();
    assert_eq!(region.counter(IN_HEAD), 4);
    assert_healthy(&l2, &region);
}

/// depth 4, window 3, 64-byte messages in a 256-byte arena: out-of-order
/// releases while the ring and the arena wrap.
fn window_script(start: u64) {
    let region = RawRegion::new(4, 256, 256);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open_at(&region, 3, start);
    let mut l3 = RawProducer::input(&region, start);
    let head = |region: &RawRegion| region.counter(IN_HEAD).wrapping_sub(start as u32);
    let publish = |l3: &mut RawProducer<'_>, ks: std::ops::Range<u64>| {
        for k in ks {
            l3.write(DATA, (k % 4) * 64, &bytes(64, k as u8));
        }
        l3.publish();
    };
    let peek = |l2: &mut L2Endpoint, k: u64| {
        let m = l2
            .try_peek()
            .unwrap_or_else(|e| panic!("start {start:#x} message {k}: {e:?}"));
        assert_eq!(
            (m.seq, m.payload_offset, m.payload_nbytes),
            (start + k + 1, arena + (k % 4) * 64, 64)
        );
        assert_eq!(l2.payload(&m), &bytes(64, k as u8)[..]);
        m
    };
    publish(&mut l3, 0..4); // the ring is full
    let (m0, m1, m2) = (peek(&mut l2, 0), peek(&mut l2, 1), peek(&mut l2, 2));
    l2.release(&m1).unwrap();
    assert_eq!(head(&region), 0);
    l2.release(&m2).unwrap();
    assert_eq!(head(&region), 0);
    l2.release(&m0).unwrap();
    assert_eq!(head(&region), 3);
    publish(&mut l3, 4..7); // slots 0..2 again, arena offsets 0..192 again
    let (m3, m4, m5) = (peek(&mut l2, 3), peek(&mut l2, 4), peek(&mut l2, 5));
    l2.release(&m5).unwrap();
    assert_eq!(head(&region), 3);
    l2.release(&m3).unwrap();
    assert_eq!(head(&region), 4, "only #3 is a completed prefix");
    l2.release(&m4).unwrap();
    assert_eq!(head(&region), 6);
    publish(&mut l3, 7..10);
    let (m6, m7, m8) = (peek(&mut l2, 6), peek(&mut l2, 7), peek(&mut l2, 8));
    l2.release(&m8).unwrap();
    l2.release(&m7).unwrap();
    assert_eq!(head(&region), 6);
    l2.release(&m6).unwrap();
    assert_eq!(head(&region), 9);
    let m9 = peek(&mut l2, 9);
    l2.release(&m9).unwrap();
    assert_eq!(head(&region), 10);
    assert_eq!(l2.try_peek().unwrap_err(), Error::NoProgress);
    assert_healthy(&l2, &region);
}

#[test]
fn window_out_of_order_release_across_ring_wrap() {
    window_script(0);
    window_script(2);
}

// ---------------------------------------------------------- release misuse

#[test]
fn release_of_a_stale_handle_poisons_with_ownership() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(DATA, 0, b"a");
    let m = l2.try_peek().unwrap();
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_eq!(l2.release(&m), Err(Error::Poisoned(ErrorKind::Ownership)));
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::Ownership,
        Operation::Release,
        "stale",
    );
}

#[test]
fn double_release_before_the_prefix_is_freed_poisons_with_ownership() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.write(DATA, 0, b"a");
    l3.write(DATA, 1, b"b");
    l3.publish();
    let a = l2.try_peek().unwrap();
    let b = l2.try_peek().unwrap();
    l2.release(&b).unwrap();
    assert_eq!(l2.release(&b), Err(Error::Poisoned(ErrorKind::Ownership)));
    assert_eq!(region.counter(IN_HEAD), 0);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::Ownership,
        Operation::Release,
        "twice",
    );
    assert_eq!(l2.release(&a), Err(Error::Poisoned(ErrorKind::Ownership)));
    assert_eq!(region.counter(IN_HEAD), 0, "nothing is freed after poison");
}

#[test]
fn release_of_an_altered_or_unknown_handle_poisons_with_ownership() {
    type Alter = fn(&mut Message);
    let cases: [(Alter, &str); 6] = [
        (|m| m.payload_offset += 1, "altered"),
        (|m| m.payload_nbytes -= 1, "altered"),
        (|m| m.opcode = ERROR, "altered"),
        (|m| m.seq += 1, "unknown"),
        (|m| m.seq = 0, "unknown"),
        (
            |m| {
                *m = Message {
                    seq: 2,
                    opcode: STOP,
                    ..Message::EMPTY
                }
            },
            "STOP",
        ),
    ];
    for (alter, text) in cases {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 2);
        let mut l3 = RawProducer::input(&region, 0);
        l3.send(DATA, 0, b"abcd");
        let m = l2.try_peek().unwrap();
        let mut bad = m;
        alter(&mut bad);
        assert_eq!(
            l2.release(&bad),
            Err(Error::Poisoned(ErrorKind::Ownership)),
            "{bad:?}"
        );
        assert_eq!(region.counter(IN_HEAD), 0);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::Ownership,
            Operation::Release,
            text,
        );
        assert_eq!(l2.release(&m), Err(Error::Poisoned(ErrorKind::Ownership)));
        assert_eq!(region.counter(IN_HEAD), 0);
    }
}

// -------------------------------------------------------------------- STOP

#[test]
fn stop_is_released_physically_only_after_every_earlier_input() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 3);
    let mut l3 = RawProducer::input(&region, 0);
    l3.write(DATA, 0, b"one");
    l3.write(ERROR, 3, b"two");
    l3.write(STOP, 0, b"");
    l3.publish();
    let a = l2.try_peek().unwrap();
    let b = l2.try_peek().unwrap();
    let stop = l2.try_peek().unwrap();
    assert_eq!(
        stop,
        Message {
            seq: 3,
            opcode: STOP,
            payload_offset: 0,
            payload_nbytes: 0,
            data: ptr::null()
        }
    );
    assert!(l2.holds(&stop));
    // A STOP handle claiming bytes was altered: not held, and no view of the bytes it names.
    let claims_bytes = Message {
        payload_offset: a.payload_offset,
        payload_nbytes: 3,
        ..stop
    };
    assert!(!l2.holds(&claims_bytes));
    assert!(l2.payload(&claims_bytes).is_empty());
    assert!(!l2.holds(&Message {
        payload_offset: a.payload_offset,
        ..stop
    }));
    assert_eq!(
        l2.try_peek().unwrap_err(),
        Error::NoProgress,
        "nothing after STOP is acquired"
    );
    assert!(!l2.drained());

    l2.release(&stop).unwrap();
    assert_eq!(region.counter(IN_HEAD), 0, "STOP waits for earlier inputs");
    assert!(!l2.drained());
    l2.release(&a).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    assert!(!l2.drained());
    l2.release(&b).unwrap();
    assert_eq!(
        region.counter(IN_HEAD),
        3,
        "STOP freed together with the last earlier input"
    );
    assert!(l2.drained());
    assert_eq!(l2.try_peek().unwrap_err(), Error::NoProgress);
    assert_eq!(l2.peek(1_000_000).unwrap_err(), Error::Timeout);
    assert_healthy(&l2, &region);
}

#[test]
fn stop_does_not_count_against_the_window() {
    // Window 2 full with DATA: STOP is still acquired.
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.write(DATA, 0, b"a");
    l3.write(DATA, 1, b"b");
    l3.write(STOP, 0, b"");
    l3.publish();
    let a = l2.try_peek().unwrap();
    let b = l2.try_peek().unwrap();
    let stop = l2.try_peek().expect("STOP does not need a window entry");
    assert_eq!((stop.seq, stop.opcode), (3, STOP));
    l2.release(&b).unwrap();
    l2.release(&stop).unwrap();
    assert_eq!(region.counter(IN_HEAD), 0);
    l2.release(&a).unwrap();
    assert_eq!(region.counter(IN_HEAD), 3);
    assert!(l2.drained());
    assert_healthy(&l2, &region);

    // Window 1 holding STOP: peeking again is no-progress, not an ownership
    // error, because STOP is not a window handle.
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    RawProducer::input(&region, 0).send(STOP, 0, b"");
    let stop = l2.try_peek().unwrap();
    assert_eq!((stop.seq, stop.opcode), (1, STOP));
    assert_eq!(l2.try_peek().unwrap_err(), Error::NoProgress);
    assert!(!l2.drained());
    l2.release(&stop).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    assert!(l2.drained());
    assert_healthy(&l2, &region);
}

#[test]
fn window_full_of_data_is_still_no_progress_when_the_next_input_is_data() {
    // The STOP exception must not let a DATA message past a full window.
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    for k in 0..3 {
        l3.write(DATA, k, &[k as u8]);
    }
    l3.publish();
    let a = l2.try_peek().unwrap();
    let _b = l2.try_peek().unwrap();
    assert_eq!(l2.try_peek().unwrap_err(), Error::NoProgress);
    l2.release(&a).unwrap();
    assert_eq!(l2.try_peek().unwrap().seq, 3);
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_healthy(&l2, &region);
}

#[test]
fn descriptor_after_stop_poisons_with_invalid_descriptor() {
    // Published together with STOP: STOP itself is refused (SPEC 8).
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.write(STOP, 0, b"");
    l3.write(DATA, 0, b"late");
    l3.publish();
    assert_eq!(
        l2.try_peek().unwrap_err(),
        Error::Poisoned(ErrorKind::InvalidDescriptor)
    );
    assert_eq!(region.counter(IN_HEAD), 0);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "after STOP",
    );

    // Published after STOP was drained.
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(STOP, 0, b"");
    let stop = l2.try_peek().unwrap();
    l2.release(&stop).unwrap();
    assert!(l2.drained());
    assert_eq!(region.counter(IN_HEAD), 1);
    l3.send(DATA, 0, b"late");
    assert_eq!(
        l2.try_peek().unwrap_err(),
        Error::Poisoned(ErrorKind::InvalidDescriptor)
    );
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "after STOP",
    );
}

#[test]
fn stop_with_payload_or_nonzero_offset_poisons() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let cases = [
        (slot(1, STOP, arena, 8), "STOP with payload"),
        (slot(1, STOP, arena, 0), "nonzero offset"),
    ];
    for (bad, text) in cases {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        let mut l3 = RawProducer::input(&region, 0);
        l3.write_slot(bad);
        l3.publish();
        assert_eq!(
            l2.try_peek().unwrap_err(),
            Error::Poisoned(ErrorKind::InvalidDescriptor),
            "{bad:?}"
        );
        assert!(!l2.drained());
        assert_eq!(region.counter(IN_HEAD), 0);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
            text,
        );
    }
}

#[test]
fn release_of_stop_twice_or_altered_poisons_with_ownership() {
    for twice in [true, false] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        RawProducer::input(&region, 0).send(STOP, 0, b"");
        let stop = l2.try_peek().unwrap();
        let bad = if twice {
            l2.release(&stop).unwrap();
            stop
        } else {
            Message {
                payload_nbytes: 1,
                ..stop
            }
        };
        let head = region.counter(IN_HEAD);
        assert_eq!(l2.release(&bad), Err(Error::Poisoned(ErrorKind::Ownership)));
        assert_eq!(region.counter(IN_HEAD), head);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::Ownership,
            Operation::Release,
            "STOP",
        );
    }
}

#[test]
fn output_reserve_and_publish_keep_working_while_draining() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    let mut sink = RawConsumer::output(&region, 0);
    l3.write(DATA, 0, b"job");
    l3.write(STOP, 0, b"");
    l3.publish();
    let job = l2.try_peek().unwrap();
    let stop = l2.try_peek().unwrap();
    assert_eq!(stop.opcode, STOP);

    // STOP acquired, not drained: outputs still flow.
    let r = l2.try_reserve(5).unwrap();
    l2.reserved_mut(&r).copy_from_slice(b"part1");
    l2.publish(&r, DATA, 5).unwrap();
    assert_eq!(region.counter(OUT_TAIL), 1);
    l2.release(&stop).unwrap();
    assert!(!l2.drained());
    l2.try_send(ERROR, b"err").unwrap();
    l2.release(&job).unwrap();
    assert!(l2.drained());
    assert_eq!(region.counter(IN_HEAD), 2);
    // Drained: outputs still flow.
    let r = l2.reserve(4, 1_000_000_000).unwrap();
    l2.reserved_mut(&r).copy_from_slice(b"done");
    l2.publish(&r, DATA, 4).unwrap();
    assert_eq!(region.counter(OUT_TAIL), 3);
    let got = sink.drain();
    assert_eq!(
        got,
        vec![
            (slot(1, DATA, out, 5), b"part1".to_vec()),
            (slot(2, ERROR, out + 5, 3), b"err".to_vec()),
            (slot(3, DATA, out + 8, 4), b"done".to_vec()),
        ]
    );
    assert_healthy(&l2, &region);
}

// ----------------------------------------------------------------- output

#[test]
fn output_zero_byte_message_is_written_with_offset_zero() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    let r = l2.try_reserve(0).unwrap();
    assert_eq!(
        (r.payload_offset, r.capacity, r.data),
        (0, 0, ptr::null_mut())
    );
    assert!(l2.reserved_mut(&r).is_empty());
    l2.publish(&r, DATA, 0).unwrap();
    l2.try_send(ERROR, &[]).unwrap();
    l2.try_send(DATA, b"xy").unwrap();
    assert_eq!(region.counter(OUT_TAIL), 3);
    assert_eq!(
        sink.drain(),
        vec![
            (slot(1, DATA, 0, 0), vec![]),
            (slot(2, ERROR, 0, 0), vec![]),
            (slot(3, DATA, out, 2), b"xy".to_vec()),
        ]
    );
    assert_healthy(&l2, &region);
}

#[test]
fn error_output_is_an_ordinary_message_and_never_poisons() {
    // 64-byte messages in a 128-byte arena, released one at a time: every
    // reserve must replay the released ERROR descriptors to find room.
    let region = RawRegion::new(4, 128, 128);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    l2.try_send(ERROR, &bytes(64, 0)).unwrap();
    for k in 1..8u64 {
        let opcode = if k % 2 == 0 { ERROR } else { DATA };
        l2.try_send(opcode, &bytes(64, k as u8)).unwrap();
        assert_eq!(
            l2.try_send(DATA, &[0; 64]),
            Err(Error::NoProgress),
            "arena full until a release"
        );
        let previous = if k % 2 == 1 { ERROR } else { DATA };
        let (s, payload) = sink.take().unwrap();
        assert_eq!(
            (s, payload),
            (
                slot(k, previous, out + ((k - 1) % 2) * 64, 64),
                bytes(64, (k - 1) as u8)
            )
        );
        sink.release();
    }
    assert_eq!(region.counter(OUT_TAIL), 8);
    assert_eq!(region.counter(OUT_HEAD), 7);
    assert_healthy(&l2, &region);
}

#[test]
fn output_300_then_800_in_a_1024_arena_wraps_after_a_full_drain() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    let a = bytes(300, 1);
    l2.try_send(DATA, &a).unwrap();
    assert_eq!(
        l2.try_reserve(800).map(|_| ()),
        Err(Error::NoProgress),
        "300 live bytes: no room yet"
    );
    assert_eq!(l2.reserve(800, 1_000_000).map(|_| ()), Err(Error::Timeout));
    assert_eq!(sink.drain(), vec![(slot(1, DATA, out, 300), a)]);

    // Fully drained: 800 bytes must go to the arena start now.
    let r = l2
        .try_reserve(800)
        .expect("a drained arena takes any n <= arena");
    assert_eq!((r.payload_offset, r.capacity), (out, 800));
    assert_eq!(r.data, region.payload_base().wrapping_add(out as usize));
    let b = bytes(800, 2);
    l2.reserved_mut(&r).copy_from_slice(&b);
    l2.publish(&r, DATA, 800).unwrap();
    assert_eq!(region.counter(OUT_TAIL), 2);
    assert_eq!(sink.drain(), vec![(slot(2, DATA, out, 800), b)]);
    l2.try_send(DATA, &bytes(224, 3)).unwrap();
    assert_eq!(sink.take().unwrap().0, slot(3, DATA, out + 800, 224));
    sink.release();

    // The same with a blocking reserve while another thread drains later:
    // no deadlock.
    l2.try_send(DATA, &bytes(300, 4)).unwrap(); // at 0 after the 224 ended at 1024
    assert_eq!(region.counter(OUT_TAIL), 4);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            let mut sink = RawConsumer::output(&region, 3);
            assert_eq!(sink.drain().len(), 1);
        });
        let r = l2
            .reserve(800, 10_000_000_000)
            .expect("the drain frees the arena");
        assert_eq!(r.payload_offset, out);
        l2.publish(&r, DATA, 800).unwrap();
    });
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 4),
        slot(5, DATA, out, 800)
    );
    assert_healthy(&l2, &region);
}

#[test]
fn output_failed_reserve_commits_no_padding() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    l2.try_send(DATA, &bytes(300, 1)).unwrap();
    assert_eq!(l2.try_reserve(800).map(|_| ()), Err(Error::NoProgress));
    // The failed try left the cursor at 300: 724 bytes still fit before the end.
    let r = l2.try_reserve(724).unwrap();
    assert_eq!(r.payload_offset, out + 300);
    l2.publish(&r, DATA, 724).unwrap();
    let got = sink.drain();
    assert_eq!(got[1].0, slot(2, DATA, out + 300, 724));
    assert_healthy(&l2, &region);
}

#[test]
fn output_publish_with_fewer_bytes_returns_the_rest_to_the_arena() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    let r = l2.try_reserve(256).unwrap();
    assert_eq!((r.payload_offset, r.capacity), (out, 256));
    l2.reserved_mut(&r)[..100].copy_from_slice(&bytes(100, 5));
    l2.publish(&r, DATA, 100).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        slot(1, DATA, out, 100)
    );
    // Without any release, everything after byte 100 is free again.
    let r = l2.try_reserve(924).expect("the unused 156 bytes came back");
    assert_eq!(r.payload_offset, out + 100);
    l2.write_reserved(&r, 0, b"tail").unwrap();
    l2.publish(&r, DATA, 4).unwrap();
    assert_eq!(
        sink.drain(),
        vec![
            (slot(1, DATA, out, 100), bytes(100, 5)),
            (slot(2, DATA, out + 100, 4), b"tail".to_vec())
        ]
    );
    assert_healthy(&l2, &region);
}

#[test]
fn output_publish_zero_bytes_rolls_back_the_reservation_and_its_padding() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    // Without padding: the whole arena is free again.
    let r = l2.try_reserve(256).unwrap();
    l2.publish(&r, DATA, 0).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        slot(1, DATA, 0, 0),
        "offset 0"
    );
    let r = l2.try_reserve(1024).expect("nothing was consumed");
    assert_eq!(r.payload_offset, out);
    l2.publish(&r, DATA, 0).unwrap();

    // With padding: 300 B sent and drained, 800 B wrap to the start, then
    // published as zero bytes: the cursor goes back to 300.
    l2.try_send(DATA, &bytes(300, 1)).unwrap();
    sink.drain();
    let r = l2.try_reserve(800).unwrap();
    assert_eq!(r.payload_offset, out, "wrapped");
    l2.publish(&r, ERROR, 0).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 3),
        slot(4, ERROR, 0, 0)
    );
    let r = l2.try_reserve(724).unwrap();
    assert_eq!(
        r.payload_offset,
        out + 300,
        "padding rolled back: the cursor is at 300, not at the next cycle"
    );
    l2.publish(&r, DATA, 724).unwrap();
    assert_eq!(region.counter(OUT_TAIL), 5);
    assert_healthy(&l2, &region);
}

#[test]
fn output_wrapped_reservation_shrunk_below_the_wrap_size_stays_at_arena_start() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    l2.try_send(DATA, &bytes(300, 1)).unwrap();
    sink.drain();
    let r = l2.try_reserve(800).unwrap();
    assert_eq!(r.payload_offset, out);
    l2.reserved_mut(&r)[..10].copy_from_slice(b"0123456789");
    l2.publish(&r, DATA, 10).unwrap();
    l2.try_send(DATA, b"next").unwrap();
    assert_eq!(
        sink.drain(),
        vec![
            (slot(2, DATA, out, 10), b"0123456789".to_vec()),
            (slot(3, DATA, out + 10, 4), b"next".to_vec())
        ]
    );
    assert_healthy(&l2, &region);
}

#[test]
fn output_too_large_reserve_is_no_progress_without_abort() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    for n in [1025, 4096, u64::MAX / 2, u64::MAX] {
        assert_eq!(l2.try_reserve(n).map(|_| ()), Err(Error::NoProgress), "{n}");
        assert_eq!(l2.try_send(DATA, &vec![0; 1025]), Err(Error::NoProgress));
    }
    assert_eq!(l2.reserve(1025, 1_000_000).map(|_| ()), Err(Error::Timeout));
    assert_eq!(counters(&region), [0; 6]);
    assert_healthy(&l2, &region);
    let r = l2.try_reserve(1024).expect("exactly the arena fits");
    assert_eq!((r.payload_offset, r.capacity), (out, 1024));
    l2.publish(&r, DATA, 1024).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        slot(1, DATA, out, 1024)
    );
}

#[test]
fn output_publish_more_than_reserved_is_bad_argument_and_keeps_the_reservation() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let r = l2.try_reserve(16).unwrap();
    assert_eq!(l2.publish(&r, DATA, 17), Err(Error::BadArgument));
    assert_eq!(l2.write_reserved(&r, 10, &[0; 7]), Err(Error::BadArgument));
    assert_eq!(region.counter(OUT_TAIL), 0);
    assert_healthy(&l2, &region);
    l2.publish(&r, DATA, 16).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        slot(1, DATA, out, 16)
    );
    assert_eq!(region.counter(OUT_TAIL), 1);
}

#[test]
fn output_second_reserve_while_one_is_active_poisons_with_ownership() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let r = l2.try_reserve(10).unwrap();
    assert_eq!(
        l2.try_reserve(10).map(|_| ()),
        Err(Error::Poisoned(ErrorKind::Ownership))
    );
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::Ownership,
        Operation::Reserve,
        "second reserve",
    );
    assert_eq!(
        l2.publish(&r, DATA, 10),
        Err(Error::Poisoned(ErrorKind::Ownership))
    );
    assert_eq!(region.counter(OUT_TAIL), 0);
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        DescriptorSlot::default()
    );
}

#[test]
fn output_publish_with_stop_or_an_invalid_opcode_poisons_with_invalid_descriptor() {
    for opcode in [STOP, INVALID, 4, u64::MAX] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        let r = l2.try_reserve(8).unwrap();
        assert_eq!(
            l2.publish(&r, opcode, 8),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "opcode {opcode}"
        );
        assert_eq!(region.counter(OUT_TAIL), 0);
        assert_eq!(
            region.read_slot(region.layout.output_desc_offset, 0),
            DescriptorSlot::default(),
            "no slot written"
        );
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Publish,
            "opcode",
        );
    }
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    assert_eq!(
        l2.try_send(STOP, &[]),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(OUT_TAIL), 0);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Publish,
        "opcode",
    );
}

#[test]
fn output_publish_of_an_unknown_stale_or_altered_reservation_poisons_with_ownership() {
    type Case = fn(&mut L2Endpoint) -> Reservation;
    let cases: [Case; 5] = [
        // stale: already published
        |l2| {
            let r = l2.try_reserve(8).unwrap();
            l2.publish(&r, DATA, 8).unwrap();
            r
        },
        // unknown: nothing active
        |_| Reservation {
            token: 1,
            seq: 0,
            payload_offset: 0,
            capacity: 0,
            data: ptr::null_mut(),
        },
        |l2| {
            let r = l2.try_reserve(8).unwrap();
            Reservation {
                token: r.token + 1,
                ..r
            }
        },
        |l2| {
            let r = l2.try_reserve(8).unwrap();
            Reservation { capacity: 9, ..r }
        },
        |l2| {
            let r = l2.try_reserve(8).unwrap();
            Reservation {
                payload_offset: r.payload_offset + 64,
                ..r
            }
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        let bad = case(&mut l2);
        let tail = region.counter(OUT_TAIL);
        assert_eq!(
            l2.publish(&bad, DATA, 0),
            Err(Error::Poisoned(ErrorKind::Ownership)),
            "case {i}"
        );
        assert_eq!(region.counter(OUT_TAIL), tail);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::Ownership,
            Operation::Publish,
            "reservation",
        );
    }
}

// ------------------------------------------------ hostile L3, input ring

/// Publishes `bad` as message 1 after a good message 0 was consumed, and
/// checks the endpoint poisons with `kind` and leaves the head at 1.
fn hostile_input_slot(bad: DescriptorSlot, kind: ErrorKind, text: &str) {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(DATA, 0, &bytes(64, 1));
    let m = l2.try_peek().unwrap();
    l2.release(&m).unwrap();
    l3.write_slot(bad);
    l3.publish();
    assert_eq!(
        l2.try_peek().map(|_| ()),
        Err(Error::Poisoned(kind)),
        "{bad:?}"
    );
    assert_eq!(region.counter(IN_HEAD), 1, "{bad:?}: head untouched");
    assert_poisoned(&mut l2, &region, kind, Operation::Peek, text);
}

#[test]
fn hostile_seq_off_by_one_poisons() {
    let arena = RawRegion::new(4, 1024, 1024).layout.input_arena_offset;
    for seq in [1, 3, 0, u64::MAX, 2 + (1 << 32)] {
        hostile_input_slot(
            slot(seq, DATA, arena + 64, 8),
            ErrorKind::InvalidDescriptor,
            "seq mismatch",
        );
    }
}

#[test]
fn hostile_stale_slot_from_the_previous_lap_poisons() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    for _ in 0..4 {
        l3.send(DATA, 0, &[]);
        let m = l2.try_peek().unwrap();
        l2.release(&m).unwrap();
    }
    // The tail says 5, but slot 0 still holds message 1 (seq 1, not 5).
    region.set_counter(IN_TAIL, 5);
    assert_eq!(
        l2.try_peek().map(|_| ()),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(IN_HEAD), 4);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "seq mismatch",
    );
}

#[test]
fn hostile_invalid_opcode_poisons() {
    let arena = RawRegion::new(4, 1024, 1024).layout.input_arena_offset;
    for opcode in [INVALID, 4, 0x100 | DATA, u64::MAX] {
        hostile_input_slot(
            slot(2, opcode, arena + 64, 8),
            ErrorKind::InvalidDescriptor,
            "invalid opcode",
        );
    }
}

#[test]
fn hostile_payload_outside_the_input_arena_poisons() {
    let layout = RawRegion::new(4, 1024, 1024).layout;
    let (arena, out) = (layout.input_arena_offset, layout.output_arena_offset);
    for (offset, n) in [
        (0, 8),                         // the input descriptor ring
        (layout.output_desc_offset, 8), // the output descriptor ring
        (arena - 1, 8),                 // straddles the arena start
        (arena + 1000, 100),            // runs past the arena end
        (out, 8),                       // the output arena
        (layout.payload_bytes, 8),      // past the region
        (u64::MAX - 3, 8),              // offset + nbytes overflows
        (u64::MAX, 1),
    ] {
        hostile_input_slot(
            slot(2, DATA, offset, n),
            ErrorKind::InvalidDescriptor,
            "outside",
        );
    }
}

#[test]
fn hostile_huge_nbytes_poisons() {
    let arena = RawRegion::new(4, 1024, 1024).layout.input_arena_offset;
    for n in [u64::MAX, u64::MAX - arena, 1025, 1 << 40] {
        hostile_input_slot(
            slot(2, DATA, arena + 64, n),
            ErrorKind::InvalidDescriptor,
            "outside",
        );
    }
    // Starts in the arena but runs one byte past its end.
    hostile_input_slot(
        slot(2, DATA, arena + 64, 1024 - 64 + 1),
        ErrorKind::InvalidDescriptor,
        "outside",
    );
}

#[test]
fn hostile_zero_byte_message_with_a_nonzero_offset_poisons() {
    let arena = RawRegion::new(4, 1024, 1024).layout.input_arena_offset;
    for offset in [arena + 64, 64, u64::MAX] {
        hostile_input_slot(
            slot(2, DATA, offset, 0),
            ErrorKind::InvalidDescriptor,
            "nonzero offset",
        );
    }
}

#[test]
fn hostile_tail_jumping_by_depth_plus_one_poisons() {
    for start in [0u64, (1 << 31) - 2, (1 << 32) - 2] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open_at(&region, 1, start);
        let mut l3 = RawProducer::input(&region, start);
        for _ in 0..5 {
            l3.write(DATA, 0, &[]); // valid slots, so only the counter is wrong
        }
        l3.publish(); // tail = start + 5 = head + depth + 1
        assert_eq!(
            l2.try_peek().map(|_| ()),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "start {start:#x}"
        );
        assert_eq!(region.counter(IN_HEAD), start as u32);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
            "tail counter",
        );
    }
}

#[test]
fn hostile_tail_going_backwards_poisons() {
    for start in [0u64, 1 << 31, 1 << 32] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open_at(&region, 1, start);
        let mut l3 = RawProducer::input(&region, start);
        for _ in 0..2 {
            l3.send(DATA, 0, &[]);
            let m = l2.try_peek().unwrap();
            l2.release(&m).unwrap();
        }
        region.set_counter(IN_TAIL, (start + 1) as u32);
        assert_eq!(
            l2.try_peek().map(|_| ()),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "start {start:#x}"
        );
        assert_eq!(region.counter(IN_HEAD), (start + 2) as u32);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
            "tail counter",
        );
    }
    // Far behind (by 2^31 and more): also poison, never a huge fold.
    for raw in [u32::MAX, 1 << 31, (1 << 31) + 1] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        region.set_counter(IN_TAIL, raw);
        assert_eq!(
            l2.try_peek().map(|_| ()),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "raw {raw:#x}"
        );
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
            "tail counter",
        );
    }
}

#[test]
fn hostile_tail_more_than_depth_ahead_of_the_unreleased_head_poisons() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(DATA, 0, &[]);
    let _held = l2.try_peek().unwrap();
    // 4 more: within depth of what L2 observed, but 5 ahead of the head (0).
    for _ in 0..4 {
        l3.write(DATA, 0, &[]);
    }
    l3.publish();
    assert_eq!(
        l2.try_peek().map(|_| ()),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(IN_HEAD), 0);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "ahead of the head",
    );
}

// ----------------------------------------------- hostile L3, output ring

#[test]
fn hostile_output_head_past_the_published_tail_poisons() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    l2.try_send(DATA, &[1]).unwrap();
    region.set_counter(OUT_HEAD, 2); // only 1 published
    // A reserve that needs the head (the cached view shows no room).
    assert_eq!(
        l2.try_reserve(1024).map(|_| ()),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(OUT_TAIL), 1);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Reserve,
        "head counter",
    );

    // Jumping by depth + 1.
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    for _ in 0..4 {
        l2.try_send(DATA, &[]).unwrap();
    }
    region.set_counter(OUT_HEAD, 5);
    assert_eq!(
        l2.try_send(DATA, &[]),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(OUT_TAIL), 4);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Enqueue,
        "head counter",
    );
}

#[test]
fn hostile_output_head_going_backwards_poisons() {
    let region = RawRegion::new(4, 64, 64);
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    l2.try_send(DATA, &[1; 64]).unwrap();
    sink.drain();
    l2.try_send(DATA, &[2; 64]).unwrap(); // refreshed: head 1
    region.set_counter(OUT_HEAD, 0);
    assert_eq!(
        l2.try_send(DATA, &[3; 64]),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(OUT_TAIL), 2);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Enqueue,
        "head counter",
    );
}

#[test]
fn hostile_released_output_slot_altered_before_replay_poisons() {
    type Alter = fn(&mut DescriptorSlot);
    let cases: [(Alter, &str); 3] = [
        (|s| s.seq += 4, "seq"),
        (|s| s.payload_offset += 8, "never wrote"),
        (|s| s.payload_offset = 0, "outside"),
    ];
    for (alter, text) in cases {
        let region = RawRegion::new(4, 1024, 1024);
        let ring = region.layout.output_desc_offset;
        let mut l2 = open(&region, 1);
        let mut sink = RawConsumer::output(&region, 0);
        l2.try_send(DATA, &bytes(100, 1)).unwrap();
        l2.try_send(DATA, &bytes(100, 2)).unwrap();
        sink.take().unwrap();
        let mut s = region.read_slot(ring, 0);
        alter(&mut s);
        region.write_slot(ring, 0, s);
        sink.release(); // head 1 of 2: L2 must replay message 1
        assert_eq!(
            l2.try_reserve(1000).map(|_| ()),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "{s:?}"
        );
        assert_eq!(region.counter(OUT_TAIL), 2);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Reserve,
            text,
        );
    }
}

// ---------------------------------------------------------------- timeouts

#[test]
fn peek_timeout_without_the_l3_abort_flag_is_timeout_and_does_not_poison() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let started = Instant::now();
    assert_eq!(l2.peek(3_000_000).map(|_| ()), Err(Error::Timeout));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(3) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(
        l2.peek(0).map(|_| ()),
        Err(Error::Timeout),
        "0: one immediate attempt"
    );
    assert_eq!(counters(&region), [0; 6]);
    assert_healthy(&l2, &region);
    RawProducer::input(&region, 0).send(DATA, 0, b"ok");
    let m = l2.peek(0).unwrap();
    assert_eq!(l2.payload(&m), b"ok");
}

#[test]
fn peek_timeout_with_the_l3_abort_flag_is_remote_aborted_and_leaves_the_l2_flag_clear() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    // Any non-zero value is "set".
    region.set_counter(L3_FLAG, 0xFFFF_FFFF);
    assert_eq!(l2.peek(2_000_000).map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(
        region.counter(L2_FLAG),
        0,
        "observing the peer's flag does not set ours"
    );
    let info = *l2.error().expect("a remote abort is recorded");
    assert_eq!(info.kind(), ErrorKind::RemoteAborted);
    assert_eq!(info.operation, Operation::Timeout as u32);
    // Terminal: even with the flag cleared and an input published.
    region.set_counter(L3_FLAG, 0);
    RawProducer::input(&region, 0).send(DATA, 0, b"late");
    assert_eq!(l2.peek(0).map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(l2.try_peek().map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(region.counter(L2_FLAG), 0);
    assert_eq!(region.counter(IN_HEAD), 0);
}

#[test]
fn reserve_timeout_with_and_without_the_l3_abort_flag() {
    let region = RawRegion::new(1, 64, 64);
    let mut l2 = open(&region, 1);
    l2.try_send(DATA, &[7]).unwrap(); // depth 1: the ring is full
    let started = Instant::now();
    assert_eq!(l2.reserve(1, 3_000_000).map(|_| ()), Err(Error::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(3));
    assert_healthy(&l2, &region);
    region.set_counter(L3_FLAG, 1);
    assert_eq!(
        l2.reserve(1, 1_000_000).map(|_| ()),
        Err(Error::RemoteAborted)
    );
    assert_eq!(l2.reserve(0, 0).map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(region.counter(L2_FLAG), 0);
    assert_eq!(l2.error().map(|e| e.kind()), Some(ErrorKind::RemoteAborted));
    assert_eq!(region.counter(OUT_TAIL), 1);
}

// ----------------------------------------------------------------- poison

#[test]
fn poison_keeps_the_first_error_and_abandons_held_work() {
    let region = RawRegion::with_skew(4, 1024, 1024, 1);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    let mut sink = RawConsumer::output(&region, 0);
    l3.write(DATA, 0, b"held");
    l3.write_slot(slot(2, INVALID, 0, 0));
    l3.publish();
    let held = l2.try_peek().unwrap();
    l2.try_send(DATA, b"out").unwrap();
    let r = l2.try_reserve(4).unwrap();
    assert_eq!(
        l2.try_peek().map(|_| ()),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    let info = *l2.error().unwrap();
    assert!(
        info.message().contains("message 1") && info.message().contains("invalid opcode"),
        "{:?}",
        info.message()
    );
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "invalid opcode",
    );
    // A later misuse does not replace the record.
    assert_eq!(
        l2.release(&held),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(
        l2.publish(&r, STOP, 0),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(l2.error().unwrap().operation, Operation::Peek as u32);
    assert_eq!((region.counter(IN_HEAD), region.counter(OUT_TAIL)), (0, 1));
    assert_eq!(
        sink.drain().len(),
        1,
        "what was published before poison stays published"
    );
    drop(l2);
    assert_eq!(region.counter(L2_FLAG), 1, "dropping keeps the flag");
}
