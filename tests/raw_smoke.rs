//! The raw test peer and the L2 endpoint agree on the basics.
mod support {
    #[allow(
        dead_code,
        reason = "the raw peer is a kit; each test binary drives part of it"
    )]
    pub mod peer;
    #[allow(
        dead_code,
        reason = "the raw peer is a kit; each test binary drives part of it"
    )]
    pub mod region;
}
use l3l2q::abi::*;
use l3l2q::*;
use support::peer::RawProducer;
use support::region::RawRegion;

#[test]
fn raw_producer_message_reaches_the_l2_endpoint_in_place() {
    let region = RawRegion::with_skew(4, 128, 128, 3);
    // SAFETY: the region outlives the endpoint.
    let mut l2 = unsafe { L2Endpoint::from_task_scalars(&region.scalars(), 1) }.unwrap();
    let mut input = RawProducer::input(&region, 0);
    input.send(Opcode::Data, 0, b"hello");
    let msg = l2.try_peek().unwrap();
    assert_eq!(
        (msg.seq, msg.opcode, msg.payload_nbytes),
        (1, L3L2Q_OPCODE_DATA, 5)
    );
    assert_eq!(l2.payload(&msg), b"hello");
    l2.release(&msg).unwrap();
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET), 1);
}

#[test]
fn stop_is_acquired_even_when_the_window_is_full() {
    let region = RawRegion::new(4, 128, 128);
    // SAFETY: the region outlives the endpoint.
    let mut l2 = unsafe { L2Endpoint::from_task_scalars(&region.scalars(), 2) }.unwrap();
    let mut input = RawProducer::input(&region, 0);
    input.write(L3L2Q_OPCODE_DATA, 0, b"a");
    input.write(L3L2Q_OPCODE_DATA, 1, b"b");
    input.write(L3L2Q_OPCODE_DATA, 2, b"c");
    input.publish();
    let first = l2.try_peek().unwrap();
    let second = l2.try_peek().unwrap();
    assert_eq!(
        l2.try_peek(),
        Err(Error::NoProgress),
        "window of 2 is full and the next input is DATA"
    );
    l2.release(&first).unwrap();
    let third = l2.try_peek().unwrap();
    assert_eq!(third.seq, 3);
    let mut input = RawProducer::input(&region, 3);
    input.send(Opcode::Stop, 0, b"");
    let stop = l2
        .try_peek()
        .expect("STOP does not count against the full window");
    assert_eq!(stop.opcode, L3L2Q_OPCODE_STOP);
    assert!(!l2.drained());
    l2.release(&stop).unwrap();
    assert!(
        !l2.drained(),
        "STOP is released physically only after earlier inputs"
    );
    l2.release(&third).unwrap();
    assert!(!l2.drained());
    l2.release(&second).unwrap();
    assert!(l2.drained());
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET), 4);
    assert!(l2.error().is_none());
}
