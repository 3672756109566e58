//! Input basics.

use super::*;

#[test]
fn zero_byte_messages_have_offset_zero_no_view_and_take_no_arena_bytes() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);

    l3.send(Opcode::Data, 0, b"");
    let m = l2.try_peek().unwrap();
    assert_eq!(
        m,
        Message {
            seq: 1,
            opcode: DATA.into(),
            payload_offset: 0,
            payload_nbytes: 0,
            data: ptr::null()
        }
    );
    assert!(l2.holds(&m));
    assert!(l2.payload(&m).is_empty());
    assert_eq!(l2.copy_payload(&m, &mut []), Ok(0));
    assert_eq!(region.counter(IN_HEAD), 0, "the head moves only on release");
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    assert!(!l2.holds(&m));

    // No arena bytes were used: the next payload is expected at arena offset 0.
    l3.send(Opcode::Data, 0, b"abc");
    let m = l2.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_offset, m.payload_nbytes), (2, arena, 3));
    assert_eq!(l2.payload(&m), b"abc");
    l2.release(&m).unwrap();

    // A zero-byte ERROR between payloads leaves the cursor at 3.
    l3.send(Opcode::Error, 0, b"");
    let m = l2.try_peek().unwrap();
    assert_eq!(
        (m.seq, m.opcode, m.payload_offset, m.payload_nbytes),
        (3, u64::from(ERROR), 0, 0)
    );
    l2.release(&m).unwrap();
    l3.send(Opcode::Data, 3, b"de");
    let m = l2.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_offset), (4, arena + 3));
    assert_eq!(l2.payload(&m), b"de");
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 4);
    assert_healthy(&l2, &region);
}

#[test]
fn input_payload_bytes_are_visible_in_place_through_the_view() {
    // An odd payload base: no alignment may be assumed.
    let region = RawRegion::with_skew(4, 1024, 1024, 5);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 2);
    let mut l3 = RawProducer::input(&region, 0);
    let (a, b) = (bytes(100, 7), bytes(37, 200));
    l3.write(DATA, 0, &a);
    l3.write(DATA, 100, &b);
    l3.publish();

    let ma = l2.try_peek().unwrap();
    let mb = l2.try_peek().unwrap();
    assert_eq!(
        (ma.seq, ma.opcode, ma.payload_offset, ma.payload_nbytes),
        (1, u64::from(DATA), arena, 100)
    );
    assert_eq!(
        (mb.seq, mb.opcode, mb.payload_offset, mb.payload_nbytes),
        (2, u64::from(DATA), arena + 100, 37)
    );
    assert_eq!(
        ma.data,
        region
            .payload_base()
            .wrapping_add(arena as usize)
            .cast_const(),
        "zero-copy: points into the region"
    );
    assert_eq!(
        mb.data,
        region
            .payload_base()
            .wrapping_add(arena as usize + 100)
            .cast_const()
    );
    assert_eq!(l2.payload(&ma), &a[..]);
    // SAFETY: mb is held by the live endpoint and released only below.
    assert_eq!(unsafe { mb.payload() }, &b[..]);
    let mut buf = [0u8; 128];
    assert_eq!(l2.copy_payload(&ma, &mut buf), Ok(100));
    assert_eq!(&buf[..100], &a[..]);
    assert_eq!(
        l2.copy_payload(&ma, &mut buf[..99]),
        Err(Error::BufferTooSmall),
        "caller error, no poison"
    );

    let mut altered = mb;
    altered.payload_nbytes = 36;
    assert!(
        l2.payload(&altered).is_empty(),
        "an altered handle has no view"
    );
    let mut repointed = mb;
    repointed.data = ma.data;
    assert_eq!(
        l2.payload(&repointed),
        &b[..],
        "the view comes from the validated offset, not the handle's pointer"
    );
    repointed.data = ptr::null();
    assert_eq!(l2.payload(&repointed), &b[..]);
    l2.release(&ma).unwrap();
    assert!(l2.payload(&ma).is_empty(), "a released message has no view");
    assert_eq!(region.counter(IN_HEAD), 1);
    l2.release(&mb).unwrap();
    assert_eq!(region.counter(IN_HEAD), 2);
    assert_healthy(&l2, &region);
}

#[test]
fn error_input_is_an_ordinary_message_and_never_poisons() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(Opcode::Error, 0, b"remote failure");
    let m = l2.try_peek().unwrap();
    assert_eq!(
        (m.seq, m.opcode, m.payload_offset, m.payload_nbytes),
        (1, u64::from(ERROR), arena, 14)
    );
    assert_eq!(l2.payload(&m), b"remote failure");
    l2.release(&m).unwrap();
    l3.send(Opcode::Data, 14, b"after");
    let m = l2.try_peek().unwrap();
    assert_eq!((m.seq, m.opcode), (2, u64::from(DATA)));
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 2);
    assert_healthy(&l2, &region);
}

#[test]
fn input_slot_rewritten_after_acquire_does_not_change_the_held_handle() {
    let region = RawRegion::new(4, 1024, 1024);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open(&region, 1);
    let mut l3 = RawProducer::input(&region, 0);
    l3.send(Opcode::Data, 0, &bytes(64, 1));
    let m = l2.try_peek().unwrap();
    // A hostile rewrite of the slot after the copy was taken.
    region.write_slot(
        region.layout.input_desc_offset,
        0,
        slot(9, INVALID, 7, u64::MAX),
    );
    assert!(l2.holds(&m));
    assert_eq!(
        (m.seq, m.opcode, m.payload_offset, m.payload_nbytes),
        (1, u64::from(DATA), arena, 64)
    );
    l2.release(&m).unwrap();
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_healthy(&l2, &region);
}

#[test]
fn peek_waits_for_a_message_published_later_by_another_thread() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            RawProducer::input(&region, 0).send(Opcode::Data, 0, b"late");
        });
        let m = l2.peek(10_000_000_000).expect("arrives within the bound");
        assert_eq!(l2.payload(&m), b"late");
        l2.release(&m).unwrap();
    });
    assert_eq!(region.counter(IN_HEAD), 1);
    assert_healthy(&l2, &region);
}
