//! Zero-copy input rules.

use super::*;

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
    q.publish(&r, Opcode::Data, 60).unwrap();
    let (s, p) = l2.expect();
    assert_eq!((s.payload_offset, p), (in_off(&region, 0), vec![7; 60]));
    // The unused 40 bytes went back: the next message starts at 60.
    q.try_send(Opcode::Data, b"next").unwrap();
    assert_eq!(l2.expect().0.payload_offset, in_off(&region, 60));
    // Committing zero bytes rolls the reservation back and writes offset 0.
    let r = q.try_reserve(50).unwrap();
    q.publish(&r, Opcode::Error, 0).unwrap();
    assert_eq!(
        l2.expect().0,
        DescriptorSlot {
            seq: 3,
            opcode: ERROR.into(),
            payload_offset: 0,
            payload_nbytes: 0
        }
    );
    q.try_send(Opcode::Data, b"x").unwrap();
    assert_eq!(l2.expect().0.payload_offset, in_off(&region, 64));
    assert_healthy(&q, &region);
}

#[test]
fn zero_copy_reservation_misuse() {
    // Commit more than reserved: a caller error, the reservation stays active.
    let region = RawRegion::new(4, 256, 64);
    let mut q = queue(&region);
    let r = q.try_reserve(8).unwrap();
    assert_eq!(q.publish(&r, Opcode::Data, 9), Err(Error::BadArgument));
    assert_eq!(q.write_reserved(&r, 4, &[0; 5]), Err(Error::BadArgument));
    assert_eq!(
        q.write_reserved(&r, u64::MAX, &[0; 1]),
        Err(Error::BadArgument)
    );
    // STOP cannot overtake an uncommitted input.
    assert_eq!(q.try_request_stop(), Err(Error::BadArgument));
    assert!(!q.is_stopped());
    assert_healthy(&q, &region);
    q.publish(&r, Opcode::Data, 8).unwrap();
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
                q.try_send(Opcode::Data, b"x"),
                ErrorKind::Ownership,
                Operation::Reserve,
            )
        }),
        ("commit twice", |q| {
            let r = q.try_reserve(8).unwrap();
            q.publish(&r, Opcode::Data, 8).unwrap();
            (
                q.publish(&r, Opcode::Data, 8),
                ErrorKind::Ownership,
                Operation::Publish,
            )
        }),
        ("commit an altered reservation", |q| {
            let r = q.try_reserve(8).unwrap();
            (
                q.publish(
                    &Reservation {
                        payload_offset: r.payload_offset + 8,
                        ..r
                    },
                    Opcode::Data,
                    8,
                ),
                ErrorKind::Ownership,
                Operation::Publish,
            )
        }),
        ("commit with STOP", |q| {
            let r = q.try_reserve(0).unwrap();
            (
                q.publish(&r, Opcode::Stop, 0),
                ErrorKind::InvalidDescriptor,
                Operation::Publish,
            )
        }),
        ("commit with an invalid opcode", |q| {
            let r = q.try_reserve(4).unwrap();
            (
                q.publish(&r, Opcode::Invalid, 4),
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
