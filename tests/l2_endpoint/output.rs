//! Output.

use super::*;

#[test]
fn output_zero_byte_message_is_written_with_offset_zero() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    let r = l2.try_reserve(0).unwrap();
    assert_eq!(
        (r.payload_offset, r.capacity, r.data),
        (0, 0, ptr::null_mut())
    );
    assert!(l2.reserved_mut(&r).is_empty());
    l2.publish(&r, Opcode::Data, 0).unwrap();
    l2.try_send(Opcode::Error, &[]).unwrap();
    l2.try_send(Opcode::Data, b"xy").unwrap();
    assert_eq!(region.counter(OUT_TAIL), 3);
    assert_eq!(
        sink.drain(),
        vec![
            (slot(1, DATA, 0, 0), vec![]),
            (slot(2, ERROR, 0, 0), vec![]),
            (slot(3, DATA, out, 2), b"xy".to_vec()),
        ]
    );
    assert_healthy(&l2, &region);
}

#[test]
fn error_output_is_an_ordinary_message_and_never_poisons() {
    // 64-byte messages in a 128-byte arena, released one at a time: every
    // reserve must replay the released ERROR descriptors to find room.
    let region = RawRegion::new(4, 128, 128);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    l2.try_send(Opcode::Error, &bytes(64, 0)).unwrap();
    for k in 1..8u64 {
        let opcode = if k % 2 == 0 { ERROR } else { DATA };
        l2.try_send(opcode, &bytes(64, k as u8)).unwrap();
        assert_eq!(
            l2.try_send(Opcode::Data, &[0; 64]),
            Err(Error::NoProgress),
            "arena full until a release"
        );
        let previous = if k % 2 == 1 { ERROR } else { DATA };
        let (s, payload) = sink.take().unwrap();
        assert_eq!(
            (s, payload),
            (
                slot(k, previous, out + ((k - 1) % 2) * 64, 64),
                bytes(64, (k - 1) as u8)
            )
        );
        sink.release();
    }
    assert_eq!(region.counter(OUT_TAIL), 8);
    assert_eq!(region.counter(OUT_HEAD), 7);
    assert_healthy(&l2, &region);
}

#[test]
fn output_300_then_800_in_a_1024_arena_wraps_after_a_full_drain() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    let a = bytes(300, 1);
    l2.try_send(Opcode::Data, &a).unwrap();
    assert_eq!(
        l2.try_reserve(800).map(|_| ()),
        Err(Error::NoProgress),
        "300 live bytes: no room yet"
    );
    assert_eq!(l2.reserve(800, 1_000_000).map(|_| ()), Err(Error::Timeout));
    assert_eq!(sink.drain(), vec![(slot(1, DATA, out, 300), a)]);

    // Fully drained: 800 bytes must go to the arena start now.
    let r = l2
        .try_reserve(800)
        .expect("a drained arena takes any n <= arena");
    assert_eq!((r.payload_offset, r.capacity), (out, 800));
    assert_eq!(r.data, region.payload_base().wrapping_add(out as usize));
    let b = bytes(800, 2);
    l2.reserved_mut(&r).copy_from_slice(&b);
    l2.publish(&r, Opcode::Data, 800).unwrap();
    assert_eq!(region.counter(OUT_TAIL), 2);
    assert_eq!(sink.drain(), vec![(slot(2, DATA, out, 800), b)]);
    l2.try_send(Opcode::Data, &bytes(224, 3)).unwrap();
    assert_eq!(sink.take().unwrap().0, slot(3, DATA, out + 800, 224));
    sink.release();

    // The same with a blocking reserve while another thread drains later:
    // no deadlock.
    l2.try_send(Opcode::Data, &bytes(300, 4)).unwrap(); // at 0 after the 224 ended at 1024
    assert_eq!(region.counter(OUT_TAIL), 4);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            let mut sink = RawConsumer::output(&region, 3);
            assert_eq!(sink.drain().len(), 1);
        });
        let r = l2
            .reserve(800, 10_000_000_000)
            .expect("the drain frees the arena");
        assert_eq!(r.payload_offset, out);
        l2.publish(&r, Opcode::Data, 800).unwrap();
    });
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 4),
        slot(5, DATA, out, 800)
    );
    assert_healthy(&l2, &region);
}

