//! Issue 14, points 2, 3, 6 and 7, on both ends and through the Rust and
//! the C API:
//! - a remote abort (the peer's flag seen when a blocking call times out)
//!   is recorded as REMOTE_ABORTED (operation TIMEOUT, the region id, a
//!   message) and is terminal, without setting the own flag (SPEC 9);
//! - the remote-abort query reads the flag and nothing else: while it is
//!   clear it changes nothing, when it is set it records the abort as
//!   above, even with a reservation active;
//! - a reservation carries the seq its message is published with;
//! - `l3l2q_operation_str` names every operation.

#[allow(
    dead_code,
    reason = "the hostile engine is shared; this test drives part of it"
)]
#[path = "hostile/adversary.rs"]
mod adversary;
#[allow(
    dead_code,
    reason = "the hostile engine is shared; this test drives part of it"
)]
#[path = "hostile/guarded.rs"]
mod guarded;
#[allow(
    dead_code,
    reason = "the hostile engine is shared; this test drives part of it"
)]
#[path = "hostile/harness.rs"]
mod harness;
#[allow(
    dead_code,
    reason = "the hostile engine is shared; this test drives part of it"
)]
#[path = "hostile/l2_api.rs"]
mod l2_api;
#[allow(
    dead_code,
    reason = "the hostile engine is shared; this test drives part of it"
)]
#[path = "hostile/l3_api.rs"]
mod l3_api;

use std::ffi::CStr;

use l3l2q::abi::*;
use l3l2q::ffi::{common, l2 as c2, l3 as c3};
use l3l2q::{Error, ErrorInfo, ErrorKind, Message, Opcode, Operation, Reservation, Status};

use adversary::Victim;
use guarded::{Guarded, Mem};
use harness::{Shape, Watch, from_status};
use l2_api::Ep;
use l3_api::Q;

const L3_FLAG: u64 = L3L2Q_L3_ABORT_FLAG_OFFSET;
const L2_FLAG: u64 = L3L2Q_L2_ABORT_FLAG_OFFSET;
const REGION_ID: u64 = 0xAB07;
const SPIN: Option<u64> = Some(200_000);

fn shape(initial: u64) -> Shape {
    Shape {
        layout: Layout::compute(4, 256, 256).unwrap(),
        window: 2,
        initial,
        payload_at_end: true,
        counters_at_end: false,
    }
}

/// Zeroed counters (what the L3 creator does), ring counters at `initial`.
fn place(guard: &Guarded, initial: u64) -> Mem {
    let mem = guard.place(shape(initial).layout.payload_bytes, true, false);
    for counter in [0, 64, 128, 192] {
        mem.store(counter, initial as u32);
    }
    mem.store(L3_FLAG, 0);
    mem.store(L2_FLAG, 0);
    mem
}

/// Every shared byte: the whole payload range and the counters.
fn snapshot(mem: &Mem, layout: &Layout) -> (Vec<u8>, [u32; 6]) {
    let mut bytes = Vec::new();
    mem.snapshot(0, layout.payload_bytes, &mut bytes);
    (bytes, [0, 64, 128, 192, 256, 320].map(|o| mem.load(o)))
}

fn l2_query(ep: &mut Ep) -> Result<bool, Error> {
    match ep {
        Ep::Rust(ep) => ep.remote_aborted(),
        Ep::Ffi(h) => {
            let mut out = false;
            // SAFETY: a live handle and a writable bool.
            let st = unsafe { c2::l3l2q_l2_remote_aborted(*h, &mut out) };
            from_status("l3l2q_l2_remote_aborted", st, || ErrorKind::None).map(|()| out)
        }
    }
}

fn l3_query(q: &mut Q) -> Result<bool, Error> {
    match q {
        Q::Rust(q) => q.remote_aborted(),
        Q::Ffi(h) => {
            let mut out = false;
            // SAFETY: a live handle and a writable bool.
            let st = unsafe { c3::l3l2q_l3_remote_aborted(*h, &mut out) };
            from_status("l3l2q_l3_remote_aborted", st, || ErrorKind::None).map(|()| out)
        }
    }
}

