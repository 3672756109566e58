//! Creation.

use super::*;

#[test]
fn layout_agrees_with_the_l2_side() {
    // The region is larger than the queue needs; the descriptor handed to
    // L2 must carry the exact layout sizes, which L2 requires.
    let region = RawRegion::with_skew(16, 2048, 1024, 5);
    let q = L3Queue::create(
        mapped(&region),
        &region.descriptor(),
        QueueConfig {
            depth: 8,
            input_arena_bytes: 1024,
            output_arena_bytes: 576,
        },
    )
    .unwrap();
    let layout = Layout::compute(8, 1024, 576).unwrap();
    assert_eq!(*q.layout(), layout);
    assert_eq!(layout.input_desc_offset, 0);
    assert_eq!(layout.output_desc_offset, 8 * 32);
    assert_eq!(layout.input_arena_offset, 512);
    assert_eq!(layout.output_arena_offset, 512 + 1024);
    assert_eq!(layout.payload_bytes, 512 + 1024 + 576);

    let d = *q.descriptor();
    let raw = region.descriptor();
    assert_eq!(
        d,
        RegionDescriptor {
            payload_bytes: layout.payload_bytes,
            counter_bytes: L3L2Q_COUNTER_BYTES,
            ..raw
        }
    );
    assert!(d.payload_bytes < raw.payload_bytes);

    let args = q.queue_args();
    assert_eq!(
        args.magic_version,
        pack_magic_version(L3L2Q_QUEUE_MAGIC, 1, 1)
    );
    assert_eq!(
        (args.depth, args.input_arena_bytes, args.output_arena_bytes),
        (8, 1024, 576)
    );
    assert_eq!(
        (args.payload_bytes, args.counter_bytes),
        (layout.payload_bytes, 384)
    );
    assert_eq!(validate_queue(&d, &args), Ok(layout));

    let s = q.task_scalars().scalars;
    assert_eq!(
        s,
        [
            d.magic_version,
            d.region_id,
            d.payload_base,
            d.payload_bytes,
            d.counter_base,
            d.counter_bytes,
            args.magic_version,
            args.depth,
            args.input_arena_bytes,
            args.output_arena_bytes,
            args.payload_bytes,
            args.counter_bytes
        ]
    );

    // L2 accepts the scalars and computes the same layout; a message in
    // each direction lands where the other side looks for it.
    let mut q = q;
    let mut l2 = l2_of(&q, 1);
    assert_eq!(*l2.layout(), layout);
    q.try_send(Opcode::Data, b"to L2").unwrap();
    let m = l2.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_offset), (1, layout.input_arena_offset));
    assert_eq!(l2.payload(&m), b"to L2");
    l2.release(&m).unwrap();
    l2.try_send(Opcode::Data, b"to L3").unwrap();
    let m = q.try_peek().unwrap();
    assert_eq!((m.seq, m.payload_offset), (1, layout.output_arena_offset));
    // SAFETY: held until the release below.
    assert_eq!(unsafe { m.payload() }, b"to L3");
    q.release(&m).unwrap();
    assert!(l2.error().is_none());
    assert_healthy(&q, &region);
}

#[test]
fn worked_layout_cases_from_the_spec() {
    for (depth, ia, oa, out_desc, ia_off, oa_off, total) in [
        (1, 64, 64, 32, 64, 128, 192),
        (4, 128, 192, 128, 256, 384, 576),
        (8, 192, 64, 256, 512, 704, 768),
    ] {
        let region = RawRegion::new(depth, ia, oa);
        let q = queue(&region);
        let l = q.layout();
        assert_eq!(
            (
                l.output_desc_offset,
                l.input_arena_offset,
                l.output_arena_offset,
                l.payload_bytes
            ),
            (out_desc, ia_off, oa_off, total)
        );
        assert_eq!(*l2_of(&q, 1).layout(), *l);
    }
}

