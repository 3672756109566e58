//! Release misuse.

use super::*;

#[test]
fn release_of_a_stale_handle_poisons_with_ownership() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(Opcode::Data, 0, b"a");
    let m = l2.try_peek().unwrap();
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_eq!(l2.release(&m), Err(Error::Poisoned(ErrorKind::Ownership)));
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::Ownership,
        Operation::Release,
        "stale",
    );
}

#[test]
fn double_release_before_the_prefix_is_freed_poisons_with_ownership() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.write(DATA, 0, b"a");
    l3.write(DATA, 1, b"b");
    l3.publish();
    let a = l2.try_peek().unwrap();
    let b = l2.try_peek().unwrap();
    l2.release(&b).unwrap();
    assert_eq!(l2.release(&b), Err(Error::Poisoned(ErrorKind::Ownership)));
    assert_eq!(region.counter(IN_HEAD), 0);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::Ownership,
        Operation::Release,
        "twice",
    );
    assert_eq!(l2.release(&a), Err(Error::Poisoned(ErrorKind::Ownership)));
    assert_eq!(region.counter(IN_HEAD), 0, "nothing is freed after poison");
}

#[test]
fn release_of_an_altered_or_unknown_handle_poisons_with_ownership() {
    type Alter = fn(&mut Message);
    let cases: [(Alter, &str); 6] = [
        (|m| m.payload_offset += 1, "altered"),
        (|m| m.payload_nbytes -= 1, "altered"),
        (|m| m.opcode = ERROR.into(), "altered"),
        (|m| m.seq += 1, "unknown"),
        (|m| m.seq = 0, "unknown"),
        (
            |m| {
                *m = Message {
                    seq: 2,
                    opcode: STOP.into(),
                    ..Message::EMPTY
                }
            },
            "STOP",
        ),
    ];
    for (alter, text) in cases {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 2);
        let mut l3 = RawProducer::input(&region, 0);
        l3.send(Opcode::Data, 0, b"abcd");
        let m = l2.try_peek().unwrap();
        let mut bad = m;
        alter(&mut bad);
        assert_eq!(
            l2.release(&bad),
            Err(Error::Poisoned(ErrorKind::Ownership)),
            "{bad:?}"
        );
        assert_eq!(region.counter(IN_HEAD), 0);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::Ownership,
            Operation::Release,
            text,
        );
        assert_eq!(l2.release(&m), Err(Error::Poisoned(ErrorKind::Ownership)));
        assert_eq!(region.counter(IN_HEAD), 0);
    }
}