#[test]
fn output_failed_reserve_commits_no_padding() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    l2.try_send(Opcode::Data, &bytes(300, 1)).unwrap();
    assert_eq!(l2.try_reserve(800).map(|_| ()), Err(Error::NoProgress));
    // The failed try left the cursor at 300: 724 bytes still fit before the end.
    let r = l2.try_reserve(724).unwrap();
    assert_eq!(r.payload_offset, out + 300);
    l2.publish(&r, Opcode::Data, 724).unwrap();
    let got = sink.drain();
    assert_eq!(got[1].0, slot(2, DATA, out + 300, 724));
    assert_healthy(&l2, &region);
}

#[test]
fn output_publish_with_fewer_bytes_returns_the_rest_to_the_arena() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    let r = l2.try_reserve(256).unwrap();
    assert_eq!((r.payload_offset, r.capacity), (out, 256));
    l2.reserved_mut(&r)[..100].copy_from_slice(&bytes(100, 5));
    l2.publish(&r, Opcode::Data, 100).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        slot(1, DATA, out, 100)
    );
    // Without any release, everything after byte 100 is free again.
    let r = l2.try_reserve(924).expect("the unused 156 bytes came back");
    assert_eq!(r.payload_offset, out + 100);
    l2.write_reserved(&r, 0, b"tail").unwrap();
    l2.publish(&r, Opcode::Data, 4).unwrap();
    assert_eq!(
        sink.drain(),
        vec![
            (slot(1, DATA, out, 100), bytes(100, 5)),
            (slot(2, DATA, out + 100, 4), b"tail".to_vec())
        ]
    );
    assert_healthy(&l2, &region);
}

#[test]
fn output_publish_zero_bytes_rolls_back_the_reservation_and_its_padding() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    // Without padding: the whole arena is free again.
    let r = l2.try_reserve(256).unwrap();
    l2.publish(&r, Opcode::Data, 0).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        slot(1, DATA, 0, 0),
        "offset 0"
    );
    let r = l2.try_reserve(1024).expect("nothing was consumed");
    assert_eq!(r.payload_offset, out);
    l2.publish(&r, Opcode::Data, 0).unwrap();

    // With padding: 300 B sent and drained, 800 B wrap to the start, then
    // published as zero bytes: the cursor goes back to 300.
    l2.try_send(Opcode::Data, &bytes(300, 1)).unwrap();
    sink.drain();
    let r = l2.try_reserve(800).unwrap();
    assert_eq!(r.payload_offset, out, "wrapped");
    l2.publish(&r, Opcode::Error, 0).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 3),
        slot(4, ERROR, 0, 0)
    );
    let r = l2.try_reserve(724).unwrap();
    assert_eq!(
        r.payload_offset,
        out + 300,
        "padding rolled back: the cursor is at 300, not at the next cycle"
    );
    l2.publish(&r, Opcode::Data, 724).unwrap();
    assert_eq!(region.counter(OUT_TAIL), 5);
    assert_healthy(&l2, &region);
}

#[test]
fn output_wrapped_reservation_shrunk_to_fit_before_the_wrap_moves_back() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let mut sink = RawConsumer::output(&region, 0);
    l2.try_send(Opcode::Data, &bytes(300, 1)).unwrap();
    sink.drain();
    let r = l2.try_reserve(800).unwrap();
    assert_eq!(r.payload_offset, out);
    l2.reserved_mut(&r)[..10].copy_from_slice(b"0123456789");
    l2.publish(&r, Opcode::Data, 10).unwrap();
    l2.try_send(Opcode::Data, b"next").unwrap();
    assert_eq!(
        sink.drain(),
        vec![
            (slot(2, DATA, out + 300, 10), b"0123456789".to_vec()),
            (slot(3, DATA, out + 310, 4), b"next".to_vec())
        ]
    );
    assert_healthy(&l2, &region);
}

#[test]
fn output_too_large_reserve_is_no_progress_without_abort() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    for n in [1025, 4096, u64::MAX / 2, u64::MAX] {
        assert_eq!(l2.try_reserve(n).map(|_| ()), Err(Error::NoProgress), "{n}");
        assert_eq!(
            l2.try_send(Opcode::Data, &vec![0; 1025]),
            Err(Error::NoProgress)
        );
    }
    assert_eq!(l2.reserve(1025, 1_000_000).map(|_| ()), Err(Error::Timeout));
    assert_eq!(counters(&region), [0; 6]);
    assert_healthy(&l2, &region);
    let r = l2.try_reserve(1024).expect("exactly the arena fits");
    assert_eq!((r.payload_offset, r.capacity), (out, 1024));
    l2.publish(&r, Opcode::Data, 1024).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        slot(1, DATA, out, 1024)
    );
}

