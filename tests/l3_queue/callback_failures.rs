//! Callback failures.

use super::*;

#[test]
fn counter_load_failure_before_mutation_is_callback_failed_without_poison() {
    let region = RawRegion::new(2, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_send(Opcode::Data, b"one").unwrap();
    q.try_send(Opcode::Data, b"two").unwrap();
    l2.expect();
    l2.expect();
    l2.release_all();

    // The ring looks full locally, so the queue must load the head first.
    let before = snapshot(&region);
    let (writes, stores) = (
        cb.calls(CallKind::PayloadWrite),
        cb.calls(CallKind::CounterStore),
    );
    cb.fail_nth(CallKind::CounterLoad, 1);
    assert_eq!(
        q.try_send(Opcode::Data, b"three"),
        Err(Error::CallbackFailed)
    );
    assert_eq!(
        (
            cb.calls(CallKind::PayloadWrite),
            cb.calls(CallKind::CounterStore)
        ),
        (writes, stores)
    );
    assert_eq!(snapshot(&region), before);
    assert_healthy(&q, &region);
    cb.fail_nth(CallKind::CounterLoad, 1);
    assert_eq!(
        q.send(Opcode::Data, b"three", 1000 * MS),
        Err(Error::CallbackFailed),
        "a failed load ends a blocking call at once"
    );
    assert_healthy(&q, &region);
    // Retried, it goes through.
    q.try_send(Opcode::Data, b"three").unwrap();
    assert_eq!(l2.expect().1, b"three");

    // Output side: a failed tail load is CallbackFailed too.
    RawProducer::output(&region, 0).send(Opcode::Data, 0, b"out");
    cb.fail_nth(CallKind::CounterLoad, 1);
    assert_eq!(q.try_peek(), Err(Error::CallbackFailed));
    cb.fail_nth(CallKind::CounterLoad, 1);
    assert_eq!(q.peek(1000 * MS), Err(Error::CallbackFailed));
    assert_healthy(&q, &region);
    let m = q.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_nbytes), (1, 3));
    assert!(m.data.is_null(), "a callback region has no in-place view");
    assert_healthy(&q, &region);
}

#[test]
fn payload_read_failure_is_callback_failed_without_poison() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    let mut out = RawProducer::output(&region, 0);
    out.send(Opcode::Data, 0, b"abc");
    // Slot read of a peek.
    cb.fail_nth(CallKind::PayloadRead, 1);
    assert_eq!(q.try_peek(), Err(Error::CallbackFailed));
    assert_healthy(&q, &region);
    let m = q.try_peek().unwrap();
    assert_eq!(m.seq, 1, "the failed read skipped nothing");
    // Payload read of read_into and dequeue_into: the message stays active.
    let mut buf = [0u8; 8];
    cb.fail_nth(CallKind::PayloadRead, 1);
    assert_eq!(q.read_into(&m, &mut buf), Err(Error::CallbackFailed));
    cb.fail_nth(CallKind::PayloadRead, 1);
    assert_eq!(q.try_dequeue_into(&mut buf), Err(Error::CallbackFailed));
    assert_eq!(q.try_peek(), Ok(m));
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 0);
    assert_healthy(&q, &region);
    assert_eq!(q.try_dequeue_into(&mut buf), Ok((DATA, 3)));
    assert_eq!(&buf[..3], b"abc");

    // Slot read while replaying released input descriptors.
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_send(Opcode::Data, &[1; 200]).unwrap();
    q.try_send(Opcode::Data, &[2; 50]).unwrap();
    l2.expect();
    l2.expect();
    l2.release_to(1);
    let before = snapshot(&region);
    cb.fail_nth(CallKind::PayloadRead, 1);
    assert_eq!(
        q.try_send(Opcode::Data, &[3; 100]),
        Err(Error::CallbackFailed)
    );
    assert_eq!(snapshot(&region), before);
    assert_healthy(&q, &region);
    q.try_send(Opcode::Data, &[3; 100]).unwrap();
    let (s, p) = l2.expect();
    assert_eq!((s.payload_offset, p), (in_off(&region, 0), vec![3; 100]));
    assert_healthy(&q, &region);
}

