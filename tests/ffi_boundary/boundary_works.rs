//! The boundary works: a panic forced deep inside an operation comes back
//! as `L3L2Q_STATUS_PANIC`, and the handle can still be freed.

use super::*;

#[cfg(debug_assertions)]
mod probe {
    use super::*;
    use l3l2q::ffi::panic_probe;

    /// Keeps the probe's deliberate panics out of the test output; any
    /// other panic still reaches the default hook.
    fn quiet() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let probe = info
                    .payload()
                    .downcast_ref::<&str>()
                    .is_some_and(|m| m.contains("l3l2q panic probe"));
                if !probe {
                    default(info);
                }
            }));
        });
    }

    /// State an operation works on: the queue, the region, a raw L2 peer's
    /// positions, and a message or reservation a setup step left behind.
    struct Ctx<'a> {
        region: &'a RawRegion,
        q: *mut L3QueueHandle,
        msgs: [Message; 4],
        res: Reservation,
    }

    struct Op {
        name: &'static str,
        setup: fn(&mut Ctx<'_>),
        act: fn(&mut Ctx<'_>) -> Status,
    }

    fn ok(s: Status) {
        assert_eq!(s, Status::Ok);
    }

    fn then(a: Status, b: impl FnOnce() -> Status) -> Status {
        if a == Status::Ok { b() } else { a }
    }

    /// L2 plays by hand on the output ring: publishes `n` messages of 40 B.
    fn outputs(ctx: &mut Ctx<'_>, n: u64) {
        let mut out = RawProducer::output(ctx.region, 0);
        for k in 0..n {
            out.write(DATA, k * 40, &[k as u8 + 1; 40]);
        }
        out.publish();
    }

    fn enqueue(q: *mut L3QueueHandle, len: usize) -> Status {
        let payload = vec![0x5au8; len];
        // SAFETY: live queue; payload valid for len bytes.
        unsafe { l3l2q_l3_try_enqueue(q, DATA, payload.as_ptr(), len) }
    }

    fn ops() -> Vec<Op> {
        vec![
            Op {
                name: "try_enqueue",
                setup: |_| {},
                act: |c| enqueue(c.q, 100),
            },
            Op {
                name: "try_enqueue after a release (refresh + replay + wrap)",
                setup: |c| {
                    ok(enqueue(c.q, 200));
                    ok(enqueue(c.q, 40));
                    let mut l2 = RawConsumer::input(c.region, 0);
                    l2.expect();
                    l2.release_to(1);
                },
                act: |c| enqueue(c.q, 100),
            },
            Op {
                name: "enqueue (blocking)",
                setup: |_| {},
                // SAFETY: live queue, valid buffer.
                act: |c| unsafe { l3l2q_l3_enqueue(c.q, DATA, [1u8; 16].as_ptr(), 16, 1_000_000) },
            },
            Op {
                name: "try_enqueue_batch",
                setup: |_| {},
                act: |c| {
                    let data = [[1u8; 10], [2u8; 10], [3u8; 10]];
                    let batch: Vec<ByteSlice> = data
                        .iter()
                        .map(|d| ByteSlice {
                            data: d.as_ptr(),
                            len: 10,
                        })
                        .collect();
                    let mut sent = 0usize;
                    // SAFETY: live queue; the slices point into `data`.
                    unsafe { l3l2q_l3_try_enqueue_batch(c.q, DATA, batch.as_ptr(), 3, &mut sent) }
                },
            },
            Op {
                name: "try_reserve + write_reserved + commit",
                setup: |_| {},
                act: |c| {
                    // SAFETY: live queue; valid out-pointer and buffers.
                    unsafe {
                        let s = l3l2q_l3_try_reserve(c.q, 32, &mut c.res);
                        let s = then(s, || {
                            l3l2q_l3_write_reserved(c.q, &c.res, 0, [7u8; 32].as_ptr(), 32)
                        });
                        then(s, || l3l2q_l3_commit(c.q, &c.res, DATA, 20))
                    }
                },
            },
            Op {
                name: "commit_deferred then flush",
                setup: |c| {
                    // SAFETY: live queue; valid out-pointer.
                    unsafe {
                        ok(l3l2q_l3_try_reserve(c.q, 8, &mut c.res));
                        ok(l3l2q_l3_commit_deferred(c.q, &c.res, DATA, 8));
                    }
                },
                // SAFETY: live queue.
                act: |c| unsafe { l3l2q_l3_flush(c.q) },
            },
            // SAFETY: live queue.
            Op {
                name: "try_request_stop",
                setup: |_| {},
                act: |c| unsafe { l3l2q_l3_try_request_stop(c.q) },
            },
            Op {
                name: "try_peek",
                setup: |c| outputs(c, 1),
                // SAFETY: live queue; valid out-pointer.
                act: |c| unsafe { l3l2q_l3_try_peek(c.q, &mut c.msgs[0]) },
            },
            Op {
                name: "read_into",
                setup: |c| {
                    outputs(c, 1);
                    // SAFETY: live queue; valid out-pointer.
                    ok(unsafe { l3l2q_l3_try_peek(c.q, &mut c.msgs[0]) });
                },
                act: |c| {
                    let (mut buf, mut len) = ([0u8; 64], 0usize);
                    // SAFETY: live queue; valid buffers.
                    unsafe { l3l2q_l3_read_into(c.q, &c.msgs[0], buf.as_mut_ptr(), 64, &mut len) }
                },
            },
            Op {
                name: "release",
                setup: |c| {
                    outputs(c, 1);
                    // SAFETY: live queue; valid out-pointer.
                    ok(unsafe { l3l2q_l3_try_peek(c.q, &mut c.msgs[0]) });
                },
                // SAFETY: live queue; a held message.
                act: |c| unsafe { l3l2q_l3_release(c.q, &c.msgs[0]) },
            },
            Op {
                name: "try_dequeue_into",
                setup: |c| outputs(c, 1),
                act: |c| {
                    let (mut buf, mut op, mut len) = ([0u8; 64], 0u64, 0usize);
                    // SAFETY: live queue; valid buffers.
                    unsafe {
                        l3l2q_l3_try_dequeue_into(c.q, buf.as_mut_ptr(), 64, &mut op, &mut len)
                    }
                },
            },
            Op {
                name: "try_peek_batch + release_batch",
                setup: |c| outputs(c, 3),
                act: |c| {
                    let mut n = 0usize;
                    // SAFETY: live queue; valid buffers.
                    unsafe {
                        let s = l3l2q_l3_try_peek_batch(c.q, c.msgs.as_mut_ptr(), 4, &mut n);
                        then(s, || l3l2q_l3_release_batch(c.q, c.msgs.as_ptr(), n))
                    }
                },
            },
        ]
    }

    /// Sweeps the probe over every region access of `op`: panic at the
    /// 1st, the 2nd, ... until the operation completes without reaching
    /// the probe. Returns how many panics came back as a status.
    fn sweep(op: &Op, callbacks: bool) -> u32 {
        for k in 1..=200u32 {
            let region = RawRegion::new(4, 256, 256);
            let cb = FaultyCallbacks::new(&region);
            let mut q = std::ptr::null_mut();
            ok(create(&region, callbacks.then_some(&cb), 0, &mut q));
            let mut ctx = Ctx {
                region: &region,
                q,
                msgs: [Message::EMPTY; 4],
                res: Reservation {
                    token: 0,
                    seq: 0,
                    payload_offset: 0,
                    capacity: 0,
                    data: std::ptr::null_mut(),
                },
            };
            (op.setup)(&mut ctx);
            panic_probe::arm(k);
            let status = (op.act)(&mut ctx);
            let fired = !panic_probe::disarm();
            let what = format!(
                "{} ({}), panic at region access {k}",
                op.name,
                if callbacks { "callbacks" } else { "mapped" }
            );
            // SAFETY: q is the live handle (after a panic it may only be freed, which is what we do).
            assert_eq!(
                unsafe { l3l2q_l3_queue_free(&mut q) },
                Status::Ok,
                "{what}: free"
            );
            assert!(q.is_null());
            if !fired {
                assert_eq!(
                    status,
                    Status::Ok,
                    "{} completes when the probe is not reached",
                    op.name
                );
                assert!(k > 1, "{}: never touched the region", op.name);
                return k - 1;
            }
            assert_eq!(status, Status::Panic, "{what}");
        }
        panic!("{}: still reaching the probe after 200 accesses", op.name);
    }

    #[test]
    fn a_panic_at_any_region_access_comes_back_as_status_panic() {
        quiet();
        let mut total = 0;
        for callbacks in [false, true] {
            // Creation zeroes the counters through the region: panic there too.
            for k in 1..=6 {
                let region = RawRegion::new(4, 256, 256);
                let cb = FaultyCallbacks::new(&region);
                let mut q = std::ptr::null_mut();
                panic_probe::arm(k);
                assert_eq!(
                    create(&region, callbacks.then_some(&cb), 0, &mut q),
                    Status::Panic,
                    "create, access {k}"
                );
                assert!(!panic_probe::disarm());
                assert!(q.is_null(), "nothing is handed out after a panic");
                total += 1;
            }
            for op in ops() {
                let caught = sweep(&op, callbacks);
                eprintln!(
                    "{} ({}): {caught} panics caught",
                    op.name,
                    if callbacks { "callbacks" } else { "mapped" }
                );
                total += caught;
            }
        }
        eprintln!("{total} forced panics came back as L3L2Q_STATUS_PANIC");
        assert!(total >= 60, "too few panic points exercised: {total}");

        // Nothing global was disturbed: a fresh queue on this thread works.
        let region = RawRegion::new(4, 256, 256);
        let mut q = std::ptr::null_mut();
        ok(create(&region, None, 0, &mut q));
        ok(enqueue(q, 10));
        assert_eq!(RawConsumer::input(&region, 0).expect().1, vec![0x5a; 10]);
        // SAFETY: live handle.
        ok(unsafe { l3l2q_l3_queue_free(&mut q) });
    }
}

#[test]
fn initial_count_near_u64_max_is_refused_up_front() {
    // Counts are monotonic u64; a start this high would overflow them
    // after a few messages (a panic in checked builds, a wrap otherwise).
    for initial in [u64::MAX, u64::MAX - 3, 1u64 << 63] {
        let region = RawRegion::new(4, 256, 256);
        for o in COUNTERS {
            region.set_counter(o, 7);
        }
        let mut q = std::ptr::null_mut();
        assert_eq!(
            create(&region, None, initial, &mut q),
            Status::BadArgument,
            "L3 with initial {initial:#x}"
        );
        assert!(q.is_null());
        assert_eq!(counters(&region), [7; 6], "refused before zeroing anything");
        let scalars = region.scalars().scalars;
        let config = L2Config {
            max_inflight: 1,
            initial_count: initial,
        };
        let mut ep = std::ptr::null_mut();
        // SAFETY: valid pointers; the region is mapped in this process.
        assert_eq!(
            unsafe {
                l3l2q_l2_endpoint_create(
                    scalars.as_ptr(),
                    12,
                    &config,
                    &mut ep,
                    std::ptr::null_mut(),
                )
            },
            Status::BadArgument
        );
        assert!(ep.is_null());
        assert_eq!(counters(&region), [7; 6]);
    }
    // The largest accepted start still works end to end.
    let initial = (1u64 << 63) - 1;
    let region = RawRegion::new(4, 256, 256);
    let mut q = std::ptr::null_mut();
    assert_eq!(create(&region, None, initial, &mut q), Status::Ok);
    let mut scalars = [0u64; 12];
    let config = L2Config {
        max_inflight: 1,
        initial_count: initial,
    };
    let mut ep = std::ptr::null_mut();
    // SAFETY: live handles, valid buffers.
    unsafe {
        assert_eq!(
            l3l2q_l3_task_scalars(q, scalars.as_mut_ptr(), 12),
            Status::Ok
        );
        assert_eq!(
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, &config, &mut ep, std::ptr::null_mut()),
            Status::Ok
        );
        for k in 0..10u8 {
            assert_eq!(
                l3l2q_l3_try_enqueue(q, DATA, [k; 9].as_ptr(), 9),
                Status::Ok
            );
            let mut m = Message::EMPTY;
            assert_eq!(l3l2q_l2_try_peek(ep, &mut m), Status::Ok);
            assert_eq!(
                (m.seq, m.payload()),
                (initial + u64::from(k) + 1, &[k; 9][..])
            );
            assert_eq!(l3l2q_l2_release(ep, &m), Status::Ok);
        }
        assert_eq!(l3l2q_l2_endpoint_free(&mut ep), Status::Ok);
        assert_eq!(l3l2q_l3_queue_free(&mut q), Status::Ok);
    }
}

