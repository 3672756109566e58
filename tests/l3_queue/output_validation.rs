//! Output validation.

use super::*;

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
            opcode: STOP.into(),
            payload_offset: 0,
            payload_nbytes: 0,
        },
        ErrorKind::InvalidDescriptor,
        "STOP",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: STOP.into(),
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
    out.send(Opcode::Data, 0, b"fine");
    out.send(Opcode::Stop, 0, &[]);
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
            opcode: DATA.into(),
            payload_offset: out_off(r, 0),
            payload_nbytes: 0,
        },
        ErrorKind::InvalidDescriptor,
        "arena start",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: ERROR.into(),
            payload_offset: 1,
            payload_nbytes: 0,
        },
        ErrorKind::InvalidDescriptor,
        "offset 1",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: DATA.into(),
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
            opcode: DATA.into(),
            payload_offset: out_off(r, 64),
            payload_nbytes: 16,
        },
        k,
        "not at the expected position",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA.into(),
            payload_offset: in_off(r, 0),
            payload_nbytes: 16,
        },
        k,
        "in the input arena",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: DATA.into(),
            payload_offset: 0,
            payload_nbytes: 16,
        },
        k,
        "in the descriptor rings",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA.into(),
            payload_offset: out_off(r, 200),
            payload_nbytes: 100,
        },
        k,
        "past the arena end",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA.into(),
            payload_offset: out_off(r, 0),
            payload_nbytes: 257,
        },
        k,
        "larger than the arena",
    );
    expect_output_poison(
        |_| DescriptorSlot {
            seq: 1,
            opcode: DATA.into(),
            payload_offset: u64::MAX - 3,
            payload_nbytes: 8,
        },
        k,
        "offset overflows",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 1,
            opcode: DATA.into(),
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
    out.send(Opcode::Data, 0, &[1; 100]);
    let m = q.try_peek().unwrap();
    q.release(&m).unwrap();
    out.send(Opcode::Data, 200, &[2; 50]);
    assert_eq!(q.try_peek(), Err(Error::Poisoned(k)));
    assert_poisoned(&mut q, &region, k, Operation::Peek);
}

#[test]
fn output_seq_opcode_and_counter_breaches_poison() {
    let k = ErrorKind::InvalidDescriptor;
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 2,
            opcode: DATA.into(),
            payload_offset: out_off(r, 0),
            payload_nbytes: 4,
        },
        k,
        "seq ahead",
    );
    expect_output_poison(
        |r| DescriptorSlot {
            seq: 0,
            opcode: DATA.into(),
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
    out.send(Opcode::Data, 0, b"one");
    out.send(Opcode::Data, 3, b"two");
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
    q.try_send(Opcode::Data, b"a").unwrap();
    q.try_send(Opcode::Data, b"b").unwrap();
    region.set_counter(L3L2Q_INPUT_DESC_HEAD_OFFSET, 3);
    assert_eq!(
        q.try_send(Opcode::Data, b"c"),
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
    q.try_send(Opcode::Data, &[1; 64]).unwrap();
    region.set_counter(L3L2Q_INPUT_DESC_HEAD_OFFSET, 2);
    assert_eq!(
        q.try_send(Opcode::Data, &[2; 1]),
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
    out.send(Opcode::Data, 0, &[1; 100]);
    let m = q.try_peek().unwrap();
    q.release(&m).unwrap();
    out.send(Opcode::Data, 0, &[2; 10]);
    out.send(Opcode::Data, 10, &[3; 20]);
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
    out.send(Opcode::Data, 0, &[1; 200]);
    let m = q.try_peek().unwrap();
    out.send(Opcode::Data, 0, &[2; 100]); // would overwrite the bytes L3 holds
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
    out.send(Opcode::Error, 0, b"device says no");
    out.send(Opcode::Error, 0, &[]);
    out.send(Opcode::Data, 14, b"ok");
    let m = q.peek(MS).unwrap();
    assert_eq!((m.opcode, m.payload_nbytes), (u64::from(ERROR), 14));
    let mut buf = [0u8; 64];
    assert_eq!(q.read_into(&m, &mut buf), Ok(14));
    assert_eq!(&buf[..14], b"device says no");
    q.release(&m).unwrap();
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((ERROR, 0)));
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((DATA, 2)));
    assert_healthy(&q, &region);
    // And ERROR goes the other way as an ordinary message.
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_send(Opcode::Error, b"host failure").unwrap();
    let (s, p) = l2.expect();
    assert_eq!(
        (s.opcode, p.as_slice()),
        (u64::from(ERROR), &b"host failure"[..])
    );
    assert_healthy(&q, &region);
}
