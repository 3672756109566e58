//! Window.

use super::*;

#[test]
fn window_one_second_peek_before_release_poisons_with_ownership() {
    // With the next message published and with nothing published: the rule
    // does not depend on what comes next.
    for publish_second in [true, false] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        let mut l3 = RawProducer::input(&region, 0);
        l3.write(DATA, 0, b"one");
        if publish_second {
            l3.write(DATA, 3, b"two");
        }
        l3.publish();
        let m = l2.try_peek().unwrap();
        assert_eq!(m.seq, 1);
        assert_eq!(
            l2.try_peek().unwrap_err(),
            Error::Poisoned(ErrorKind::Ownership)
        );
        assert_eq!(region.counter(IN_HEAD), 0);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::Ownership,
            Operation::Peek,
            "window 1",
        );
        assert_eq!(l2.release(&m), Err(Error::Poisoned(ErrorKind::Ownership)));
        assert_eq!(region.counter(IN_HEAD), 0);
    }
}

#[test]
fn window_full_is_no_progress_and_frees_only_the_completed_prefix() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 3);
    let mut l3 = RawProducer::input(&region, 0);
    for k in 0..4u64 {
        l3.write(DATA, k * 64, &bytes(64, k as u8));
    }
    l3.publish();
    let m: Vec<Message> = (0..3).map(|_| l2.try_peek().unwrap()).collect();
    assert_eq!(m.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        l2.try_peek().unwrap_err(),
        Error::NoProgress,
        "window full is ordinary no-progress"
    );
    assert_healthy(&l2, &region);

    l2.release(&m[1]).unwrap();
    assert_eq!(region.counter(IN_HEAD), 0, "#2 before #1 frees nothing");
    assert!(!l2.holds(&m[1]) && l2.holds(&m[0]) && l2.holds(&m[2]));
    l2.release(&m[2]).unwrap();
    assert_eq!(region.counter(IN_HEAD), 0);
    // The bytes of released-but-not-freed messages stay readable through
    // their region: the producer cannot reuse them yet.
    l2.release(&m[0]).unwrap();
    assert_eq!(
        region.counter(IN_HEAD),
        3,
        "the whole completed prefix is freed at once"
    );
    let d = l2.try_peek().unwrap();
    assert_eq!(
        (d.seq, d.payload_offset),
        (4, region.layout.input_arena_offset + 192)
    );
    l2.release(&d).unwrap();
    assert_eq!(region.counter(IN_HEAD), 4);
    assert_healthy(&l2, &region);
}

/// depth 4, window 3, 64-byte messages in a 256-byte arena: out-of-order
/// releases while the ring and the arena wrap.
pub(crate) fn window_script(start: u64) {
    let region = RawRegion::new(4, 256, 256);
    let arena = region.layout.input_arena_offset;
    let mut l2 = open_at(&region, 3, start);
    let mut l3 = RawProducer::input(&region, start);
    let head = |region: &RawRegion| region.counter(IN_HEAD).wrapping_sub(start as u32);
    let publish = |l3: &mut RawProducer<'_>, ks: std::ops::Range<u64>| {
        for k in ks {
            l3.write(DATA, (k % 4) * 64, &bytes(64, k as u8));
        }
        l3.publish();
    };
    let peek = |l2: &mut L2Endpoint, k: u64| {
        let m = l2
            .try_peek()
            .unwrap_or_else(|e| panic!("start {start:#x} message {k}: {e:?}"));
        assert_eq!(
            (m.seq, m.payload_offset, m.payload_nbytes),
            (start + k + 1, arena + (k % 4) * 64, 64)
        );
        assert_eq!(l2.payload(&m), &bytes(64, k as u8)[..]);
        m
    };
    publish(&mut l3, 0..4); // the ring is full
    let (m0, m1, m2) = (peek(&mut l2, 0), peek(&mut l2, 1), peek(&mut l2, 2));
    l2.release(&m1).unwrap();
    assert_eq!(head(&region), 0);
    l2.release(&m2).unwrap();
    assert_eq!(head(&region), 0);
    l2.release(&m0).unwrap();
    assert_eq!(head(&region), 3);
    publish(&mut l3, 4..7); // slots 0..2 again, arena offsets 0..192 again
    let (m3, m4, m5) = (peek(&mut l2, 3), peek(&mut l2, 4), peek(&mut l2, 5));
    l2.release(&m5).unwrap();
    assert_eq!(head(&region), 3);
    l2.release(&m3).unwrap();
    assert_eq!(head(&region), 4, "only #3 is a completed prefix");
    l2.release(&m4).unwrap();
    assert_eq!(head(&region), 6);
    publish(&mut l3, 7..10);
    let (m6, m7, m8) = (peek(&mut l2, 6), peek(&mut l2, 7), peek(&mut l2, 8));
    l2.release(&m8).unwrap();
    l2.release(&m7).unwrap();
    assert_eq!(head(&region), 6);
    l2.release(&m6).unwrap();
    assert_eq!(head(&region), 9);
    let m9 = peek(&mut l2, 9);
    l2.release(&m9).unwrap();
    assert_eq!(head(&region), 10);
    assert_eq!(l2.try_peek().unwrap_err(), Error::NoProgress);
    assert_healthy(&l2, &region);
}

#[test]
fn window_out_of_order_release_across_ring_wrap() {
    window_script(0);
    window_script(2);
}