#[test]
fn creation_zeroes_the_six_counters() {
    let region = RawRegion::new(4, 128, 128);
    for (i, off) in COUNTERS.iter().enumerate() {
        region.set_counter(*off, 0xdead_0000 + i as u32);
    }
    let q = queue(&region);
    assert_eq!(counters(&region), [0; 6]);
    assert_healthy(&q, &region);

    // Through callbacks too, with exactly one store per counter and nothing else.
    let region = RawRegion::new(4, 128, 128);
    for off in COUNTERS {
        region.set_counter(off, 0xffff_ffff);
    }
    let cb = FaultyCallbacks::new(&region);
    let q = cb_queue(&cb);
    assert_eq!(counters(&region), [0; 6]);
    assert_eq!(cb.calls(CallKind::CounterStore), 6);
    assert_eq!(cb.total_calls(), 6);
    assert_healthy(&q, &region);
}

#[test]
fn creation_rejects_bad_depth_and_arenas_and_touches_nothing() {
    let region = RawRegion::new(8, 1024, 1024);
    for off in COUNTERS {
        region.set_counter(off, 0x5555_5555);
    }
    let before = snapshot(&region);
    let d = region.descriptor();
    let cases: [(u64, u64, u64, Violation); 9] = [
        (0, 64, 64, Violation::Depth),
        (3, 64, 64, Violation::Depth),
        (12, 64, 64, Violation::Depth),
        ((1 << 30) * 2, 64, 64, Violation::Depth),
        (4, 0, 64, Violation::InputArena),
        (4, 100, 64, Violation::InputArena),
        (4, 64, 0, Violation::OutputArena),
        (4, 64, 65, Violation::OutputArena),
        (4, 64, u64::MAX - 63, Violation::LayoutOverflow),
    ];
    for (depth, ia, oa, violation) in cases {
        let r = L3Queue::create(
            mapped(&region),
            &d,
            QueueConfig {
                depth,
                input_arena_bytes: ia,
                output_arena_bytes: oa,
            },
        );
        assert_eq!(
            r.err(),
            Some(Error::BadDescriptor(violation)),
            "depth {depth} arenas {ia}/{oa}"
        );
        assert_eq!(
            snapshot(&region),
            before,
            "a failed create touched shared memory"
        );
    }
    // Through callbacks: not a single callback is called.
    let cb = FaultyCallbacks::new(&region);
    for (depth, ia, oa, violation) in cases {
        // SAFETY: cb outlives the backend.
        let r = L3Queue::create(
            unsafe { cb.backend() },
            &d,
            QueueConfig {
                depth,
                input_arena_bytes: ia,
                output_arena_bytes: oa,
            },
        );
        assert_eq!(r.err(), Some(Error::BadDescriptor(violation)));
    }
    assert_eq!(cb.total_calls(), 0);
}

#[test]
fn creation_rejects_a_region_too_small() {
    let region = RawRegion::new(8, 1024, 1024);
    for off in COUNTERS {
        region.set_counter(off, 7);
    }
    let before = snapshot(&region);
    let cb = FaultyCallbacks::new(&region);
    let d = region.descriptor();
    // Payload range one arena line short.
    let r = L3Queue::create(
        mapped(&region),
        &d,
        QueueConfig {
            depth: 8,
            input_arena_bytes: 1024,
            output_arena_bytes: 1088,
        },
    );
    assert_eq!(
        r.err(),
        Some(Error::BadDescriptor(Violation::RegionTooSmall))
    );
    // A deeper ring than the region holds.
    let r = L3Queue::create(
        mapped(&region),
        &d,
        QueueConfig {
            depth: 16,
            input_arena_bytes: 1024,
            output_arena_bytes: 1024,
        },
    );
    assert_eq!(
        r.err(),
        Some(Error::BadDescriptor(Violation::RegionTooSmall))
    );
    // Counter range short of the six lines.
    let short = RegionDescriptor {
        counter_bytes: 320,
        ..d
    };
    // SAFETY: a subset of the raw region.
    let m = unsafe { MappedRegion::from_descriptor(&short) }.unwrap();
    assert_eq!(
        L3Queue::create(
            m,
            &short,
            QueueConfig {
                depth: 8,
                input_arena_bytes: 1024,
                output_arena_bytes: 1024
            }
        )
        .err(),
        Some(Error::BadDescriptor(Violation::RegionTooSmall))
    );
    // SAFETY: cb outlives the backend.
    let r = L3Queue::create(
        unsafe { cb.backend() },
        &d,
        QueueConfig {
            depth: 8,
            input_arena_bytes: 2048,
            output_arena_bytes: 1024,
        },
    );
    assert_eq!(
        r.err(),
        Some(Error::BadDescriptor(Violation::RegionTooSmall))
    );
    assert_eq!(cb.total_calls(), 0);
    assert_eq!(snapshot(&region), before);
    // The exact size is fine.
    let q = L3Queue::create(
        mapped(&region),
        &d,
        QueueConfig {
            depth: 8,
            input_arena_bytes: 1024,
            output_arena_bytes: 1024,
        },
    )
    .unwrap();
    assert_healthy(&q, &region);
}

