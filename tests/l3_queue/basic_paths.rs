//! Basic paths.

use super::*;

#[test]
fn zero_byte_enqueue_and_dequeue() {
    let region = RawRegion::new(4, 128, 128);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    let mut out = RawProducer::output(&region, 0);

    q.try_send(Opcode::Data, &[]).unwrap();
    q.send(Opcode::Error, &[], MS).unwrap();
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 2);
    let (s, p) = l2.expect();
    assert_eq!(
        s,
        DescriptorSlot {
            seq: 1,
            opcode: DATA.into(),
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
            opcode: ERROR.into(),
            payload_offset: 0,
            payload_nbytes: 0
        }
    );
    // Zero-byte messages use no arena: a full-arena message still fits.
    q.try_send(Opcode::Data, &[9; 128]).unwrap();
    assert_eq!(l2.expect().0.payload_offset, in_off(&region, 0));

    out.send(Opcode::Data, 0, &[]);
    let m = q.try_peek().unwrap();
    assert_eq!(
        (m.seq, m.opcode, m.payload_offset, m.payload_nbytes),
        (1, u64::from(DATA), 0, 0)
    );
    assert!(m.data.is_null());
    assert_eq!(q.read_into(&m, &mut []), Ok(0));
    q.release(&m).unwrap();
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 1);
    out.send(Opcode::Data, 0, &[]);
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
    // Codes with no Rust name (4, u64::MAX) reach only the C API: tests/ffi_boundary.
    for op in [Opcode::Invalid, STOP] {
        assert_eq!(q.try_send(op, b"x"), Err(Error::BadArgument));
        assert_eq!(q.send(op, b"x", MS), Err(Error::BadArgument));
    }
    assert_eq!(snapshot(&region), before);
    assert_healthy(&q, &region);
    q.try_send(Opcode::Data, b"x").unwrap();
}

#[test]
fn exactly_depth_messages_fit_then_ring_full_is_no_progress() {
    let region = RawRegion::new(4, 1024, 64);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    for i in 0..4u8 {
        q.try_send(Opcode::Data, &[i; 10]).unwrap();
    }
    let before = snapshot(&region);
    assert_eq!(q.try_send(Opcode::Data, &[4; 10]), Err(Error::NoProgress));
    assert_eq!(
        q.try_send(Opcode::Data, &[]),
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
    q.try_send(Opcode::Data, &[4; 10]).unwrap();
    assert_eq!(q.try_send(Opcode::Data, &[5; 10]), Err(Error::NoProgress));
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
    q.try_send(Opcode::Data, &[1; 200]).unwrap();
    let before = snapshot(&region);
    assert_eq!(
        q.try_send(Opcode::Data, &[2; 100]),
        Err(Error::NoProgress),
        "needs a wrap over live bytes"
    );
    assert_eq!(q.try_reserve(100).err(), Some(Error::NoProgress));
    assert_eq!(snapshot(&region), before);
    q.try_send(Opcode::Data, &[3; 56]).unwrap(); // exactly the rest of the arena
    assert_eq!(
        q.try_send(Opcode::Data, &[4; 1]),
        Err(Error::NoProgress),
        "arena full"
    );
    q.try_send(Opcode::Data, &[]).unwrap(); // zero bytes still go
    assert_healthy(&q, &region);
    for (pos, len) in [(0, 200), (200, 56), (0, 0)] {
        let (s, p) = l2.expect();
        assert_eq!(
            (s.payload_offset, p.len()),
            (if len == 0 { 0 } else { in_off(&region, pos) }, len)
        );
    }
    l2.release_all();
    q.try_send(Opcode::Data, &[5; 256]).unwrap();
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
    assert_eq!(q.try_send(Opcode::Data, &[0; 257]), Err(Error::BadArgument));
    assert_eq!(
        q.send(Opcode::Data, &[0; 257], 10_000 * MS),
        Err(Error::BadArgument),
        "must not wait for room that never comes"
    );
    assert_eq!(q.try_reserve(257).err(), Some(Error::BadArgument));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(snapshot(&region), before);
    assert_healthy(&q, &region);
    q.try_send(Opcode::Data, &[0; 256]).unwrap();
}
