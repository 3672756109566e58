//! Ownership.

use super::*;

#[test]
fn repeated_try_peek_returns_the_same_message_until_released() {
    let region = RawRegion::new(4, 256, 256);
    let mut q = queue(&region);
    let mut out = RawProducer::output(&region, 0);
    out.send(Opcode::Data, 0, b"first");
    out.send(Opcode::Data, 5, b"second");
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
    out.send(Opcode::Data, 0, b"0123456789");
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
                opcode: DATA.into(),
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
                q.release(&Message {
                    opcode: ERROR.into(),
                    ..m
                }),
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
        out.send(Opcode::Data, 0, b"abcd");
        out.send(Opcode::Data, 4, b"efgh");
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
