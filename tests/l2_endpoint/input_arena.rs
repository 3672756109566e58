//! Input arena.

use super::*;

#[test]
fn input_message_ending_at_the_arena_end_is_followed_at_offset_zero() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 4);
    let mut l3 = RawProducer::input(&region, 0);
    l3.write(DATA, 0, &bytes(600, 1));
    l3.write(DATA, 600, &bytes(424, 2)); // ends exactly at the arena end
    l3.publish();
    let a = l2.try_peek().unwrap();
    let b = l2.try_peek().unwrap();
    assert_eq!((b.payload_offset, b.payload_nbytes), (arena + 600, 424));
    l2.release(&a).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    // The expected position is now 1024 % 1024 = 0; 424 bytes are still held
    // at [600, 1024) and [1024, 1124) does not reach them.
    let c_bytes = bytes(100, 3);
    l3.send(Opcode::Data, 0, &c_bytes);
    let c = l2.try_peek().unwrap();
    assert_eq!((c.seq, c.payload_offset, c.payload_nbytes), (3, arena, 100));
    assert_eq!(l2.payload(&c), &c_bytes[..]);
    l3.send(Opcode::Data, 100, b"next");
    let d = l2.try_peek().unwrap();
    assert_eq!(d.payload_offset, arena + 100);
    for m in [b, c, d] {
        l2.release(&m).unwrap();
    }
    assert_eq!(region.counter(IN_HEAD), 4);
    assert_healthy(&l2, &region);
}

#[test]
fn input_message_that_does_not_fit_before_the_end_wraps_to_arena_start() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(Opcode::Data, 0, &bytes(700, 1));
    let a = l2.try_peek().unwrap();
    l2.release(&a).unwrap();
    // 400 bytes do not fit in [700, 1024): the producer skips to the start.
    let b_bytes = bytes(400, 2);
    l3.send(Opcode::Data, 0, &b_bytes);
    let b = l2.try_peek().unwrap();
    assert_eq!((b.seq, b.payload_offset, b.payload_nbytes), (2, arena, 400));
    assert_eq!(l2.payload(&b), &b_bytes[..]);
    // The cursor continues after the wrapped message.
    l3.send(Opcode::Data, 400, &bytes(64, 3));
    let c = l2.try_peek().unwrap();
    assert_eq!(c.payload_offset, arena + 400);
    l2.release(&b).unwrap();
    l2.release(&c).unwrap();
    assert_eq!(region.counter(IN_HEAD), 3);
    assert_healthy(&l2, &region);
}

#[test]
fn input_wrap_to_arena_start_is_accepted_even_when_the_message_would_fit() {
    // Other producers retire padding eagerly (SPEC section 6).
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(Opcode::Data, 0, &bytes(300, 1));
    let a = l2.try_peek().unwrap();
    l2.release(&a).unwrap();
    l3.send(Opcode::Data, 0, &bytes(100, 2)); // would have fit at 300
    let b = l2.try_peek().unwrap();
    assert_eq!((b.payload_offset, b.payload_nbytes), (arena, 100));
    l2.release(&b).unwrap();
    l3.send(Opcode::Data, 100, &bytes(50, 3)); // after the wrap the cursor is at 100, not 400
    let c = l2.try_peek().unwrap();
    assert_eq!(c.payload_offset, arena + 100);
    l2.release(&c).unwrap();
    assert_eq!(region.counter(IN_HEAD), 3);
    assert_healthy(&l2, &region);
}

#[test]
fn input_wrap_over_held_bytes_poisons_and_leaves_the_head_untouched() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(Opcode::Data, 0, &bytes(800, 1));
    let _held = l2.try_peek().unwrap();
    l3.send(Opcode::Data, 0, &bytes(300, 2)); // would overwrite [0, 300) of the held message
    assert_eq!(
        l2.try_peek().unwrap_err(),
        Error::Poisoned(ErrorKind::InvalidDescriptor)
    );
    assert_eq!(region.counter(IN_HEAD), 0);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Peek,
        "bad arena position",
    );
}

#[test]
fn input_offset_mismatch_poisons_and_leaves_the_head_untouched() {
    // After 64 bytes at 0, the next payload belongs at 64 (or at 0 as a wrap).
    for bad in [128u64, 32, 65, 1023] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        let mut l3 = RawProducer::input(&region, 0);
        l3.send(Opcode::Data, 0, &bytes(64, 1));
        let a = l2.try_peek().unwrap();
        l2.release(&a).unwrap();
        assert_eq!(region.counter(IN_HEAD), 1);
        l3.send(Opcode::Data, bad, &[9]);
        assert_eq!(
            l2.try_peek().unwrap_err(),
            Error::Poisoned(ErrorKind::InvalidDescriptor),
            "offset {bad}"
        );
        assert_eq!(region.counter(IN_HEAD), 1, "offset {bad}: head untouched");
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Peek,
            "bad arena position",
        );
    }
}