#[test]
fn payload_write_failure_poisons_and_sets_flag_256() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    cb.fail_nth(CallKind::PayloadWrite, 1);
    assert_eq!(
        q.try_send(Opcode::Data, b"hello"),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(
        region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET),
        0,
        "nothing published"
    );
    assert_eq!(region.counter(L3_FLAG), 1);
    let info = *q.error().unwrap();
    assert!(
        matches!(info.operation, o if o == Operation::Publish as u32 || o == Operation::Enqueue as u32),
        "{info:?}"
    );
    let op = info.operation;
    let calls = cb.total_calls();
    let kind = ErrorKind::EndpointError;
    assert_eq!(q.try_send(Opcode::Data, b"x"), Err(Error::Poisoned(kind)));
    assert_eq!(q.try_peek(), Err(Error::Poisoned(kind)));
    assert_eq!(q.try_request_stop(), Err(Error::Poisoned(kind)));
    assert_eq!(
        cb.total_calls(),
        calls,
        "fail fast: no callback after poison"
    );
    assert_poisoned(
        &mut q,
        &region,
        kind,
        if op == Operation::Publish as u32 {
            Operation::Publish
        } else {
            Operation::Enqueue
        },
    );

    // The zero-copy path: write_reserved fails.
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    let r = q.try_reserve(16).unwrap();
    assert!(r.data.is_null());
    q.write_reserved(&r, 0, &[1; 8]).unwrap();
    cb.fail_nth(CallKind::PayloadWrite, 1);
    assert_eq!(
        q.write_reserved(&r, 8, &[2; 8]),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(region.counter(L3_FLAG), 1);
    assert_eq!(
        q.publish(&r, Opcode::Data, 16),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 0);
}

#[test]
fn slot_write_failure_poisons() {
    for nth in [1, 2] {
        let region = RawRegion::new(4, 256, 256);
        let cb = FaultyCallbacks::new(&region);
        let mut q = cb_queue(&cb);
        // Zero bytes: the only writes are the slot's (fields, then seq).
        cb.fail_nth(CallKind::PayloadWrite, nth);
        assert_eq!(
            q.try_send(Opcode::Error, &[]),
            Err(Error::Poisoned(ErrorKind::EndpointError)),
            "slot write {nth}"
        );
        assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 0);
        assert_poisoned(
            &mut q,
            &region,
            ErrorKind::EndpointError,
            Operation::Enqueue,
        );
    }
}

#[test]
fn tail_store_failure_poisons_and_sets_flag_256() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    q.try_send(Opcode::Data, b"ok").unwrap();
    cb.fail_nth(CallKind::CounterStore, 1);
    assert_eq!(
        q.try_send(Opcode::Data, b"lost"),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 1);
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::EndpointError,
        Operation::Enqueue,
    );

    // STOP's tail store.
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    cb.fail_nth(CallKind::CounterStore, 1);
    assert_eq!(
        q.try_request_stop(),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert!(!q.is_stopped());
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::EndpointError,
        Operation::RequestStop,
    );
}

#[test]
fn head_store_failure_poisons() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    RawProducer::output(&region, 0).send(Opcode::Data, 0, b"abc");
    let m = q.try_peek().unwrap();
    cb.fail_nth(CallKind::CounterStore, 1);
    assert_eq!(
        q.release(&m),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(region.counter(L3L2Q_OUTPUT_DESC_HEAD_OFFSET), 0);
    assert_poisoned(
        &mut q,
        &region,
        ErrorKind::EndpointError,
        Operation::Release,
    );
}

#[test]
fn poison_stands_when_the_abort_flag_cannot_be_stored() {
    let region = RawRegion::new(4, 256, 256);
    let cb = FaultyCallbacks::new(&region);
    let mut q = cb_queue(&cb);
    cb.fail_all(CallKind::CounterStore);
    assert_eq!(
        q.try_send(Opcode::Data, b"x"),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert!(
        cb.calls(CallKind::CounterStore) >= 2,
        "the queue must try to raise its flag"
    );
    assert_eq!(region.counter(L3_FLAG), 0, "the store failed");
    assert_eq!(q.error().unwrap().kind(), ErrorKind::EndpointError);
    let calls = cb.total_calls();
    let mut buf = [0u8; 4];
    assert_eq!(
        q.try_send(Opcode::Data, b"x"),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(q.try_peek(), Err(Error::Poisoned(ErrorKind::EndpointError)));
    assert_eq!(
        q.try_dequeue_into(&mut buf),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(
        q.request_stop(MS),
        Err(Error::Poisoned(ErrorKind::EndpointError))
    );
    assert_eq!(q.flush(), Err(Error::Poisoned(ErrorKind::EndpointError)));
    assert_eq!(
        cb.total_calls(),
        calls,
        "fail fast without touching the region"
    );
    drop(q); // freeing a poisoned queue is fine
}
