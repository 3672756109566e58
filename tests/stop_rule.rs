//! Issue 14, point 1: STOP never hides a later input (SPEC 8). When the
//! input tail L2 has observed already counts a message after STOP,
//! acquiring STOP poisons INVALID_DESCRIPTOR instead of handing STOP out,
//! on every acquisition path (try_peek, peek, try_peek_batch, try_consume)
//! of both the Rust and the C API. Otherwise the caller would release STOP,
//! see the queue drained, exit, and the later input would be lost silently.

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

use l3l2q::abi::*;
use l3l2q::{Error, ErrorKind, Message, Operation};

use adversary::Victim;
use guarded::{Guarded, Mem};
use harness::{DATA, STOP, Shape, Watch};
use l2_api::Ep;

const IN_TAIL: u64 = L3L2Q_INPUT_DESC_TAIL_OFFSET;
const IN_HEAD: u64 = L3L2Q_INPUT_DESC_HEAD_OFFSET;
const L2_FLAG: u64 = L3L2Q_L2_ABORT_FLAG_OFFSET;
const REGION_ID: u64 = 0x5709;

/// The acquisition paths of SPEC 8.
#[derive(Debug, Clone, Copy)]
enum Path {
    TryPeek,
    Peek,
    PeekBatch,
    Consume,
}

const PATHS: [Path; 4] = [Path::TryPeek, Path::Peek, Path::PeekBatch, Path::Consume];

/// An honest-looking L3 written by hand: 8-byte DATA payloads laid out
/// back to back in the input arena, STOP zero-byte.
struct L3 {
    mem: Mem,
    layout: Layout,
    initial: u64,
    next: u64,
}

impl L3 {
    fn write(&mut self, opcode: u64) {
        let (offset, n) = if opcode == STOP {
            (0, 0)
        } else {
            let pos = 8 * self.next;
            self.mem.fill(
                self.layout.input_arena_offset + pos,
                8,
                0xA0 | self.next as u8,
            );
            (self.layout.input_arena_offset + pos, 8)
        };
        let index = self.initial.wrapping_add(self.next);
        self.mem.write_slot(
            self.layout.input_desc_offset + (index & (self.layout.depth - 1)) * 32,
            &DescriptorSlot {
                seq: index.wrapping_add(1),
                opcode,
                payload_offset: offset,
                payload_nbytes: n,
            },
        );
        self.next += 1;
    }

    fn publish(&self) {
        self.mem
            .store(IN_TAIL, self.initial.wrapping_add(self.next) as u32);
    }

    fn send(&mut self, opcodes: &[u64]) {
        for &op in opcodes {
            self.write(op);
        }
        self.publish();
    }

    /// The input head L2 published, as a message count from the start.
    fn head(&self) -> u64 {
        u64::from(self.mem.load(IN_HEAD).wrapping_sub(self.initial as u32))
    }
}

struct Setup {
    l3: L3,
    ep: Ep,
    watch: Watch,
}

fn setup(guard: &Guarded, initial: u64, ffi: bool) -> Setup {
    let shape = Shape {
        layout: Layout::compute(8, 256, 256).unwrap(),
        window: 4,
        initial,
        payload_at_end: true,
        counters_at_end: false,
    };
    let mem = guard.place(shape.layout.payload_bytes, true, false);
    for counter in [0, 64, 128, 192, 256, 320] {
        let value = if counter < 256 { initial as u32 } else { 0 };
        mem.store(counter, value);
    }
    let ep = Ep::open(&mem, &shape, REGION_ID, ffi);
    let mut watch = Watch::new(mem, Victim::L2, REGION_ID);
    // The peer breaks SPEC 8 on purpose in these tests.
    watch.attacked = true;
    Setup {
        l3: L3 {
            mem,
            layout: shape.layout,
            initial,
            next: 0,
        },
        ep,
        watch,
    }
}

/// Acquires through `path` (up to 4 messages for the batch paths) and
/// returns what was handed out; try_consume releases what it visits.
fn acquire(path: Path, ep: &mut Ep) -> Result<Vec<Message>, Error> {
    match path {
        Path::TryPeek => ep.peek(None).map(|m| vec![m]),
        Path::Peek => ep.peek(Some(1_000_000)).map(|m| vec![m]),
        Path::PeekBatch => {
            let mut out = [Message::EMPTY; 4];
            ep.peek_batch(&mut out).map(|n| out[..n].to_vec())
        }
        Path::Consume => {
            let mut seen = Vec::new();
            ep.consume(4, &mut seen)
                .map(|n| seen.into_iter().take(n).map(|(m, _)| m).collect())
        }
    }
}

/// Acquires through `path`, judging the call, and releases whatever a
/// peek path handed out; returns the opcodes seen.
fn take(s: &mut Setup, path: Path, what: &str) -> Result<Vec<u64>, Error> {
    let before = s.watch.before();
    let r = acquire(path, &mut s.ep);
    s.watch.judge(what, &r, s.ep.record(), before);
    let got = r?;
    if !matches!(path, Path::Consume) {
        let before = s.watch.before();
        let r = s.ep.release(&got);
        s.watch.judge(what, &r, s.ep.record(), before);
        r.unwrap();
    }
    Ok(got.iter().map(|m| m.opcode).collect())
}

