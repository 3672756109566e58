//! Arena reuse and padding.

use super::*;

#[test]
fn releases_are_replayed_before_the_arena_is_reused() {
    let region = RawRegion::new(8, 1024, 64);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    for i in 1..=3u8 {
        q.try_send(Opcode::Data, &[i; 300]).unwrap();
    }
    assert_eq!(q.try_send(Opcode::Data, &[4; 300]), Err(Error::NoProgress));
    for pos in [0, 300, 600] {
        assert_eq!(l2.expect().0.payload_offset, in_off(&region, pos));
    }
    // L2 frees only the first message: exactly its 300 bytes come back.
    l2.release_to(1);
    q.try_send(Opcode::Data, &[4; 300]).unwrap();
    assert_eq!(
        q.try_send(Opcode::Data, &[5; 1]),
        Err(Error::NoProgress),
        "[300, 1024) and [0, 300) are live"
    );
    let (s, p) = l2.expect();
    assert_eq!(
        (s.seq, s.payload_offset, p),
        (4, in_off(&region, 0), vec![4; 300])
    );
    l2.release_to(2);
    q.try_send(Opcode::Data, &[5; 1]).unwrap();
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
            q.try_send(Opcode::Data, &[i; 300]).unwrap();
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
            q.try_send(Opcode::Data, &[4; 300]),
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
    q.try_send(Opcode::Data, &[1; 300]).unwrap();
    q.try_send(Opcode::Data, &[2; 600]).unwrap();
    assert_eq!(q.try_send(Opcode::Data, &[3; 400]), Err(Error::NoProgress));
    assert_eq!(q.send(Opcode::Data, &[3; 400], MS), Err(Error::Timeout));
    q.try_send(Opcode::Data, &[4; 100]).unwrap();
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
    q.try_send(Opcode::Data, &[1; 300]).unwrap();
    q.try_send(Opcode::Data, &[2; 600]).unwrap();
    for _ in 0..3 {
        assert_eq!(q.try_send(Opcode::Data, &[3; 400]), Err(Error::NoProgress));
        assert_eq!(q.try_reserve(400).err(), Some(Error::NoProgress));
    }
    q.try_send(Opcode::Data, &[4; 100]).unwrap();
    q.try_send(Opcode::Data, &[5; 24]).unwrap();
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
    q.try_send(Opcode::Data, &[1; 300]).unwrap();
    assert_eq!(q.try_send(Opcode::Data, &[2; 800]), Err(Error::NoProgress));
    l2.expect();
    l2.release_all();
    q.send(Opcode::Data, &[2; 800], 1000 * MS)
        .expect("must not wait forever");
    let (s, p) = l2.expect();
    assert_eq!(
        (s.seq, s.payload_offset, p),
        (2, in_off(&region, 0), vec![2; 800])
    );
    // And the whole arena after another full drain, from a non-zero position.
    l2.release_all();
    q.send(Opcode::Data, &[3; 1024], 1000 * MS).unwrap();
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
            q.send(Opcode::Data, &vec![byte; len], 5_000 * MS)
                .expect("enqueue");
        }
    });
    assert_healthy(&q, &region);
}
