//! Creation.

use super::*;

#[test]
fn creation_with_a_bad_descriptor_reports_the_violation_and_touches_nothing() {
    let region = RawRegion::new(4, 1024, 1024);
    let good_d = region.descriptor();
    let good_a = region.args();
    type Case = (fn(&mut RegionDescriptor, &mut QueueArgs), Violation);
    let cases: [Case; 12] = [
        (|d, _| d.magic_version ^= 1 << 33, Violation::RegionMagic),
        (
            |d, _| d.magic_version = layout::pack_magic_version(L3L2Q_REGION_MAGIC, 4, 0),
            Violation::RegionMajor,
        ),
        (|d, _| d.region_id = 0, Violation::RegionIdZero),
        (|d, _| d.payload_base = 0, Violation::PayloadBaseZero),
        (|d, _| d.counter_base += 4, Violation::CounterBaseMisaligned),
        (|d, _| d.counter_bytes = 6, Violation::CounterBytesInvalid),
        (
            |d, _| d.counter_base = d.payload_base,
            Violation::RangesOverlap,
        ),
        (
            |_, a| a.magic_version = layout::pack_magic_version(L3L2Q_QUEUE_MAGIC, 1, 0),
            Violation::QueueMagic,
        ),
        (|_, a| a.depth = 3, Violation::Depth),
        (|_, a| a.output_arena_bytes = 1000, Violation::OutputArena),
        (|_, a| a.payload_bytes += 64, Violation::ArgsPayloadBytes),
        (
            |d, _| d.payload_bytes += 64,
            Violation::DescriptorPayloadBytes,
        ),
    ];
    for (mutate, violation) in cases {
        let (mut d, mut a) = (good_d, good_a);
        mutate(&mut d, &mut a);
        // SAFETY: the descriptor is rejected before anything is touched; the
        // mapped parts are the region's own.
        let result = unsafe { L2Endpoint::from_descriptor(&d, &a, 1, 0) };
        assert_eq!(result.err(), Some(Error::BadDescriptor(violation)));
        // SAFETY: as above.
        let result = unsafe { L2Endpoint::from_task_scalars(&TaskScalars::encode(&d, &a), 1) };
        assert_eq!(result.err(), Some(Error::BadDescriptor(violation)));
        assert_eq!(counters(&region), [0; 6], "{violation:?}: nothing touched");
    }
    // Minor versions and region major 3 are accepted.
    for (major, minor) in [(2, 7), (3, 0), (3, 9)] {
        let mut d = good_d;
        d.magic_version = layout::pack_magic_version(L3L2Q_REGION_MAGIC, major, minor);
        // SAFETY: the region outlives the endpoint.
        let l2 = unsafe { L2Endpoint::from_descriptor(&d, &good_a, 1, 0) }.expect("accepted");
        assert_eq!(*l2.layout(), region.layout);
    }
}

#[test]
fn window_zero_or_above_depth_is_bad_argument_without_touching_the_abort_flag() {
    let region = RawRegion::new(4, 1024, 1024);
    for window in [0, 5, 8, u64::MAX] {
        // SAFETY: the region outlives the attempt.
        let result = unsafe { L2Endpoint::from_task_scalars(&region.scalars(), window) };
        assert_eq!(result.err(), Some(Error::BadArgument), "window {window}");
        // SAFETY: as above.
        let result =
            unsafe { L2Endpoint::from_descriptor(&region.descriptor(), &region.args(), window, 0) };
        assert_eq!(result.err(), Some(Error::BadArgument), "window {window}");
    }
    assert_eq!(counters(&region), [0; 6]);
    for window in 1..=4 {
        assert_eq!(open(&region, window).max_inflight(), window);
    }
    assert_eq!(counters(&region), [0; 6]);
}
