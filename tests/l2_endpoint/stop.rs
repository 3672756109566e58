//! STOP.

use super::*;

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
            opcode: STOP.into(),
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
    assert_eq!((stop.seq, stop.opcode), (3, u64::from(STOP)));
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
    RawProducer::input(&region, 0).send(Opcode::Stop, 0, b"");
    let stop = l2.try_peek().unwrap();
    assert_eq!((stop.seq, stop.opcode), (1, u64::from(STOP)));
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
    l3.send(Opcode::Stop, 0, b"");
    let stop = l2.try_peek().unwrap();
    l2.release(&stop).unwrap();
    assert!(l2.drained());
    assert_eq!(region.counter(IN_HEAD), 1);
    l3.send(Opcode::Data, 0, b"late");
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
        RawProducer::input(&region, 0).send(Opcode::Stop, 0, b"");
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
    l2.publish(&r, Opcode::Data, 5).unwrap();
    assert_eq!(region.counter(OUT_TAIL), 1);
    l2.release(&stop).unwrap();
    assert!(!l2.drained());
    l2.try_send(Opcode::Error, b"err").unwrap();
    l2.release(&job).unwrap();
    assert!(l2.drained());
    assert_eq!(region.counter(IN_HEAD), 2);
    // Drained: outputs still flow.
    let r = l2.reserve(4, 1_000_000_000).unwrap();
    l2.reserved_mut(&r).copy_from_slice(b"done");
    l2.publish(&r, Opcode::Data, 4).unwrap();
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
