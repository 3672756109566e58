//! Null and misaligned pointers: every pointer argument of every exported
//! function is checked, nothing is written and no shared state changes.

use super::*;

const SLOT: usize = 1024;
const SLOTS: usize = 8;
const FILL: u8 = 0xa5;

/// Out-parameter memory filled with a marker, the region whose counters
/// must not move, and the set of functions checked so far.
struct Checker<'a> {
    sentinel: Box<[u64]>,
    watched: Vec<&'a RawRegion>,
    covered: RefCell<BTreeSet<&'static str>>,
    cases: RefCell<u32>,
}

impl<'a> Checker<'a> {
    fn new(watched: Vec<&'a RawRegion>) -> Self {
        Checker {
            sentinel: vec![0u64; SLOT * SLOTS / 8].into_boxed_slice(),
            watched,
            covered: RefCell::default(),
            cases: RefCell::new(0),
        }
    }

    fn base(&self) -> *mut u8 {
        self.sentinel.as_ptr().cast_mut().cast()
    }

    /// An aligned out-pointer into sentinel slot `k`.
    fn o<T>(&self, k: usize) -> *mut T {
        assert!(k < SLOTS && std::mem::size_of::<T>() < SLOT);
        self.base().wrapping_add(k * SLOT).cast()
    }

    /// A misaligned pointer into sentinel slot `k` (for types aligned > 1).
    fn m<T>(&self, k: usize) -> *mut T {
        assert!(std::mem::align_of::<T>() > 1);
        self.base().wrapping_add(k * SLOT + 1).cast()
    }

    fn c<T>(&self, k: usize) -> *const T {
        self.m::<T>(k).cast_const()
    }

    /// Calls `f` (one exported function with one bad pointer) and checks
    /// it returns BAD_ARGUMENT, writes nothing and moves no counter.
    fn bad(&self, name: &'static str, what: &str, f: impl FnOnce() -> Status) {
        // SAFETY: the sentinel is a live allocation of SLOT * SLOTS bytes.
        unsafe { std::ptr::write_bytes(self.base(), FILL, SLOT * SLOTS) };
        let before: Vec<[u32; 6]> = self.watched.iter().map(|r| counters(r)).collect();
        let status = f();
        assert_eq!(status, Status::BadArgument, "{name} with {what}");
        // SAFETY: as above.
        let bytes = unsafe { std::slice::from_raw_parts(self.base(), SLOT * SLOTS) };
        if let Some(at) = bytes.iter().position(|&b| b != FILL) {
            panic!("{name} with {what} wrote out-parameter memory at byte {at}");
        }
        let after: Vec<[u32; 6]> = self.watched.iter().map(|r| counters(r)).collect();
        assert_eq!(before, after, "{name} with {what} changed shared counters");
        self.covered.borrow_mut().insert(name);
        *self.cases.borrow_mut() += 1;
    }

    /// For a function with no pointer arguments.
    fn none(&self, name: &'static str) {
        self.covered.borrow_mut().insert(name);
    }
}

/// A `l3l2q_l2_try_consume` visitor that ignores its input.
unsafe extern "C" fn ignore_input(_ctx: *mut core::ffi::c_void, _message: *const Message) {}

fn n<T>() -> *mut T {
    std::ptr::null_mut()
}

fn nc<T>() -> *const T {
    std::ptr::null()
}

/// A handle pointer that is misaligned.
fn mis<T>(p: *mut T) -> *mut T {
    p.cast::<u8>().wrapping_add(1).cast()
}