#[test]
fn creation_rejects_a_bad_descriptor_before_any_callback() {
    let region = RawRegion::new(4, 128, 128);
    let cb = FaultyCallbacks::new(&region);
    let good = region.descriptor();
    let cases = [
        (
            RegionDescriptor {
                magic_version: pack_magic_version(0x1234_5678, 2, 0),
                ..good
            },
            Violation::RegionMagic,
        ),
        (
            RegionDescriptor {
                magic_version: pack_magic_version(L3L2Q_REGION_MAGIC, 1, 0),
                ..good
            },
            Violation::RegionMajor,
        ),
        (
            RegionDescriptor {
                region_id: 0,
                ..good
            },
            Violation::RegionIdZero,
        ),
        (
            RegionDescriptor {
                payload_base: 0,
                ..good
            },
            Violation::PayloadBaseZero,
        ),
        (
            RegionDescriptor {
                counter_base: good.counter_base + 4,
                ..good
            },
            Violation::CounterBaseMisaligned,
        ),
        (
            RegionDescriptor {
                counter_bytes: 6,
                ..good
            },
            Violation::CounterBytesInvalid,
        ),
        (
            RegionDescriptor {
                payload_bytes: u64::MAX,
                ..good
            },
            Violation::PayloadRangeOverflow,
        ),
        (
            RegionDescriptor {
                counter_base: good.payload_base & !63,
                ..good
            },
            Violation::RangesOverlap,
        ),
    ];
    for (d, violation) in cases {
        // SAFETY: cb outlives the backend; the backend is never called on this path.
        let r = L3Queue::create(
            unsafe { cb.backend() },
            &d,
            QueueConfig {
                depth: 4,
                input_arena_bytes: 128,
                output_arena_bytes: 128,
            },
        );
        assert_eq!(r.err(), Some(Error::BadDescriptor(violation)), "{d:?}");
    }
    assert_eq!(
        cb.total_calls(),
        0,
        "validation must come before any access"
    );
    // Minor may differ; major 3 is accepted too.
    for (major, minor) in [(2, 7), (3, 0)] {
        let d = RegionDescriptor {
            magic_version: pack_magic_version(L3L2Q_REGION_MAGIC, major, minor),
            ..good
        };
        // SAFETY: as above.
        assert!(
            L3Queue::create(
                unsafe { cb.backend() },
                &d,
                QueueConfig {
                    depth: 4,
                    input_arena_bytes: 128,
                    output_arena_bytes: 128
                }
            )
            .is_ok()
        );
    }
}

#[test]
fn creation_counter_store_failure_is_callback_failed() {
    let region = RawRegion::new(4, 128, 128);
    let cb = FaultyCallbacks::new(&region);
    cb.fail_nth(CallKind::CounterStore, 3);
    // SAFETY: cb outlives the backend.
    let r = L3Queue::create(
        unsafe { cb.backend() },
        &region.descriptor(),
        QueueConfig {
            depth: 4,
            input_arena_bytes: 128,
            output_arena_bytes: 128,
        },
    );
    assert_eq!(r.err(), Some(Error::CallbackFailed));
    cb.heal();
    let q = cb_queue(&cb);
    assert_healthy(&q, &region);
}
