//! Issue 14, point 5: an impossible counter observation is
//! INVALID_DESCRIPTOR (SPEC 9): a counter moving backwards, a tail more
//! than `depth` ahead of the local head, a head beyond the published tail.
//! Each is forged once against each end, through the Rust and the C API,
//! with counters starting at 0 and just below 2^32 (so the forged values
//! wrap), and must poison with that kind, set the own abort flag and
//! record the region id.

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

use l3l2q::abi::*;
use l3l2q::{Error, ErrorKind, Opcode};

use adversary::Victim;
use guarded::{Guarded, Mem};
use harness::{DATA, Shape, Watch};
use l2_api::Ep;
use l3_api::Q;

const IN_TAIL: u64 = L3L2Q_INPUT_DESC_TAIL_OFFSET;
const IN_HEAD: u64 = L3L2Q_INPUT_DESC_HEAD_OFFSET;
const OUT_TAIL: u64 = L3L2Q_OUTPUT_DESC_TAIL_OFFSET;
const OUT_HEAD: u64 = L3L2Q_OUTPUT_DESC_HEAD_OFFSET;
const DEPTH: u64 = 4;
const REGION_ID: u64 = 0xC0DE;

/// The forging side: sets a counter to `initial + k` (`k` may be
/// "negative", wrapping).
struct Forge {
    mem: Mem,
    layout: Layout,
    initial: u64,
}

impl Forge {
    fn set(&self, counter: u64, k: i64) {
        self.mem
            .store(counter, self.initial.wrapping_add_signed(k) as u32);
    }
    /// Writes valid 8-byte DATA slots for messages `0..n` on the ring at
    /// `ring` with their payloads back to back at `arena`.
    fn slots(&self, ring: u64, arena: u64, n: u64) {
        for k in 0..n {
            let index = self.initial.wrapping_add(k);
            self.mem.write_slot(
                ring + (index & (DEPTH - 1)) * 32,
                &DescriptorSlot {
                    seq: index.wrapping_add(1),
                    opcode: DATA,
                    payload_offset: arena + 8 * k,
                    payload_nbytes: 8,
                },
            );
        }
    }
}

fn shape(initial: u64) -> Shape {
    Shape {
        layout: Layout::compute(DEPTH, 256, 256).unwrap(),
        window: DEPTH,
        initial,
        payload_at_end: true,
        counters_at_end: false,
    }
}

fn place(guard: &Guarded, initial: u64) -> (Mem, Forge) {
    let shape = shape(initial);
    let mem = guard.place(shape.layout.payload_bytes, true, false);
    for counter in [IN_TAIL, IN_HEAD, OUT_TAIL, OUT_HEAD] {
        mem.store(counter, initial as u32);
    }
    for flag in [L3L2Q_L3_ABORT_FLAG_OFFSET, L3L2Q_L2_ABORT_FLAG_OFFSET] {
        mem.store(flag, 0);
    }
    (
        mem,
        Forge {
            mem,
            layout: shape.layout,
            initial,
        },
    )
}

#[track_caller]
fn assert_invalid(name: &str, r: Result<(), Error>, record: Option<l3l2q::ErrorInfo>, flag: u32) {
    assert_eq!(
        r,
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
        "{name}"
    );
    let info = record.unwrap_or_else(|| panic!("{name}: no record"));
    assert_eq!(info.kind(), ErrorKind::InvalidDescriptor, "{name}");
    assert_eq!(info.region_id, REGION_ID, "{name}");
    assert!(info.message().contains("counter"), "{name}: {info:?}");
    assert_eq!(flag, 1, "{name}: own abort flag");
}

