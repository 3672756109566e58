//! Capacity and counters.

use super::*;
use crate::window::window_script;

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
        l2.try_send(Opcode::Data, &[i]).unwrap();
    }
    assert_eq!((region.counter(OUT_TAIL), region.counter(OUT_HEAD)), (4, 0));
    // Masked tail == masked head, but the counters say full.
    assert_eq!(l2.try_send(Opcode::Data, &[4]), Err(Error::NoProgress));
    assert_eq!(
        l2.try_reserve(0).map(|_| ()),
        Err(Error::NoProgress),
        "a zero-byte message needs a slot too"
    );
    assert_eq!(region.counter(OUT_TAIL), 4);
    let (first, payload) = l3.take().unwrap();
    assert_eq!((first, payload), (slot(1, DATA, out, 1), vec![0]));
    l3.release();
    l2.try_send(Opcode::Data, &[4]).unwrap();
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
        l2.try_send(Opcode::Data, &[i]).unwrap();
    }
    assert_eq!(l2.try_send(Opcode::Data, &[9]), Err(Error::NoProgress));
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
        l3.send(Opcode::Data, (k % 4) * 64, &payload);
        assert_eq!(region.counter(IN_TAIL), (p + 1) as u32);
        let m = l2
            .try_peek()
            .unwrap_or_else(|e| panic!("start {start:#x} k {k}: {e:?}"));
        assert_eq!((m.seq, m.payload_offset), (p + 1, arena + (k % 4) * 64));
        assert_eq!(l2.payload(&m), &payload[..]);
        l2.release(&m).unwrap();
        assert_eq!(region.counter(IN_HEAD), (p + 1) as u32);

        l2.try_send(Opcode::Data, &payload).unwrap();
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
        l2.try_send(Opcode::Data, &[]).unwrap();
    }
    assert_eq!(l2.try_send(Opcode::Data, &[]), Err(Error::NoProgress));
    assert_eq!(region.counter(OUT_TAIL), (start + 14) as u32);
    assert_eq!(sink.drain().len(), 4);
    l2.try_send(Opcode::Data, &[]).unwrap();
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
