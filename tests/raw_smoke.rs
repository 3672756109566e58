//! The raw test peer and the L2 endpoint agree on the basics.
mod support;
use l3l2q::*;
use support::raw::{RawProducer, RawRegion};

#[test]
fn raw_producer_message_reaches_the_l2_endpoint_in_place() {
    let region = RawRegion::with_skew(4, 128, 128, 3);
    // SAFETY: the region outlives the endpoint.
    let mut l2 = unsafe { L2Endpoint::from_task_scalars(&region.scalars(), 1) }.unwrap();
    let mut input = RawProducer::input(&region, 0);
    input.send(L3L2Q_OPCODE_DATA, 0, b"hello");
    let msg = l2.try_peek().unwrap();
    assert_eq!((msg.seq, msg.opcode, msg.payload_nbytes), (1, L3L2Q_OPCODE_DATA, 5));
    assert_eq!(l2.payload(&msg), b"hello");
    l2.release(&msg).unwrap();
    assert_eq!(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET), 1);
}