#[track_caller]
fn assert_remote_abort_record(name: &str, record: Option<ErrorInfo>) {
    let info = record.unwrap_or_else(|| panic!("{name}: no record"));
    assert_eq!(info.kind(), ErrorKind::RemoteAborted, "{name}");
    assert_eq!(info.operation, Operation::Timeout as u32, "{name}");
    assert_eq!(info.region_id, REGION_ID, "{name}");
    assert!(!info.message().is_empty(), "{name}");
}

fn each(mut f: impl FnMut(&Guarded, u64, bool, &str)) {
    let guard = Guarded::new(4096);
    for initial in [0, (1 << 32) - 1] {
        for ffi in [false, true] {
            f(
                &guard,
                initial,
                ffi,
                &format!("ffi {ffi}, initial {initial:#x}"),
            );
        }
    }
}

/// Every later call on a terminal L2: REMOTE_ABORTED, nothing shared written
/// (the watch checks the record, the own flag at 0 and the own counters).
fn l2_later_calls_fail_fast(watch: &mut Watch, ep: &mut Ep, name: &str) {
    let fake = Message::EMPTY;
    type Call = fn(&mut Ep, &Message) -> Result<(), Error>;
    let calls: [(&str, Call); 8] = [
        ("try_peek", |ep, _| ep.peek(None).map(drop)),
        ("peek", |ep, _| ep.peek(SPIN).map(drop)),
        ("peek batch", |ep, _| {
            ep.peek_batch(&mut [Message::EMPTY; 2]).map(drop)
        }),
        ("consume", |ep, _| ep.consume(2, &mut Vec::new()).map(drop)),
        ("release", |ep, m| ep.release(&[*m])),
        ("try_reserve", |ep, _| ep.reserve(8, None).map(drop)),
        ("flush", |ep, _| ep.flush()),
        ("send", |ep, _| {
            ep.send(Opcode::Data, &[vec![1; 4]]).map(drop)
        }),
    ];
    for (what, call) in calls {
        let before = watch.before();
        let r = call(ep, &fake);
        watch.judge(&format!("{name}: {what}"), &r, ep.record(), before);
        assert_eq!(r, Err(Error::RemoteAborted), "{name}: {what}");
    }
}

fn l3_later_calls_fail_fast(watch: &mut Watch, q: &mut Q, name: &str) {
    let fake = Message::EMPTY;
    type Call = fn(&mut Q, &Message) -> Result<(), Error>;
    let calls: [(&str, Call); 8] = [
        ("try_peek", |q, _| q.peek(None).map(drop)),
        ("peek", |q, _| q.peek(SPIN).map(drop)),
        ("read_into", |q, m| q.read_into(m, &mut [0; 8]).map(drop)),
        ("release", |q, m| q.release(&[*m])),
        ("try_enqueue", |q, _| q.send(Opcode::Data, &[1], None)),
        ("enqueue", |q, _| q.send(Opcode::Data, &[1], SPIN)),
        ("reserve", |q, _| q.reserve(1).map(drop)),
        ("request_stop", |q, _| q.request_stop(None)),
    ];
    for (what, call) in calls {
        let before = watch.before();
        let r = call(q, &fake);
        watch.judge(&format!("{name}: {what}"), &r, q.record(), before);
        assert_eq!(r, Err(Error::RemoteAborted), "{name}: {what}");
    }
}

#[test]
fn l2_remote_abort_at_a_timeout_is_recorded_and_terminal() {
    each(|guard, initial, ffi, name| {
        let mem = place(guard, initial);
        let mut ep = Ep::open(&mem, &shape(initial), REGION_ID, ffi);
        let mut watch = Watch::new(mem, Victim::L2, REGION_ID);
        watch.attacked = true;
        mem.store(L3_FLAG, 1);
        let before = watch.before();
        let r = ep.peek(SPIN).map(drop);
        watch.judge(name, &r, ep.record(), before);
        assert_eq!(r, Err(Error::RemoteAborted), "{name}");
        assert_remote_abort_record(name, ep.record());
        assert_eq!(mem.load(L2_FLAG), 0, "{name}: own flag untouched");
        // Terminal even once the flag is cleared again.
        mem.store(L3_FLAG, 0);
        l2_later_calls_fail_fast(&mut watch, &mut ep, name);
    });
}