type L2Case = (&'static str, fn(&Forge, &mut Ep) -> Result<(), Error>);
type L3Case = (&'static str, fn(&Forge, &mut Q) -> Result<(), Error>);

fn l2_cases() -> Vec<L2Case> {
    vec![
        ("input tail more than depth ahead", |f, ep| {
            f.set(IN_TAIL, DEPTH as i64 + 1);
            ep.peek(None).map(drop)
        }),
        ("input tail moved backwards", |f, ep| {
            f.slots(f.layout.input_desc_offset, f.layout.input_arena_offset, 2);
            f.set(IN_TAIL, 2);
            let a = ep.peek(None).expect("message 0");
            let b = ep.peek(None).expect("message 1");
            ep.release(&[a, b]).expect("release");
            f.set(IN_TAIL, 1);
            ep.peek(None).map(drop)
        }),
        ("input tail -1 (backwards across the wrap)", |f, ep| {
            f.set(IN_TAIL, -1);
            ep.peek(None).map(drop)
        }),
        ("output head beyond the published tail", |f, ep| {
            ep.send(Opcode::Data, &[vec![1; 8]]).expect("one output");
            f.set(OUT_HEAD, 2);
            // No room for 256 more bytes: the reserve reloads the head.
            ep.reserve(256, None).map(drop)
        }),
        ("output head moved backwards", |f, ep| {
            ep.send(Opcode::Data, &[vec![1; 8]]).expect("one output");
            f.set(OUT_HEAD, -1);
            ep.reserve(256, None).map(drop)
        }),
    ]
}

fn l3_cases() -> Vec<L3Case> {
    vec![
        ("output tail more than depth ahead", |f, q| {
            f.set(OUT_TAIL, DEPTH as i64 + 1);
            q.peek(None).map(drop)
        }),
        ("output tail moved backwards", |f, q| {
            f.set(OUT_TAIL, -1);
            q.peek(None).map(drop)
        }),
        ("input head beyond the published tail", |f, q| {
            q.send(Opcode::Data, &[1; 8], None).expect("one input");
            f.set(IN_HEAD, 2);
            q.send(Opcode::Data, &[2; 256], None)
        }),
        ("input head moved backwards", |f, q| {
            q.send(Opcode::Data, &[1; 8], None).expect("one input");
            f.set(IN_HEAD, -1);
            q.send(Opcode::Data, &[2; 256], None)
        }),
    ]
}

#[test]
fn impossible_counters_poison_l2_with_invalid_descriptor() {
    let guard = Guarded::new(4096);
    for (name, case) in l2_cases() {
        for initial in [0, (1 << 32) - 1] {
            for ffi in [false, true] {
                let name = format!("{name} (ffi {ffi}, initial {initial:#x})");
                let (mem, forge) = place(&guard, initial);
                let mut ep = Ep::open(&mem, &shape(initial), REGION_ID, ffi);
                let mut watch = Watch::new(mem, Victim::L2, REGION_ID);
                watch.attacked = true;
                let r = case(&forge, &mut ep);
                let flag = mem.load(L3L2Q_L2_ABORT_FLAG_OFFSET);
                assert_invalid(&name, r, ep.record(), flag);
                // Terminal: the next call fails fast with the same record.
                let before = watch.before();
                watch.record = ep.record();
                let r = ep.peek(None).map(drop);
                watch.judge(&name, &r, ep.record(), before);
            }
        }
    }
}

#[test]
fn impossible_counters_poison_l3_with_invalid_descriptor() {
    let guard = Guarded::new(4096);
    for (name, case) in l3_cases() {
        for initial in [0, (1 << 32) - 1] {
            for ffi in [false, true] {
                let name = format!("{name} (ffi {ffi}, initial {initial:#x})");
                let (mem, forge) = place(&guard, initial);
                let mut q = Q::open(&mem, &shape(initial), REGION_ID, ffi);
                let mut watch = Watch::new(mem, Victim::L3, REGION_ID);
                watch.attacked = true;
                let r = case(&forge, &mut q);
                let flag = mem.load(L3L2Q_L3_ABORT_FLAG_OFFSET);
                assert_invalid(&name, r, q.record(), flag);
                let before = watch.before();
                watch.record = q.record();
                let r = q.peek(None).map(drop);
                watch.judge(&name, &r, q.record(), before);
            }
        }
    }
}
