//! STOP.

use super::*;

#[test]
fn enqueue_after_stop_is_stopped_without_touching_shared_memory() {
    let region = RawRegion::new(4, 128, 128);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_send(Opcode::Data, b"last").unwrap();
    q.request_stop(MS).unwrap();
    assert!(q.is_stopped());
    l2.expect();
    let (s, p) = l2.expect();
    assert_eq!(
        s,
        DescriptorSlot {
            seq: 2,
            opcode: STOP.into(),
            payload_offset: 0,
            payload_nbytes: 0
        }
    );
    assert!(p.is_empty());
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 2);

    let before = snapshot(&region);
    assert_eq!(q.try_send(Opcode::Data, b"x"), Err(Error::Stopped));
    assert_eq!(q.try_send(Opcode::Error, &[]), Err(Error::Stopped));
    assert_eq!(q.send(Opcode::Data, b"x", 10 * MS), Err(Error::Stopped));
    assert_eq!(
        q.try_send_batch(Opcode::Data, [&b"x"[..]]),
        Err(Error::Stopped)
    );
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
    assert_eq!(q.try_send(Opcode::Data, b"x"), Err(Error::Stopped));
    assert_eq!(q.send(Opcode::Data, &[], MS), Err(Error::Stopped));
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
    q.try_send(Opcode::Data, b"a").unwrap();
    q.try_send(Opcode::Data, b"b").unwrap();
    assert_eq!(q.try_request_stop(), Err(Error::NoProgress));
    assert_eq!(q.request_stop(2 * MS), Err(Error::Timeout));
    assert!(!q.is_stopped());
    l2.expect();
    l2.release_to(1);
    q.request_stop(MS).unwrap();
    l2.expect();
    assert_eq!(l2.expect().0.opcode, STOP);

    out.send(Opcode::Data, 0, b"reply 1");
    out.send(Opcode::Error, 7, b"reply 2");
    let mut buf = [0u8; 128];
    assert_eq!(q.dequeue_into(&mut buf, MS), Ok((DATA, 7)));
    assert_eq!(&buf[..7], b"reply 1");
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((ERROR, 7)));
    assert_eq!(&buf[..7], b"reply 2");
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 2);
    assert_healthy(&q, &region);
}
