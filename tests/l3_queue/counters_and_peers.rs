//! Counters and peers.

use super::*;

#[test]
fn counters_cross_2_pow_31_and_2_pow_32() {
    for initial in [(1u64 << 31) - 5, (1u64 << 32) - 5, (7u64 << 32) - 5] {
        let region = RawRegion::new(4, 256, 256);
        let l = region.layout;
        let mut q = L3Queue::create_at(
            mapped(&region),
            &region.descriptor(),
            QueueConfig {
                depth: 4,
                input_arena_bytes: 256,
                output_arena_bytes: 256,
            },
            initial,
        )
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
            q.send(Opcode::Data, &payload, MS).unwrap();
            let (s, p) = l2.expect();
            assert_eq!(s.seq, initial + k + 1);
            assert_eq!(p, payload);
            l2.release_all();
            // Output after a full drain: the arena start is always allowed
            // (the expected position, or a wrap).
            out.send(Opcode::Error, 0, &payload);
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
            q.publish(&r, Opcode::Data, payload.len() as u64).unwrap();
        } else {
            q.send(Opcode::Data, &payload, MS).unwrap();
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