#[test]
fn l3_remote_abort_at_a_timeout_is_recorded_and_terminal() {
    each(|guard, initial, ffi, name| {
        let mem = place(guard, initial);
        let mut q = Q::open(&mem, &shape(initial), REGION_ID, ffi);
        let mut watch = Watch::new(mem, Victim::L3, REGION_ID);
        watch.attacked = true;
        mem.store(L2_FLAG, 1);
        let before = watch.before();
        let r = q.peek(SPIN).map(drop);
        watch.judge(name, &r, q.record(), before);
        assert_eq!(r, Err(Error::RemoteAborted), "{name}");
        assert_remote_abort_record(name, q.record());
        assert_eq!(mem.load(L3_FLAG), 0, "{name}: own flag untouched");
        mem.store(L2_FLAG, 0);
        l3_later_calls_fail_fast(&mut watch, &mut q, name);
    });
}

#[test]
fn l2_query_changes_nothing_while_clear_and_records_when_set() {
    each(|guard, initial, ffi, name| {
        let mem = place(guard, initial);
        let layout = shape(initial).layout;
        let mut ep = Ep::open(&mem, &shape(initial), REGION_ID, ffi);
        let mut watch = Watch::new(mem, Victim::L2, REGION_ID);
        watch.attacked = true;
        // A reservation is active: a blocking call with timeout 0 would now
        // be a second reserve (OWNERSHIP). The query is not.
        let r = ep.reserve(8, None).expect("reserve");
        let before = snapshot(&mem, &layout);
        for _ in 0..3 {
            assert_eq!(l2_query(&mut ep), Ok(false), "{name}");
        }
        assert_eq!(snapshot(&mem, &layout), before, "{name}: shared memory");
        assert!(ep.record().is_none(), "{name}");
        // Still healthy: the reservation publishes.
        ep.publish(&r, Opcode::Data, 8, false).expect("publish");
        let r = ep.reserve(8, None).expect("reserve");
        mem.store(L3_FLAG, 7);
        let before = snapshot(&mem, &layout);
        assert_eq!(l2_query(&mut ep), Ok(true), "{name}");
        assert_eq!(snapshot(&mem, &layout), before, "{name}: shared memory");
        assert_remote_abort_record(name, ep.record());
        watch.record = ep.record();
        let before = watch.before();
        let result = ep.publish(&r, Opcode::Data, 8, false);
        watch.judge(name, &result, ep.record(), before);
        assert_eq!(result, Err(Error::RemoteAborted), "{name}");
        // The query still answers (the flag), and the record stays.
        mem.store(L3_FLAG, 0);
        assert_eq!(l2_query(&mut ep), Ok(false), "{name}");
        l2_later_calls_fail_fast(&mut watch, &mut ep, name);
    });
}

#[test]
fn l3_query_changes_nothing_while_clear_and_records_when_set() {
    each(|guard, initial, ffi, name| {
        let mem = place(guard, initial);
        let layout = shape(initial).layout;
        let mut q = Q::open(&mem, &shape(initial), REGION_ID, ffi);
        let mut watch = Watch::new(mem, Victim::L3, REGION_ID);
        watch.attacked = true;
        let r = q.reserve(8).expect("reserve");
        let before = snapshot(&mem, &layout);
        assert_eq!(l3_query(&mut q), Ok(false), "{name}");
        assert_eq!(snapshot(&mem, &layout), before, "{name}: shared memory");
        assert!(q.record().is_none(), "{name}");
        mem.store(L2_FLAG, 1);
        let before = snapshot(&mem, &layout);
        assert_eq!(l3_query(&mut q), Ok(true), "{name}");
        assert_eq!(snapshot(&mem, &layout), before, "{name}: shared memory");
        assert_remote_abort_record(name, q.record());
        watch.record = q.record();
        let before = watch.before();
        let result = q.publish(&r, Opcode::Data, 8, false);
        watch.judge(name, &result, q.record(), before);
        assert_eq!(result, Err(Error::RemoteAborted), "{name}");
        l3_later_calls_fail_fast(&mut watch, &mut q, name);
    });
}

