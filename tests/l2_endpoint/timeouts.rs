//! Timeouts.

use super::*;

#[test]
fn peek_timeout_without_the_l3_abort_flag_is_timeout_and_does_not_poison() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let started = Instant::now();
    assert_eq!(l2.peek(3_000_000).map(|_| ()), Err(Error::Timeout));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(3) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(
        l2.peek(0).map(|_| ()),
        Err(Error::Timeout),
        "0: one immediate attempt"
    );
    assert_eq!(counters(&region), [0; 6]);
    assert_healthy(&l2, &region);
    RawProducer::input(&region, 0).send(Opcode::Data, 0, b"ok");
    let m = l2.peek(0).unwrap();
    assert_eq!(l2.payload(&m), b"ok");
}

#[test]
fn peek_timeout_with_the_l3_abort_flag_is_remote_aborted_and_leaves_the_l2_flag_clear() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    // Any non-zero value is "set".
    region.set_counter(L3_FLAG, 0xFFFF_FFFF);
    assert_eq!(l2.peek(2_000_000).map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(
        region.counter(L2_FLAG),
        0,
        "observing the peer's flag does not set ours"
    );
    let info = *l2.error().expect("a remote abort is recorded");
    assert_eq!(info.kind(), ErrorKind::RemoteAborted);
    assert_eq!(info.operation, Operation::Timeout as u32);
    // Terminal: even with the flag cleared and an input published.
    region.set_counter(L3_FLAG, 0);
    RawProducer::input(&region, 0).send(Opcode::Data, 0, b"late");
    assert_eq!(l2.peek(0).map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(l2.try_peek().map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(region.counter(L2_FLAG), 0);
    assert_eq!(region.counter(IN_HEAD), 0);
}

#[test]
fn reserve_timeout_with_and_without_the_l3_abort_flag() {
    let region = RawRegion::new(1, 64, 64);
    let mut l2 = open(&region, 1);
    l2.try_send(Opcode::Data, &[7]).unwrap(); // depth 1: the ring is full
    let started = Instant::now();
    assert_eq!(l2.reserve(1, 3_000_000).map(|_| ()), Err(Error::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(3));
    assert_healthy(&l2, &region);
    region.set_counter(L3_FLAG, 1);
    assert_eq!(
        l2.reserve(1, 1_000_000).map(|_| ()),
        Err(Error::RemoteAborted)
    );
    assert_eq!(l2.reserve(0, 0).map(|_| ()), Err(Error::RemoteAborted));
    assert_eq!(region.counter(L2_FLAG), 0);
    assert_eq!(l2.error().map(|e| e.kind()), Some(ErrorKind::RemoteAborted));
    assert_eq!(region.counter(OUT_TAIL), 1);
}

#[test]
fn blocking_send_times_out_on_a_full_ring_then_succeeds_after_a_release() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    for i in 0..4u8 {
        l2.send(Opcode::Data, &[i; 3], 1_000_000).unwrap();
    }
    assert_eq!(
        l2.send(Opcode::Error, b"late", 1_000_000),
        Err(Error::Timeout)
    );
    assert_eq!(
        region.counter(OUT_TAIL),
        4,
        "a timed-out send publishes nothing"
    );
    assert!(l2.error().is_none(), "a timeout does not poison");
    sink.expect();
    sink.release();
    l2.send(Opcode::Error, b"late", 1_000_000).unwrap();
    let rest = sink.drain();
    assert_eq!(rest.len(), 4);
    let (slot, payload) = &rest[3];
    assert_eq!(
        (slot.opcode, payload.as_slice()),
        (L3L2Q_OPCODE_ERROR, &b"late"[..])
    );
}
