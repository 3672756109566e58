//! Hostile L3, input ring.

use super::*;

/// Publishes `bad` as message 1 after a good message 0 was consumed, and
/// checks the endpoint poisons with `kind` and leaves the head at 1.
fn hostile_input_slot(bad: DescriptorSlot, kind: ErrorKind, text: &str) {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(Opcode::Data, 0, &bytes(64, 1));
    let m = l2.try_peek().unwrap();
    l2.release(&m).unwrap();
    l3.write_slot(bad);
    l3.publish();
    assert_eq!(
        l2.try_peek().map(|_| ()),
        Err(Error::Poisoned(kind)),
        "{bad:?}"
    );
    assert_eq!(region.counter(IN_HEAD), 1, "{bad:?}: head untouched");
    assert_poisoned(&mut l2, &region, kind, Operation::Peek, text);
}

#[test]
fn hostile_seq_off_by_one_poisons() {
    let arena = RawRegion::new(4, 1024, 1024).layout.input_arena_offset;
    for seq in [1, 3, 0, u64::MAX, 2 + (1 << 32)] {
        hostile_input_slot(
            slot(seq, DATA, arena + 64, 8),
            ErrorKind::InvalidDescriptor,
            "seq mismatch",
        );
    }
}

#[test]
fn hostile_stale_slot_from_the_previous_lap_poisons() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    for _ in 0..4 {
        l3.send(Opcode::Data, 0, &[]);
        let m = l2.try_peek().unwrap();
        l2.release(&m).unwrap();
    }
    // The tail says 5, but slot 0 still holds message 1 (seq 1, not 5).
    region.set_counter(IN_TAIL, 5);
    assert_eq!(
        l2.try_peek().map(|_| ()),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(IN_HEAD), 4);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "seq mismatch",
    );
}

#[test]
fn hostile_invalid_opcode_poisons() {
    let arena = RawRegion::new(4, 1024, 1024).layout.input_arena_offset;
    for opcode in [INVALID, 4, 0x100 | u64::from(DATA), u64::MAX] {
        hostile_input_slot(
            slot(2, opcode, arena + 64, 8),
            ErrorKind::InvalidDescriptor,
            "invalid opcode",
        );
    }
}

#[test]
fn hostile_payload_outside_the_input_arena_poisons() {
    let layout = RawRegion::new(4, 1024, 1024).layout;
    let (arena, out) = (layout.input_arena_offset, layout.output_arena_offset);
    for (offset, n) in [
        (0, 8),                         // the input descriptor ring
        (layout.output_desc_offset, 8), // the output descriptor ring
        (arena - 1, 8),                 // straddles the arena start
        (arena + 1000, 100),            // runs past the arena end
        (out, 8),                       // the output arena
        (layout.payload_bytes, 8),      // past the region
        (u64::MAX - 3, 8),              // offset + nbytes overflows
        (u64::MAX, 1),
    ] {
        hostile_input_slot(
            slot(2, DATA, offset, n),
            ErrorKind::InvalidDescriptor,
            "outside",
        );
    }
}

#[test]
fn hostile_huge_nbytes_poisons() {
    let arena = RawRegion::new(4, 1024, 1024).layout.input_arena_offset;
    for n in [u64::MAX, u64::MAX - arena, 1025, 1 << 40] {
        hostile_input_slot(
            slot(2, DATA, arena + 64, n),
            ErrorKind::InvalidDescriptor,
            "outside",
        );
    }
    // Starts in the arena but runs one byte past its end.
    hostile_input_slot(
        slot(2, DATA, arena + 64, 1024 - 64 + 1),
        ErrorKind::InvalidDescriptor,
        "outside",
    );
}

#[test]
fn hostile_zero_byte_message_with_a_nonzero_offset_poisons() {
    let arena = RawRegion::new(4, 1024, 1024).layout.input_arena_offset;
    for offset in [arena + 64, 64, u64::MAX] {
        hostile_input_slot(
            slot(2, DATA, offset, 0),
            ErrorKind::InvalidDescriptor,
            "nonzero offset",
        );
    }
}

#[test]
fn hostile_tail_jumping_by_depth_plus_one_poisons() {
    for start in [0u64, (1 << 31) - 2, (1 << 32) - 2] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open_at(&region, 1, start);
        let mut l3 = RawProducer::input(&region, start);
        for _ in 0..5 {
            l3.write(DATA, 0, &[]); // valid slots, so only the counter is wrong
        }
        l3.publish(); // tail = start + 5 = head + depth + 1
        assert_eq!(
            l2.try_peek().map(|_| ()),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "start {start:#x}"
        );
        assert_eq!(region.counter(IN_HEAD), start as u32);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
            "tail counter",
        );
    }
}

#[test]
fn hostile_tail_going_backwards_poisons() {
    for start in [0u64, 1 << 31, 1 << 32] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open_at(&region, 1, start);
        let mut l3 = RawProducer::input(&region, start);
        for _ in 0..2 {
            l3.send(Opcode::Data, 0, &[]);
            let m = l2.try_peek().unwrap();
            l2.release(&m).unwrap();
        }
        region.set_counter(IN_TAIL, (start + 1) as u32);
        assert_eq!(
            l2.try_peek().map(|_| ()),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "start {start:#x}"
        );
        assert_eq!(region.counter(IN_HEAD), (start + 2) as u32);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
            "tail counter",
        );
    }
    // Far behind (by 2^31 and more): also poison, never a huge fold.
    for raw in [u32::MAX, 1 << 31, (1 << 31) + 1] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        region.set_counter(IN_TAIL, raw);
        assert_eq!(
            l2.try_peek().map(|_| ()),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "raw {raw:#x}"
        );
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
            "tail counter",
        );
    }
}

#[test]
fn hostile_tail_more_than_depth_ahead_of_the_unreleased_head_poisons() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(Opcode::Data, 0, &[]);
    let _held = l2.try_peek().unwrap();
    // 4 more: within depth of what L2 observed, but 5 ahead of the head (0).
    for _ in 0..4 {
        l3.write(DATA, 0, &[]);
    }
    l3.publish();
    assert_eq!(
        l2.try_peek().map(|_| ()),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(IN_HEAD), 0);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "ahead of the head",
    );
}