/// Opcodes travel through the C API as integers, and codes with no
/// `Opcode` name (so unreachable from the Rust API) are validated there:
/// L3 refuses them as bad arguments without touching shared memory, L2
/// poisons as for STOP (SPEC 4, 7).
#[test]
fn opcodes_without_a_rust_name_are_validated_at_the_c_boundary() {
    for code in [4, 9, u64::MAX] {
        let region = RawRegion::new(4, 256, 256);
        let mut q = std::ptr::null_mut();
        assert_eq!(create(&region, None, 0, &mut q), Status::Ok);
        let before = counters(&region);
        let slice = ByteSlice {
            data: [1u8].as_ptr(),
            len: 1,
        };
        let mut sent = 7usize;
        let mut r = Reservation {
            token: 0,
            seq: 0,
            payload_offset: 0,
            capacity: 0,
            data: std::ptr::null_mut(),
        };
        let mut scalars = [0u64; 12];
        let config = L2Config {
            max_inflight: 1,
            initial_count: 0,
        };
        let mut ep = std::ptr::null_mut();
        let mut info = ErrorInfo::none();
        // SAFETY: live handles, valid buffers.
        unsafe {
            assert_eq!(
                l3l2q_l3_try_enqueue(q, code, [1u8].as_ptr(), 1),
                Status::BadArgument
            );
            assert_eq!(
                l3l2q_l3_enqueue(q, code, [1u8].as_ptr(), 1, 1_000),
                Status::BadArgument
            );
            assert_eq!(
                l3l2q_l3_try_enqueue_batch(q, code, &slice, 1, &mut sent),
                Status::BadArgument
            );
            assert_eq!(sent, 7, "nothing written on failure");
            assert_eq!(counters(&region), before, "shared memory untouched");
            assert_eq!(l3l2q_l3_try_reserve(q, 1, &mut r), Status::Ok);
            assert_eq!(l3l2q_l3_commit(q, &r, code, 1), Status::Poisoned);
            assert_eq!(l3l2q_l3_error(q, &mut info), Status::Ok);
            assert_eq!(
                info.kind(),
                l3l2q::ErrorKind::InvalidDescriptor,
                "L3 commit of {code}"
            );

            let region = RawRegion::new(4, 256, 256);
            let mut q2 = std::ptr::null_mut();
            assert_eq!(create(&region, None, 0, &mut q2), Status::Ok);
            assert_eq!(
                l3l2q_l3_task_scalars(q2, scalars.as_mut_ptr(), 12),
                Status::Ok
            );
            assert_eq!(
                l3l2q_l2_endpoint_create(
                    scalars.as_ptr(),
                    12,
                    &config,
                    &mut ep,
                    std::ptr::null_mut()
                ),
                Status::Ok
            );
            assert_eq!(l3l2q_l2_try_reserve(ep, 1, &mut r), Status::Ok);
            assert_eq!(l3l2q_l2_publish(ep, &r, code, 1), Status::Poisoned);
            assert_eq!(l3l2q_l2_error(ep, &mut info), Status::Ok);
            assert_eq!(
                info.kind(),
                l3l2q::ErrorKind::InvalidDescriptor,
                "L2 publish of {code}"
            );
            assert_eq!(
                region.counter(L3L2Q_OUTPUT_DESC_TAIL_OFFSET),
                0,
                "nothing published"
            );
            assert_eq!(l3l2q_l2_endpoint_free(&mut ep), Status::Ok);
            assert_eq!(l3l2q_l3_queue_free(&mut q2), Status::Ok);
            assert_eq!(l3l2q_l3_queue_free(&mut q), Status::Ok);
        }
    }
}