#[test]
fn output_publish_more_than_reserved_is_bad_argument_and_keeps_the_reservation() {
    let region = RawRegion::new(4, 1024, 1024);
    let out = region.layout.output_arena_offset;
    let mut l2 = open(&region, 1);
    let r = l2.try_reserve(16).unwrap();
    assert_eq!(l2.publish(&r, Opcode::Data, 17), Err(Error::BadArgument));
    assert_eq!(l2.write_reserved(&r, 10, &[0; 7]), Err(Error::BadArgument));
    assert_eq!(region.counter(OUT_TAIL), 0);
    assert_healthy(&l2, &region);
    l2.publish(&r, Opcode::Data, 16).unwrap();
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        slot(1, DATA, out, 16)
    );
    assert_eq!(region.counter(OUT_TAIL), 1);
}

#[test]
fn output_second_reserve_while_one_is_active_poisons_with_ownership() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    let r = l2.try_reserve(10).unwrap();
    assert_eq!(
        l2.try_reserve(10).map(|_| ()),
        Err(Error::Poisoned(ErrorKind::Ownership))
    );
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::Ownership,
        Operation::Reserve,
        "second reserve",
    );
    assert_eq!(
        l2.publish(&r, Opcode::Data, 10),
        Err(Error::Poisoned(ErrorKind::Ownership))
    );
    assert_eq!(region.counter(OUT_TAIL), 0);
    assert_eq!(
        region.read_slot(region.layout.output_desc_offset, 0),
        DescriptorSlot::default()
    );
}

#[test]
fn output_publish_with_stop_or_an_invalid_opcode_poisons_with_invalid_descriptor() {
    // Codes with no Rust name (4, u64::MAX) reach only the C API: tests/ffi_boundary.
    for opcode in [STOP, Opcode::Invalid] {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        let r = l2.try_reserve(8).unwrap();
        assert_eq!(
            l2.publish(&r, opcode, 8),
            Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
            "opcode {opcode:?}"
        );
        assert_eq!(region.counter(OUT_TAIL), 0);
        assert_eq!(
            region.read_slot(region.layout.output_desc_offset, 0),
            DescriptorSlot::default(),
            "no slot written"
        );
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::InvalidDescriptor,
            Operation::Publish,
            "opcode",
        );
    }
    let region = RawRegion::new(4, 1024, 1024);
    let mut l2 = open(&region, 1);
    assert_eq!(
        l2.try_send(Opcode::Stop, &[]),
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
    assert_eq!(region.counter(OUT_TAIL), 0);
    assert_poisoned(
        &mut l2,
        &region,
        ErrorKind::InvalidDescriptor,
        Operation::Publish,
        "opcode",
    );
}

#[test]
fn output_publish_of_an_unknown_stale_or_altered_reservation_poisons_with_ownership() {
    type Case = fn(&mut L2Endpoint) -> Reservation;
    let cases: [Case; 5] = [
        // stale: already published
        |l2| {
            let r = l2.try_reserve(8).unwrap();
            l2.publish(&r, Opcode::Data, 8).unwrap();
            r
        },
        // unknown: nothing active
        |_| Reservation {
            token: 1,
            seq: 0,
            payload_offset: 0,
            capacity: 0,
            data: ptr::null_mut(),
        },
        |l2| {
            let r = l2.try_reserve(8).unwrap();
            Reservation {
                token: r.token + 1,
                ..r
            }
        },
        |l2| {
            let r = l2.try_reserve(8).unwrap();
            Reservation { capacity: 9, ..r }
        },
        |l2| {
            let r = l2.try_reserve(8).unwrap();
            Reservation {
                payload_offset: r.payload_offset + 64,
                ..r
            }
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let region = RawRegion::new(4, 1024, 1024);
        let mut l2 = open(&region, 1);
        let bad = case(&mut l2);
        let tail = region.counter(OUT_TAIL);
        assert_eq!(
            l2.publish(&bad, Opcode::Data, 0),
            Err(Error::Poisoned(ErrorKind::Ownership)),
            "case {i}"
        );
        assert_eq!(region.counter(OUT_TAIL), tail);
        assert_poisoned(
            &mut l2,
            &region,
            ErrorKind::Ownership,
            Operation::Publish,
            "reservation",
        );
    }
}
