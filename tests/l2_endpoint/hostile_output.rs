//! Hostile L3, output ring.

use super::*;

#[test]
fn hostile_output_head_past_the_published_tail_poisons() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    l2.try_send(Opcode::Data, &[1]).unwrap();
    region.set_counter(OUT_HEAD, 2); // only 1 published
    // A reserve that needs the head (the cached view shows no room).
    assert_eq!(
        l2.try_reserve(1024).map(|_| ()),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(OUT_TAIL), 1);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Reserve,
        "head counter",
    );

    // Jumping by depth + 1.
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    for _ in 0..4 {
        l2.try_send(Opcode::Data, &[]).unwrap();
    }
    region.set_counter(OUT_HEAD, 5);
    assert_eq!(
        l2.try_send(Opcode::Data, &[]),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(OUT_TAIL), 4);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Enqueue,
        "head counter",
    );
}

#[test]
fn hostile_output_head_going_backwards_poisons() {
    let region = RawRegion::new(4, 64, 64);
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    l2.try_send(Opcode::Data, &[1; 64]).unwrap();
    sink.drain();
    l2.try_send(Opcode::Data, &[2; 64]).unwrap(); // refreshed: head 1
    region.set_counter(OUT_HEAD, 0);
    assert_eq!(
        l2.try_send(Opcode::Data, &[3; 64]),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(OUT_TAIL), 2);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Enqueue,
        "head counter",
    );
}

#[test]
fn hostile_released_output_slot_altered_before_replay_poisons() {
    type Alter = fn(&mut DescriptorSlot);
    let cases: [(Alter, &str); 3] = [
        (|s| s.seq += 4, "seq"),
        (|s| s.payload_offset += 8, "never wrote"),
        (|s| s.payload_offset = 0, "outside"),
    ];
    for (alter, text) in cases {
        let region = RawRegion::new(4, 1024, 1024);
        let ring = region.layout.output_desc_offset;
        let mut l2 = open(&region, 1);
        let mut sink = RawConsumer::output(&region, 0);
        l2.try_send(Opcode::Data, &bytes(100, 1)).unwrap();
        l2.try_send(Opcode::Data, &bytes(100, 2)).unwrap();
        sink.take().unwrap();
        let mut s = region.read_slot(ring, 0);
        alter(&mut s);
        region.write_slot(ring, 0, s);
        sink.release(); // head 1 of 2: L2 must replay message 1
        assert_eq!(
            l2.try_reserve(1000).map(|_| ()),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "{s:?}"
        );
        assert_eq!(region.counter(OUT_TAIL), 2);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Reserve,
            text,
        );
    }
}
