//! Timeouts.

use super::*;

#[test]
fn timeout_without_the_l2_abort_flag() {
    let region = RawRegion::new(2, 128, 128);
    let mut q = queue(&region);
    q.try_send(Opcode::Data, b"a").unwrap();
    q.try_send(Opcode::Data, b"b").unwrap();
    let mut buf = [0u8; 8];
    let started = Instant::now();
    assert_eq!(q.send(Opcode::Data, b"c", 3 * MS), Err(Error::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(3));
    assert_eq!(q.request_stop(3 * MS), Err(Error::Timeout));
    assert_eq!(q.peek(3 * MS), Err(Error::Timeout));
    assert_eq!(q.dequeue_into(&mut buf, 3 * MS), Err(Error::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(12));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!q.peer_aborted());
    assert_healthy(&q, &region);
    // Not poisoned: everything works once there is room / something to read.
    let mut l2 = RawConsumer::input(&region, 0);
    l2.expect();
    l2.release_to(1);
    q.send(Opcode::Data, b"c", 3 * MS).unwrap();
    RawProducer::output(&region, 0).send(Opcode::Data, 0, b"x");
    assert_eq!(q.dequeue_into(&mut buf, 3 * MS), Ok((DATA, 1)));
}

#[test]
fn timeout_with_the_l2_abort_flag_is_remote_aborted_and_terminal() {
    let region = RawRegion::new(2, 128, 128);
    let mut q = queue(&region);
    q.try_send(Opcode::Data, b"a").unwrap();
    q.try_send(Opcode::Data, b"b").unwrap();
    region.set_counter(L2_FLAG, 1);
    assert!(q.peer_aborted());
    assert_healthy(&q, &region); // the pure observation records nothing
    let mut buf = [0u8; 8];
    assert_eq!(
        q.send(Opcode::Data, b"c", 2 * MS),
        Err(Error::RemoteAborted)
    );
    // Recorded (SPEC 9) without raising our own flag...
    let info = *q.error().expect("a remote abort is recorded");
    assert_eq!(info.kind(), ErrorKind::RemoteAborted);
    assert_eq!(info.operation, Operation::Timeout as u32);
    assert_eq!(region.counter(L3_FLAG), 0);
    // ...and terminal: every later call fails fast, blocking or not, even
    // with work available.
    RawProducer::output(&region, 0).send(Opcode::Data, 0, b"late reply");
    assert_eq!(q.request_stop(2 * MS), Err(Error::RemoteAborted));
    assert_eq!(q.peek(2 * MS).map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(q.dequeue_into(&mut buf, 2 * MS), Err(Error::RemoteAborted));
    assert_eq!(q.try_peek().map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(q.try_send(Opcode::Data, b"c"), Err(Error::RemoteAborted));
    assert_eq!(region.counter(L3_FLAG), 0);
}

#[test]
fn zero_timeout_is_one_immediate_attempt() {
    let region = RawRegion::new(1, 64, 64);
    let mut q = queue(&region);
    let started = Instant::now();
    assert_eq!(q.peek(0).map(|_| ()), Err(Error::Timeout));
    q.send(Opcode::Data, b"a", 0).unwrap();
    assert_eq!(q.send(Opcode::Data, b"b", 0), Err(Error::Timeout));
    assert_healthy(&q, &region);
    region.set_counter(L2_FLAG, 1);
    assert_eq!(q.send(Opcode::Data, b"b", 0), Err(Error::RemoteAborted));
    assert_eq!(q.peek(0).map(|_| ()), Err(Error::RemoteAborted));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(region.counter(L3_FLAG), 0);
}

#[test]
fn blocking_reserve_times_out_on_a_full_ring_then_succeeds_after_a_release() {
    let region = RawRegion::new(4, 1024, 64);
    let mut q = queue(&region);
    let mut l2 = RawConsumer::input(&region, 0);
    for i in 0..4u8 {
        q.try_send(Opcode::Data, &[i; 8]).unwrap();
    }
    let before = snapshot(&region);
    assert_eq!(q.reserve(8, MS), Err(Error::Timeout));
    assert_eq!(
        snapshot(&region),
        before,
        "a timed-out reserve changes nothing"
    );
    l2.expect();
    l2.release();
    let r = q.reserve(8, MS).unwrap();
    q.write_reserved(&r, 0, &[9; 8]).unwrap();
    q.publish(&r, Opcode::Error, 8).unwrap();
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET), 5);
    assert_healthy(&q, &region);
}
