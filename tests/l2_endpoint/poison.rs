//! Poison.

use super::*;

#[test]
fn poison_keeps_the_first_error_and_abandons_held_work() {
    let region = RawRegion::with_skew(4, 1024, 1024, 1);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    let mut sink = RawConsumer::output(&region, 0);
    l3.write(DATA, 0, b"held");
    l3.write_slot(slot(2, INVALID, 0, 0));
    l3.publish();
    let held = l2.try_peek().unwrap();
    l2.try_send(Opcode::Data, b"out").unwrap();
    let r = l2.try_reserve(4).unwrap();
    assert_eq!(
        l2.try_peek().map(|_| ()),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    let info = *l2.error().unwrap();
    assert!(
        info.message().contains("message 1") && info.message().contains("invalid opcode"),
        "{:?}",
        info.message()
    );
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "invalid opcode",
    );
    // A later misuse does not replace the record.
    assert_eq!(
        l2.release(&held),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(
        l2.publish(&r, Opcode::Stop, 0),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(l2.error().unwrap().operation, Operation::Peek as u32);
    assert_eq!((region.counter(IN_HEAD), region.counter(OUT_TAIL)), (0, 1));
    assert_eq!(
        sink.drain().len(),
        1,
        "what was published before poison stays published"
    );
    drop(l2);
    assert_eq!(region.counter(L2_FLAG), 1, "dropping keeps the flag");
}