/// A poisoned endpoint keeps its own record; the query still reports the flag.
#[test]
fn query_on_a_poisoned_endpoint_keeps_the_poison_record() {
    each(|guard, initial, ffi, name| {
        let mem = place(guard, initial);
        let mut ep = Ep::open(&mem, &shape(initial), REGION_ID, ffi);
        assert_eq!(
            ep.release(&[Message::EMPTY]),
            Err(Error::Poisoned(ErrorKind::Ownership)),
            "{name}"
        );
        mem.store(L3_FLAG, 1);
        assert_eq!(l2_query(&mut ep), Ok(true), "{name}");
        assert_eq!(
            ep.record().map(|i| i.kind()),
            Some(ErrorKind::Ownership),
            "{name}"
        );
        assert_eq!(
            ep.peek(None).map(drop),
            Err(Error::Poisoned(ErrorKind::Ownership))
        );
    });
}

#[test]
fn a_reservation_carries_the_seq_it_is_published_with() {
    each(|guard, initial, ffi, name| {
        let mem = place(guard, initial);
        let layout = shape(initial).layout;
        let slot_seq = |ring: u64, k: u64| {
            let index = initial.wrapping_add(k);
            mem.slot(ring + (index & (layout.depth - 1)) * 32).seq
        };
        // L2 output: reserve/publish, also across a send and a zero-byte one.
        let mut ep = Ep::open(&mem, &shape(initial), REGION_ID, ffi);
        for k in 0..3 {
            let n = if k == 1 { 0 } else { 16 };
            let r = ep.reserve(n, None).expect("reserve");
            assert_eq!(r.seq, initial.wrapping_add(k + 1), "{name}: L2 #{k}");
            assert_eq!(r.seq(), r.seq);
            ep.publish(&r, Opcode::Data, n, false).expect("publish");
            assert_eq!(slot_seq(layout.output_desc_offset, k), r.seq, "{name}");
        }
        // An altered seq is someone else's reservation: OWNERSHIP.
        let r = ep.reserve(8, None).expect("reserve");
        let altered = Reservation {
            seq: r.seq + 1,
            ..r
        };
        assert_eq!(
            ep.publish(&altered, Opcode::Data, 8, false),
            Err(Error::Poisoned(ErrorKind::Ownership)),
            "{name}"
        );
        drop(ep);

        // L3 input (zero-copy reserve/commit), on a fresh region.
        let mem = place(guard, initial);
        let slot_seq = |ring: u64, k: u64| {
            let index = initial.wrapping_add(k);
            mem.slot(ring + (index & (layout.depth - 1)) * 32).seq
        };
        let mut q = Q::open(&mem, &shape(initial), REGION_ID, ffi);
        q.send(Opcode::Data, b"copied", None).expect("enqueue");
        let r = q.reserve(32).expect("reserve");
        assert_eq!(r.seq, initial.wrapping_add(2), "{name}: L3");
        q.publish(&r, Opcode::Data, 10, false).expect("commit");
        assert_eq!(slot_seq(layout.input_desc_offset, 1), r.seq, "{name}");
    });
}

#[test]
fn operation_str_names_every_operation_in_c() {
    let names = [
        (Operation::Unknown, "unknown"),
        (Operation::Create, "create"),
        (Operation::Peek, "peek"),
        (Operation::Release, "release"),
        (Operation::Reserve, "reserve"),
        (Operation::Publish, "publish"),
        (Operation::Enqueue, "enqueue"),
        (Operation::RequestStop, "request_stop"),
        (Operation::ReadInto, "read_into"),
        (Operation::Timeout, "timeout"),
    ];
    for (i, (op, text)) in names.into_iter().enumerate() {
        assert_eq!(op as u32, i as u32);
        // SAFETY: the function returns static NUL-terminated text.
        let got = unsafe { CStr::from_ptr(common::l3l2q_operation_str(op as u32)) };
        assert_eq!(got.to_str(), Ok(text));
    }
    for code in [10, 11, 100, u32::MAX] {
        // SAFETY: as above.
        let got = unsafe { CStr::from_ptr(common::l3l2q_operation_str(code)) };
        assert_eq!(got.to_str(), Ok("unknown"), "{code}");
    }
    assert_eq!(Status::RemoteAborted as i32, 21);
}