#[test]
#[allow(clippy::too_many_lines)]
fn every_pointer_argument_rejects_null_and_misaligned() {
    let region = RawRegion::new(4, 256, 256);
    // A second region whose counters a successful create would zero.
    let spare = RawRegion::new(4, 256, 256);
    for o in COUNTERS {
        spare.set_counter(o, 7);
    }
    let cb = FaultyCallbacks::new(&region);
    let callbacks = cb.vtable();
    let mut q = std::ptr::null_mut();
    assert_eq!(create(&region, None, 0, &mut q), Status::Ok);
    let mut scalars = [0u64; 12];
    let mut ep = std::ptr::null_mut();
    let l2config = L2Config {
        max_inflight: 2,
        initial_count: 0,
    };
    // SAFETY: live handle; valid buffers.
    unsafe {
        assert_eq!(
            l3l2q_l3_task_scalars(q, scalars.as_mut_ptr(), 12),
            Status::Ok
        );
        assert_eq!(
            l3l2q_l2_endpoint_create(
                scalars.as_ptr(),
                12,
                &l2config,
                &mut ep,
                std::ptr::null_mut()
            ),
            Status::Ok
        );
    }
    let shm_name = std::ffi::CString::new(format!("/l3l2q-ffib-{}", std::process::id())).unwrap();
    let absent =
        std::ffi::CString::new(format!("/l3l2q-ffib-absent-{}", std::process::id())).unwrap();
    let shm_config = ShmCreateConfig {
        depth: 4,
        input_arena_bytes: 256,
        output_arena_bytes: 256,
        region_id: 9,
        reclaim_stale: true,
    };
    let mut shm = std::ptr::null_mut();
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe {
            l3l2q_shm_create(
                shm_name.as_ptr(),
                &shm_config,
                &mut shm,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        },
        Status::Ok
    );

    let ck = Checker::new(vec![&region, &spare]);
    let descriptor = region.descriptor();
    let spare_descriptor = spare.descriptor();
    let args = region.args();
    let slot = DescriptorSlot {
        seq: 1,
        opcode: DATA,
        payload_offset: 0,
        payload_nbytes: 0,
    };
    let config = l3_config(&spare, 0);
    let message = Message::EMPTY;
    let reservation = Reservation {
        token: 1,
        seq: 0,
        payload_offset: 0,
        capacity: 0,
        data: n(),
    };
    let bytes = [1u8; 32];
    let null_entry = [ByteSlice { data: nc(), len: 4 }];
    let entry = [ByteSlice {
        data: bytes.as_ptr(),
        len: 4,
    }];
    let (hq, he) = (mis(q), mis(ep));
    let hs: *const ShmHandle = mis(shm);

    // SAFETY (every call below): each pointer is either valid for what the
    // function does with it, or null / misaligned, which the function must
    // reject before any access; misaligned pointers point into the sentinel.
    unsafe {
        // ---- pure functions
        ck.bad("l3l2q_version", "null out", || l3l2q_version(n()));
        ck.bad("l3l2q_version", "misaligned out", || l3l2q_version(ck.m(0)));
        ck.none("l3l2q_status_str");
        ck.none("l3l2q_violation_str");
        ck.none("l3l2q_error_kind_str");
        ck.none("l3l2q_operation_str");
        for code in [i32::MIN, -1, 0, 5, 30, i32::MAX] {
            assert!(!l3l2q_status_str(code).is_null());
            assert!(!l3l2q_violation_str(code as u32).is_null());
            assert!(!l3l2q_error_kind_str(code as u32).is_null());
            assert!(!l3l2q_operation_str(code as u32).is_null());
        }
        ck.bad("l3l2q_magic_version_pack", "null out", || {
            l3l2q_magic_version_pack(1, 2, 3, n())
        });
        ck.bad("l3l2q_magic_version_pack", "misaligned out", || {
            l3l2q_magic_version_pack(1, 2, 3, ck.m(0))
        });
        ck.bad("l3l2q_magic_version_unpack", "null magic", || {
            l3l2q_magic_version_unpack(1, n(), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_magic_version_unpack", "misaligned magic", || {
            l3l2q_magic_version_unpack(1, ck.m(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_magic_version_unpack", "null major", || {
            l3l2q_magic_version_unpack(1, ck.o(0), n(), ck.o(2))
        });
        ck.bad("l3l2q_magic_version_unpack", "misaligned major", || {
            l3l2q_magic_version_unpack(1, ck.o(0), ck.m(1), ck.o(2))
        });
        ck.bad("l3l2q_magic_version_unpack", "null minor", || {
            l3l2q_magic_version_unpack(1, ck.o(0), ck.o(1), n())
        });
        ck.bad("l3l2q_magic_version_unpack", "misaligned minor", || {
            l3l2q_magic_version_unpack(1, ck.o(0), ck.o(1), ck.m(2))
        });
        ck.bad("l3l2q_layout_compute", "null out", || {
            l3l2q_layout_compute(4, 256, 256, n(), ck.o(1))
        });
        ck.bad("l3l2q_layout_compute", "misaligned out", || {
            l3l2q_layout_compute(4, 256, 256, ck.m(0), ck.o(1))
        });
        ck.bad("l3l2q_layout_compute", "misaligned out_violation", || {
            l3l2q_layout_compute(4, 256, 256, ck.o(0), ck.m(1))
        });
        ck.bad(
            "l3l2q_region_descriptor_validate",
            "null descriptor",
            || l3l2q_region_descriptor_validate(nc(), ck.o(1)),
        );
        ck.bad(
            "l3l2q_region_descriptor_validate",
            "misaligned descriptor",
            || l3l2q_region_descriptor_validate(ck.c(0), ck.o(1)),
        );
        ck.bad(
            "l3l2q_region_descriptor_validate",
            "misaligned out_violation",
            || l3l2q_region_descriptor_validate(&descriptor, ck.m(1)),
        );
        ck.bad("l3l2q_queue_validate", "null descriptor", || {
            l3l2q_queue_validate(nc(), &args, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "misaligned descriptor", || {
            l3l2q_queue_validate(ck.c(2), &args, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "null args", || {
            l3l2q_queue_validate(&descriptor, nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "misaligned args", || {
            l3l2q_queue_validate(&descriptor, ck.c(2), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "null out_layout", || {
            l3l2q_queue_validate(&descriptor, &args, n(), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "misaligned out_layout", || {
            l3l2q_queue_validate(&descriptor, &args, ck.m(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "misaligned out_violation", || {
            l3l2q_queue_validate(&descriptor, &args, ck.o(0), ck.m(1))
        });
        ck.bad("l3l2q_task_scalars_encode", "null descriptor", || {
            l3l2q_task_scalars_encode(nc(), &args, ck.o(0), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "misaligned descriptor", || {
            l3l2q_task_scalars_encode(ck.c(1), &args, ck.o(0), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "null args", || {
            l3l2q_task_scalars_encode(&descriptor, nc(), ck.o(0), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "misaligned args", || {
            l3l2q_task_scalars_encode(&descriptor, ck.c(1), ck.o(0), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "null scalars", || {
            l3l2q_task_scalars_encode(&descriptor, &args, n(), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "misaligned scalars", || {
            l3l2q_task_scalars_encode(&descriptor, &args, ck.m(0), 12)
        });
        ck.bad("l3l2q_task_scalars_decode", "null scalars", || {
            l3l2q_task_scalars_decode(nc(), 12, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_task_scalars_decode", "misaligned scalars", || {
            l3l2q_task_scalars_decode(ck.c(2), 12, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_task_scalars_decode", "null out_descriptor", || {
            l3l2q_task_scalars_decode(scalars.as_ptr(), 12, n(), ck.o(1))
        });
        ck.bad(
            "l3l2q_task_scalars_decode",
            "misaligned out_descriptor",
            || l3l2q_task_scalars_decode(scalars.as_ptr(), 12, ck.m(0), ck.o(1)),
        );
        ck.bad("l3l2q_task_scalars_decode", "null out_args", || {
            l3l2q_task_scalars_decode(scalars.as_ptr(), 12, ck.o(0), n())
        });
        ck.bad("l3l2q_task_scalars_decode", "misaligned out_args", || {
            l3l2q_task_scalars_decode(scalars.as_ptr(), 12, ck.o(0), ck.m(1))
        });
        ck.bad("l3l2q_slot_encode", "null slot", || {
            l3l2q_slot_encode(nc(), ck.o(0), 32)
        });
        ck.bad("l3l2q_slot_encode", "misaligned slot", || {
            l3l2q_slot_encode(ck.c(1), ck.o(0), 32)
        });
        ck.bad("l3l2q_slot_encode", "null out", || {
            l3l2q_slot_encode(&slot, n(), 32)
        });
        ck.bad("l3l2q_slot_decode", "null bytes", || {
            l3l2q_slot_decode(nc(), 32, ck.o(0))
        });
        ck.bad("l3l2q_slot_decode", "null out", || {
            l3l2q_slot_decode(bytes.as_ptr(), 32, n())
        });
        ck.bad("l3l2q_slot_decode", "misaligned out", || {
            l3l2q_slot_decode(bytes.as_ptr(), 32, ck.m(0))
        });
        ck.bad("l3l2q_counter_fold", "null out", || {
            l3l2q_counter_fold(0, 1, 4, n())
        });
        ck.bad("l3l2q_counter_fold", "misaligned out", || {
            l3l2q_counter_fold(0, 1, 4, ck.m(0))
        });

        // ---- L2 endpoint
        ck.bad("l3l2q_l2_endpoint_create", "null scalars", || {
            l3l2q_l2_endpoint_create(nc(), 12, &l2config, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "misaligned scalars", || {
            l3l2q_l2_endpoint_create(ck.c(2), 12, &l2config, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "null config", || {
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "misaligned config", || {
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, ck.c(2), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "null out", || {
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, &l2config, n(), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "misaligned out", || {
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, &l2config, ck.m(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l2_endpoint_create",
            "misaligned out_violation",
            || l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, &l2config, ck.o(0), ck.m(1)),
        );
        ck.bad("l3l2q_l2_endpoint_free", "null slot", || {
            l3l2q_l2_endpoint_free(n())
        });
        ck.bad("l3l2q_l2_endpoint_free", "misaligned slot", || {
            l3l2q_l2_endpoint_free(ck.m(0))
        });
        let mut odd = he;
        ck.bad("l3l2q_l2_endpoint_free", "misaligned handle", || {
            l3l2q_l2_endpoint_free(&mut odd)
        });
        assert_eq!(odd, he, "a refused free leaves the variable alone");
        for (what, h) in [("null handle", n()), ("misaligned handle", he)] {
            ck.bad("l3l2q_l2_try_peek", what, || l3l2q_l2_try_peek(h, ck.o(0)));
            ck.bad("l3l2q_l2_peek", what, || l3l2q_l2_peek(h, ck.o(0), 0));
            ck.bad("l3l2q_l2_release", what, || l3l2q_l2_release(h, &message));
            ck.bad("l3l2q_l2_try_peek_batch", what, || {
                l3l2q_l2_try_peek_batch(h, ck.o(0), 4, ck.o(1))
            });
            ck.bad("l3l2q_l2_release_batch", what, || {
                l3l2q_l2_release_batch(h, &message, 1)
            });
            ck.bad("l3l2q_l2_try_consume", what, || {
                l3l2q_l2_try_consume(h, 4, Some(ignore_input), std::ptr::null_mut(), ck.o(0))
            });
            ck.bad("l3l2q_l2_drained", what, || l3l2q_l2_drained(h, ck.o(0)));
            ck.bad("l3l2q_l2_remote_aborted", what, || {
                l3l2q_l2_remote_aborted(h, ck.o(0))
            });
            ck.bad("l3l2q_l2_try_reserve", what, || {
                l3l2q_l2_try_reserve(h, 8, ck.o(0))
            });
            ck.bad("l3l2q_l2_reserve", what, || {
                l3l2q_l2_reserve(h, 8, ck.o(0), 0)
            });
            ck.bad("l3l2q_l2_publish", what, || {
                l3l2q_l2_publish(h, &reservation, DATA, 0)
            });
            ck.bad("l3l2q_l2_publish_deferred", what, || {
                l3l2q_l2_publish_deferred(h, &reservation, DATA, 0)
            });
            ck.bad("l3l2q_l2_flush", what, || l3l2q_l2_flush(h));
            ck.bad("l3l2q_l2_try_send_batch", what, || {
                l3l2q_l2_try_send_batch(h, DATA, entry.as_ptr(), 1, ck.o(0))
            });
            ck.bad("l3l2q_l2_error", what, || l3l2q_l2_error(h, ck.o(0)));
            ck.bad("l3l2q_l2_layout", what, || l3l2q_l2_layout(h, ck.o(0)));
        }
        ck.bad("l3l2q_l2_try_peek", "null out", || {
            l3l2q_l2_try_peek(ep, n())
        });
        ck.bad("l3l2q_l2_try_peek", "misaligned out", || {
            l3l2q_l2_try_peek(ep, ck.m(0))
        });
        ck.bad("l3l2q_l2_peek", "null out", || l3l2q_l2_peek(ep, n(), 0));
        ck.bad("l3l2q_l2_peek", "misaligned out", || {
            l3l2q_l2_peek(ep, ck.m(0), 0)
        });
        ck.bad("l3l2q_l2_release", "null message", || {
            l3l2q_l2_release(ep, nc())
        });
        ck.bad("l3l2q_l2_release", "misaligned message", || {
            l3l2q_l2_release(ep, ck.c(0))
        });
        ck.bad("l3l2q_l2_try_peek_batch", "null out", || {
            l3l2q_l2_try_peek_batch(ep, n(), 4, ck.o(1))
        });
        ck.bad("l3l2q_l2_try_peek_batch", "misaligned out", || {
            l3l2q_l2_try_peek_batch(ep, ck.m(0), 4, ck.o(1))
        });
        ck.bad("l3l2q_l2_try_peek_batch", "null out_count", || {
            l3l2q_l2_try_peek_batch(ep, ck.o(0), 4, n())
        });
        ck.bad("l3l2q_l2_try_peek_batch", "misaligned out_count", || {
            l3l2q_l2_try_peek_batch(ep, ck.o(0), 4, ck.m(1))
        });
        ck.bad("l3l2q_l2_try_consume", "null visit", || {
            l3l2q_l2_try_consume(ep, 4, None, std::ptr::null_mut(), ck.o(0))
        });
        ck.bad("l3l2q_l2_try_consume", "null out_count", || {
            l3l2q_l2_try_consume(ep, 4, Some(ignore_input), std::ptr::null_mut(), n())
        });
        ck.bad("l3l2q_l2_try_consume", "misaligned out_count", || {
            l3l2q_l2_try_consume(ep, 4, Some(ignore_input), std::ptr::null_mut(), ck.m(0))
        });
        ck.bad("l3l2q_l2_release_batch", "null messages", || {
            l3l2q_l2_release_batch(ep, nc(), 1)
        });
        ck.bad("l3l2q_l2_release_batch", "misaligned messages", || {
            l3l2q_l2_release_batch(ep, ck.c(0), 1)
        });
        ck.bad("l3l2q_l2_drained", "null out", || l3l2q_l2_drained(ep, n()));
        ck.bad("l3l2q_l2_remote_aborted", "null out", || {
            l3l2q_l2_remote_aborted(ep, n())
        });
        ck.bad("l3l2q_l2_try_reserve", "null out", || {
            l3l2q_l2_try_reserve(ep, 8, n())
        });
        ck.bad("l3l2q_l2_try_reserve", "misaligned out", || {
            l3l2q_l2_try_reserve(ep, 8, ck.m(0))
        });
        ck.bad("l3l2q_l2_reserve", "null out", || {
            l3l2q_l2_reserve(ep, 8, n(), 0)
        });
        ck.bad("l3l2q_l2_reserve", "misaligned out", || {
            l3l2q_l2_reserve(ep, 8, ck.m(0), 0)
        });
        ck.bad("l3l2q_l2_publish", "null reservation", || {
            l3l2q_l2_publish(ep, nc(), DATA, 0)
        });
        ck.bad("l3l2q_l2_publish", "misaligned reservation", || {
            l3l2q_l2_publish(ep, ck.c(0), DATA, 0)
        });
        ck.bad("l3l2q_l2_publish_deferred", "null reservation", || {
            l3l2q_l2_publish_deferred(ep, nc(), DATA, 0)
        });
        ck.bad(
            "l3l2q_l2_publish_deferred",
            "misaligned reservation",
            || l3l2q_l2_publish_deferred(ep, ck.c(0), DATA, 0),
        );
        ck.bad("l3l2q_l2_try_send_batch", "null payloads", || {
            l3l2q_l2_try_send_batch(ep, DATA, nc(), 1, ck.o(0))
        });
        ck.bad("l3l2q_l2_try_send_batch", "misaligned payloads", || {
            l3l2q_l2_try_send_batch(ep, DATA, ck.c(1), 1, ck.o(0))
        });
        ck.bad(
            "l3l2q_l2_try_send_batch",
            "a null payload with len 4",
            || l3l2q_l2_try_send_batch(ep, DATA, null_entry.as_ptr(), 1, ck.o(0)),
        );
        ck.bad("l3l2q_l2_try_send_batch", "null out_sent", || {
            l3l2q_l2_try_send_batch(ep, DATA, entry.as_ptr(), 1, n())
        });
        ck.bad("l3l2q_l2_try_send_batch", "misaligned out_sent", || {
            l3l2q_l2_try_send_batch(ep, DATA, entry.as_ptr(), 1, ck.m(0))
        });
        ck.bad("l3l2q_l2_error", "null out", || l3l2q_l2_error(ep, n()));
        ck.bad("l3l2q_l2_error", "misaligned out", || {
            l3l2q_l2_error(ep, ck.m(0))
        });
        ck.bad("l3l2q_l2_layout", "null out", || l3l2q_l2_layout(ep, n()));
        ck.bad("l3l2q_l2_layout", "misaligned out", || {
            l3l2q_l2_layout(ep, ck.m(0))
        });

        // ---- L3 queue (creation over the spare region: success would zero its counters)
        let sd = &spare_descriptor;
        ck.bad("l3l2q_l3_queue_create_mapped", "null region", || {
            l3l2q_l3_queue_create_mapped(nc(), &config, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "misaligned region", || {
            l3l2q_l3_queue_create_mapped(ck.c(2), &config, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "null config", || {
            l3l2q_l3_queue_create_mapped(sd, nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "misaligned config", || {
            l3l2q_l3_queue_create_mapped(sd, ck.c(2), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "null out", || {
            l3l2q_l3_queue_create_mapped(sd, &config, n(), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "misaligned out", || {
            l3l2q_l3_queue_create_mapped(sd, &config, ck.m(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_mapped",
            "misaligned out_violation",
            || l3l2q_l3_queue_create_mapped(sd, &config, ck.o(0), ck.m(1)),
        );
        let cbs = &callbacks;
        ck.bad("l3l2q_l3_queue_create_callbacks", "null region", || {
            l3l2q_l3_queue_create_callbacks(nc(), cbs, &config, ck.o(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_callbacks",
            "misaligned region",
            || l3l2q_l3_queue_create_callbacks(ck.c(2), cbs, &config, ck.o(0), ck.o(1)),
        );
        ck.bad("l3l2q_l3_queue_create_callbacks", "null callbacks", || {
            l3l2q_l3_queue_create_callbacks(sd, nc(), &config, ck.o(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_callbacks",
            "misaligned callbacks",
            || l3l2q_l3_queue_create_callbacks(sd, ck.c(2), &config, ck.o(0), ck.o(1)),
        );
        ck.bad("l3l2q_l3_queue_create_callbacks", "null config", || {
            l3l2q_l3_queue_create_callbacks(sd, cbs, nc(), ck.o(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_callbacks",
            "misaligned config",
            || l3l2q_l3_queue_create_callbacks(sd, cbs, ck.c(2), ck.o(0), ck.o(1)),
        );
        ck.bad("l3l2q_l3_queue_create_callbacks", "null out", || {
            l3l2q_l3_queue_create_callbacks(sd, cbs, &config, n(), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_callbacks", "misaligned out", || {
            l3l2q_l3_queue_create_callbacks(sd, cbs, &config, ck.m(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_callbacks",
            "misaligned out_violation",
            || l3l2q_l3_queue_create_callbacks(sd, cbs, &config, ck.o(0), ck.m(1)),
        );
        ck.bad("l3l2q_l3_queue_free", "null slot", || {
            l3l2q_l3_queue_free(n())
        });
        ck.bad("l3l2q_l3_queue_free", "misaligned slot", || {
            l3l2q_l3_queue_free(ck.m(0))
        });
        let mut odd = hq;
        ck.bad("l3l2q_l3_queue_free", "misaligned handle", || {
            l3l2q_l3_queue_free(&mut odd)
        });
        assert_eq!(odd, hq, "a refused free leaves the variable alone");
        for (what, h) in [("null handle", n()), ("misaligned handle", hq)] {
            ck.bad("l3l2q_l3_task_scalars", what, || {
                l3l2q_l3_task_scalars(h, ck.o(0), 12)
            });
            ck.bad("l3l2q_l3_layout", what, || l3l2q_l3_layout(h, ck.o(0)));
            ck.bad("l3l2q_l3_try_enqueue", what, || {
                l3l2q_l3_try_enqueue(h, DATA, bytes.as_ptr(), 4)
            });
            ck.bad("l3l2q_l3_try_enqueue_batch", what, || {
                l3l2q_l3_try_enqueue_batch(h, DATA, entry.as_ptr(), 1, ck.o(0))
            });
            ck.bad("l3l2q_l3_enqueue", what, || {
                l3l2q_l3_enqueue(h, DATA, bytes.as_ptr(), 4, 0)
            });
            ck.bad("l3l2q_l3_try_request_stop", what, || {
                l3l2q_l3_try_request_stop(h)
            });
            ck.bad("l3l2q_l3_request_stop", what, || {
                l3l2q_l3_request_stop(h, 0)
            });
            ck.bad("l3l2q_l3_try_reserve", what, || {
                l3l2q_l3_try_reserve(h, 8, ck.o(0))
            });
            ck.bad("l3l2q_l3_write_reserved", what, || {
                l3l2q_l3_write_reserved(h, &reservation, 0, bytes.as_ptr(), 4)
            });
            ck.bad("l3l2q_l3_commit", what, || {
                l3l2q_l3_commit(h, &reservation, DATA, 0)
            });
            ck.bad("l3l2q_l3_commit_deferred", what, || {
                l3l2q_l3_commit_deferred(h, &reservation, DATA, 0)
            });
            ck.bad("l3l2q_l3_flush", what, || l3l2q_l3_flush(h));
            ck.bad("l3l2q_l3_try_peek", what, || l3l2q_l3_try_peek(h, ck.o(0)));
            ck.bad("l3l2q_l3_peek", what, || l3l2q_l3_peek(h, ck.o(0), 0));
            ck.bad("l3l2q_l3_try_peek_batch", what, || {
                l3l2q_l3_try_peek_batch(h, ck.o(0), 4, ck.o(1))
            });
            ck.bad("l3l2q_l3_release_batch", what, || {
                l3l2q_l3_release_batch(h, &message, 1)
            });
            ck.bad("l3l2q_l3_read_into", what, || {
                l3l2q_l3_read_into(h, &message, ck.o(0), 16, ck.o(1))
            });
            ck.bad("l3l2q_l3_release", what, || l3l2q_l3_release(h, &message));
            ck.bad("l3l2q_l3_try_dequeue_into", what, || {
                l3l2q_l3_try_dequeue_into(h, ck.o(0), 16, ck.o(1), ck.o(2))
            });
            ck.bad("l3l2q_l3_dequeue_into", what, || {
                l3l2q_l3_dequeue_into(h, ck.o(0), 16, ck.o(1), ck.o(2), 0)
            });
            ck.bad("l3l2q_l3_error", what, || l3l2q_l3_error(h, ck.o(0)));
            ck.bad("l3l2q_l3_remote_aborted", what, || {
                l3l2q_l3_remote_aborted(h, ck.o(0))
            });
        }
        ck.bad("l3l2q_l3_task_scalars", "null scalars", || {
            l3l2q_l3_task_scalars(q, n(), 12)
        });
        ck.bad("l3l2q_l3_task_scalars", "misaligned scalars", || {
            l3l2q_l3_task_scalars(q, ck.m(0), 12)
        });
        ck.bad("l3l2q_l3_layout", "null out", || l3l2q_l3_layout(q, n()));
        ck.bad("l3l2q_l3_layout", "misaligned out", || {
            l3l2q_l3_layout(q, ck.m(0))
        });
        ck.bad("l3l2q_l3_try_enqueue", "null buf with 4 bytes", || {
            l3l2q_l3_try_enqueue(q, DATA, nc(), 4)
        });
        ck.bad("l3l2q_l3_try_enqueue_batch", "null payloads", || {
            l3l2q_l3_try_enqueue_batch(q, DATA, nc(), 1, ck.o(0))
        });
        ck.bad("l3l2q_l3_try_enqueue_batch", "misaligned payloads", || {
            l3l2q_l3_try_enqueue_batch(q, DATA, ck.c(1), 1, ck.o(0))
        });
        ck.bad(
            "l3l2q_l3_try_enqueue_batch",
            "a null payload with len 4",
            || l3l2q_l3_try_enqueue_batch(q, DATA, null_entry.as_ptr(), 1, ck.o(0)),
        );
        ck.bad("l3l2q_l3_try_enqueue_batch", "null out_sent", || {
            l3l2q_l3_try_enqueue_batch(q, DATA, entry.as_ptr(), 1, n())
        });
        ck.bad("l3l2q_l3_try_enqueue_batch", "misaligned out_sent", || {
            l3l2q_l3_try_enqueue_batch(q, DATA, entry.as_ptr(), 1, ck.m(0))
        });
        ck.bad("l3l2q_l3_enqueue", "null buf with 4 bytes", || {
            l3l2q_l3_enqueue(q, DATA, nc(), 4, 0)
        });
        ck.bad("l3l2q_l3_try_reserve", "null out", || {
            l3l2q_l3_try_reserve(q, 8, n())
        });
        ck.bad("l3l2q_l3_try_reserve", "misaligned out", || {
            l3l2q_l3_try_reserve(q, 8, ck.m(0))
        });
        ck.bad("l3l2q_l3_write_reserved", "null reservation", || {
            l3l2q_l3_write_reserved(q, nc(), 0, bytes.as_ptr(), 4)
        });
        ck.bad("l3l2q_l3_write_reserved", "misaligned reservation", || {
            l3l2q_l3_write_reserved(q, ck.c(0), 0, bytes.as_ptr(), 4)
        });
        ck.bad("l3l2q_l3_write_reserved", "null src with 4 bytes", || {
            l3l2q_l3_write_reserved(q, &reservation, 0, nc(), 4)
        });
        ck.bad("l3l2q_l3_commit", "null reservation", || {
            l3l2q_l3_commit(q, nc(), DATA, 0)
        });
        ck.bad("l3l2q_l3_commit", "misaligned reservation", || {
            l3l2q_l3_commit(q, ck.c(0), DATA, 0)
        });
        ck.bad("l3l2q_l3_commit_deferred", "null reservation", || {
            l3l2q_l3_commit_deferred(q, nc(), DATA, 0)
        });
        ck.bad("l3l2q_l3_commit_deferred", "misaligned reservation", || {
            l3l2q_l3_commit_deferred(q, ck.c(0), DATA, 0)
        });
        ck.bad("l3l2q_l3_try_peek", "null out", || {
            l3l2q_l3_try_peek(q, n())
        });
        ck.bad("l3l2q_l3_try_peek", "misaligned out", || {
            l3l2q_l3_try_peek(q, ck.m(0))
        });
        ck.bad("l3l2q_l3_peek", "null out", || l3l2q_l3_peek(q, n(), 0));
        ck.bad("l3l2q_l3_peek", "misaligned out", || {
            l3l2q_l3_peek(q, ck.m(0), 0)
        });
        ck.bad("l3l2q_l3_try_peek_batch", "null out", || {
            l3l2q_l3_try_peek_batch(q, n(), 4, ck.o(1))
        });
        ck.bad("l3l2q_l3_try_peek_batch", "misaligned out", || {
            l3l2q_l3_try_peek_batch(q, ck.m(0), 4, ck.o(1))
        });
        ck.bad("l3l2q_l3_try_peek_batch", "null out_count", || {
            l3l2q_l3_try_peek_batch(q, ck.o(0), 4, n())
        });
        ck.bad("l3l2q_l3_try_peek_batch", "misaligned out_count", || {
            l3l2q_l3_try_peek_batch(q, ck.o(0), 4, ck.m(1))
        });
        ck.bad("l3l2q_l3_release_batch", "null messages", || {
            l3l2q_l3_release_batch(q, nc(), 1)
        });
        ck.bad("l3l2q_l3_release_batch", "misaligned messages", || {
            l3l2q_l3_release_batch(q, ck.c(0), 1)
        });
        ck.bad("l3l2q_l3_read_into", "null message", || {
            l3l2q_l3_read_into(q, nc(), ck.o(0), 16, ck.o(1))
        });
        ck.bad("l3l2q_l3_read_into", "misaligned message", || {
            l3l2q_l3_read_into(q, ck.c(2), ck.o(0), 16, ck.o(1))
        });
        ck.bad("l3l2q_l3_read_into", "null dst with capacity 16", || {
            l3l2q_l3_read_into(q, &message, n(), 16, ck.o(1))
        });
        ck.bad("l3l2q_l3_read_into", "null out_len", || {
            l3l2q_l3_read_into(q, &message, ck.o(0), 16, n())
        });
        ck.bad("l3l2q_l3_read_into", "misaligned out_len", || {
            l3l2q_l3_read_into(q, &message, ck.o(0), 16, ck.m(1))
        });
        ck.bad("l3l2q_l3_release", "null message", || {
            l3l2q_l3_release(q, nc())
        });
        ck.bad("l3l2q_l3_release", "misaligned message", || {
            l3l2q_l3_release(q, ck.c(0))
        });
        for timeout in [None, Some(0)] {
            let call = |dst: *mut u8, op: *mut u64, len: *mut usize| match timeout {
                None => l3l2q_l3_try_dequeue_into(q, dst, 16, op, len),
                Some(t) => l3l2q_l3_dequeue_into(q, dst, 16, op, len, t),
            };
            let name = if timeout.is_none() {
                "l3l2q_l3_try_dequeue_into"
            } else {
                "l3l2q_l3_dequeue_into"
            };
            ck.bad(name, "null dst with capacity 16", || {
                call(n(), ck.o(1), ck.o(2))
            });
            ck.bad(name, "null out_opcode", || call(ck.o(0), n(), ck.o(2)));
            ck.bad(name, "misaligned out_opcode", || {
                call(ck.o(0), ck.m(1), ck.o(2))
            });
            ck.bad(name, "null out_len", || call(ck.o(0), ck.o(1), n()));
            ck.bad(name, "misaligned out_len", || {
                call(ck.o(0), ck.o(1), ck.m(2))
            });
        }
        ck.bad("l3l2q_l3_error", "null out", || l3l2q_l3_error(q, n()));
        ck.bad("l3l2q_l3_remote_aborted", "null out", || {
            l3l2q_l3_remote_aborted(q, n())
        });
        ck.bad("l3l2q_l3_error", "misaligned out", || {
            l3l2q_l3_error(q, ck.m(0))
        });

        // ---- shared memory (`absent` must not come into existence)
        let (name, gone) = (shm_name.as_ptr(), absent.as_ptr());
        let shm_cfg = &shm_config;
        ck.bad("l3l2q_shm_create", "null name", || {
            l3l2q_shm_create(nc(), shm_cfg, ck.o(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "null config", || {
            l3l2q_shm_create(gone, nc(), ck.o(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "misaligned config", || {
            l3l2q_shm_create(gone, ck.c(3), ck.o(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "null out", || {
            l3l2q_shm_create(gone, shm_cfg, n(), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "misaligned out", || {
            l3l2q_shm_create(gone, shm_cfg, ck.m(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "misaligned out_violation", || {
            l3l2q_shm_create(gone, shm_cfg, ck.o(0), ck.m(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "misaligned out_errno", || {
            l3l2q_shm_create(gone, shm_cfg, ck.o(0), ck.o(1), ck.m(2))
        });
        let mut probe = std::ptr::null_mut();
        assert_eq!(
            l3l2q_shm_open(gone, &mut probe, n()),
            Status::NotFound,
            "a refused create created nothing"
        );
        ck.bad("l3l2q_shm_open", "null name", || {
            l3l2q_shm_open(nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_open", "null out", || {
            l3l2q_shm_open(name, n(), ck.o(1))
        });
        ck.bad("l3l2q_shm_open", "misaligned out", || {
            l3l2q_shm_open(name, ck.m(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_open", "misaligned out_errno", || {
            l3l2q_shm_open(name, ck.o(0), ck.m(1))
        });
        ck.bad("l3l2q_shm_descriptor", "null handle", || {
            l3l2q_shm_descriptor(nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_descriptor", "misaligned handle", || {
            l3l2q_shm_descriptor(hs, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_descriptor", "null out_descriptor", || {
            l3l2q_shm_descriptor(shm, n(), ck.o(1))
        });
        ck.bad("l3l2q_shm_descriptor", "misaligned out_descriptor", || {
            l3l2q_shm_descriptor(shm, ck.m(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_descriptor", "misaligned out_args", || {
            l3l2q_shm_descriptor(shm, ck.o(0), ck.m(1))
        });
        ck.bad("l3l2q_shm_rebase_task_scalars", "null handle", || {
            l3l2q_shm_rebase_task_scalars(nc(), scalars.as_mut_ptr(), 12)
        });
        ck.bad("l3l2q_shm_rebase_task_scalars", "misaligned handle", || {
            l3l2q_shm_rebase_task_scalars(hs, scalars.as_mut_ptr(), 12)
        });
        ck.bad("l3l2q_shm_rebase_task_scalars", "null scalars", || {
            l3l2q_shm_rebase_task_scalars(shm, n(), 12)
        });
        ck.bad(
            "l3l2q_shm_rebase_task_scalars",
            "misaligned scalars",
            || l3l2q_shm_rebase_task_scalars(shm, ck.m(0), 12),
        );
        ck.bad("l3l2q_shm_unlink", "null name", || {
            l3l2q_shm_unlink(nc(), ck.o(0))
        });
        ck.bad("l3l2q_shm_unlink", "misaligned out_errno", || {
            l3l2q_shm_unlink(name, ck.m(0))
        });
        assert_eq!(
            l3l2q_shm_open(name, &mut probe, n()),
            Status::Ok,
            "a refused unlink removed nothing"
        );
        assert_eq!(l3l2q_shm_free(&mut probe), Status::Ok);
        ck.bad("l3l2q_shm_free", "null slot", || l3l2q_shm_free(n()));
        ck.bad("l3l2q_shm_free", "misaligned slot", || {
            l3l2q_shm_free(ck.m(0))
        });
        let mut odd = mis(shm);
        ck.bad("l3l2q_shm_free", "misaligned handle", || {
            l3l2q_shm_free(&mut odd)
        });
        assert_eq!(odd, mis(shm));

        // Optional out-pointers may be NULL (positive controls).
        let mut layout = Layout::default();
        assert_eq!(
            l3l2q_layout_compute(4, 256, 256, &mut layout, n()),
            Status::Ok
        );
        assert_eq!(
            l3l2q_region_descriptor_validate(&descriptor, n()),
            Status::Ok
        );
        assert_eq!(
            l3l2q_queue_validate(&descriptor, &args, &mut layout, n()),
            Status::Ok
        );
        let mut violation = Violation::RegionMagic;
        assert_eq!(
            l3l2q_layout_compute(3, 256, 256, &mut layout, &mut violation),
            Status::BadDescriptor
        );
        assert_eq!(violation, Violation::Depth);
        let mut d = RegionDescriptor::default();
        assert_eq!(l3l2q_shm_descriptor(shm, &mut d, n()), Status::Ok);
        assert_eq!(d.region_id, 9);

        // Nothing above touched the queue, the endpoint or the region.
        let mut info: ErrorInfo = std::mem::zeroed();
        assert_eq!(l3l2q_l3_error(q, &mut info), Status::Ok);
        assert_eq!(info.kind, 0, "L3 queue not poisoned");
        assert_eq!(l3l2q_l2_error(ep, &mut info), Status::Ok);
        assert_eq!(info.kind, 0, "L2 endpoint not poisoned");
        assert_eq!(counters(&region), [0; 6]);
        assert_eq!(counters(&spare), [7; 6]);
        assert_eq!(l3l2q_l3_try_enqueue(q, DATA, bytes.as_ptr(), 4), Status::Ok);
        let mut m = Message::EMPTY;
        assert_eq!(l3l2q_l2_try_peek(ep, &mut m), Status::Ok);
        assert_eq!(m.payload(), &bytes[..4]);
        assert_eq!(l3l2q_l2_release(ep, &m), Status::Ok);

        assert_eq!(l3l2q_l2_endpoint_free(&mut ep), Status::Ok);
        assert_eq!(l3l2q_l3_queue_free(&mut q), Status::Ok);
        assert_eq!(l3l2q_shm_free(&mut shm), Status::Ok);
    }

    let covered = ck.covered.borrow();
    let header: BTreeSet<String> = artifacts::header_functions().into_iter().collect();
    let missing: Vec<&String> = header
        .iter()
        .filter(|f| !covered.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "exported functions without null/misaligned checks here: {missing:?}"
    );
    eprintln!(
        "{} null/misaligned cases over {} exported functions",
        ck.cases.borrow(),
        covered.len()
    );
}