#[track_caller]
fn assert_stop_rule_poison(s: &mut Setup, r: Result<Vec<u64>, Error>, name: &str) {
    assert_eq!(
        r,
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
        "{name}"
    );
    let info = s.ep.record().expect("recorded");
    assert_eq!(info.operation, Operation::Peek as u32, "{name}");
    assert_eq!(info.region_id, REGION_ID, "{name}");
    assert!(info.message().contains("after STOP"), "{name}: {info:?}");
    assert_eq!(s.l3.mem.load(L2_FLAG), 1, "{name}: the L3 side is told");
    assert!(!s.ep.drained(), "{name}: must never look drained");
    // Every later call fails fast (the watch checks the record and counters).
    let r = take(s, Path::TryPeek, name);
    assert_eq!(
        r,
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
        "{name}"
    );
}

fn cases(mut each: impl FnMut(&Guarded, Path, u64, bool, &str)) {
    let guard = Guarded::new(4096);
    for path in PATHS {
        for initial in [0, (1 << 32) - 2] {
            for ffi in [false, true] {
                let name = format!("{path:?}, ffi {ffi}, initial {initial:#x}");
                each(&guard, path, initial, ffi, &name);
            }
        }
    }
}

/// The scenario: DATA #1, STOP #2 and DATA #3 are all published
/// before L2 takes STOP.
#[test]
fn stop_with_a_later_input_already_published_poisons_instead_of_draining() {
    cases(|guard, path, initial, ffi, name| {
        let mut s = setup(guard, initial, ffi);
        s.l3.send(&[DATA, STOP, DATA]);
        let r = match path {
            // One at a time: #1 comes out and is released, then STOP is refused.
            Path::TryPeek | Path::Peek => {
                assert_eq!(take(&mut s, path, name), Ok(vec![DATA]), "{name}");
                take(&mut s, path, name)
            }
            // In one batch: the batch reaches STOP and the whole call fails.
            Path::PeekBatch | Path::Consume => take(&mut s, path, name),
        };
        assert_stop_rule_poison(&mut s, r, name);
        // STOP was never released, so the head never passed it.
        assert!(s.l3.head() <= 1, "{name}: head {}", s.l3.head());
    });
}

/// STOP first, a DATA after it, both published at once.
#[test]
fn stop_as_the_first_input_with_a_later_one_poisons() {
    cases(|guard, path, initial, ffi, name| {
        let mut s = setup(guard, initial, ffi);
        s.l3.send(&[STOP, DATA]);
        let r = take(&mut s, path, name);
        assert_stop_rule_poison(&mut s, r, name);
        assert_eq!(s.l3.head(), 0, "{name}");
    });
}

/// The later input is published after L2 observed the tail up to STOP,
/// but before it takes STOP: acquiring STOP reloads the tail and sees it.
#[test]
fn an_input_published_after_the_tail_was_observed_is_seen_when_stop_is_taken() {
    cases(|guard, path, initial, ffi, name| {
        if matches!(path, Path::PeekBatch | Path::Consume) {
            return; // a batch observes the tail once and reaches STOP in the same call
        }
        let mut s = setup(guard, initial, ffi);
        s.l3.send(&[DATA, STOP]);
        // Acquiring #1 observes the tail at 2 (STOP included).
        let before = s.watch.before();
        let r = acquire(path, &mut s.ep);
        s.watch.judge(name, &r, s.ep.record(), before);
        let first = r.unwrap();
        s.l3.send(&[DATA]);
        s.ep.release(&first).unwrap();
        let r = take(&mut s, path, name);
        assert_stop_rule_poison(&mut s, r, name);
    });
}

/// The rule costs an honest L3 nothing: STOP as the last input is handed
/// out on every path, and the queue drains.
#[test]
fn stop_as_the_last_input_is_handed_out_and_drains() {
    cases(|guard, path, initial, ffi, name| {
        let mut s = setup(guard, initial, ffi);
        s.l3.send(&[DATA, DATA, STOP]);
        let mut seen = Vec::new();
        while !seen.contains(&STOP) {
            seen.extend(take(&mut s, path, name).unwrap_or_else(|e| panic!("{name}: {e:?}")));
        }
        assert_eq!(seen, [DATA, DATA, STOP], "{name}");
        assert!(s.ep.drained(), "{name}");
        assert_eq!(s.l3.head(), 3, "{name}");
        assert!(s.ep.record().is_none(), "{name}");
        assert_eq!(s.l3.mem.load(L2_FLAG), 0, "{name}");
        // After STOP nothing more is acquired.
        assert_eq!(acquire(Path::TryPeek, &mut s.ep), Err(Error::NoProgress));
    });
}
