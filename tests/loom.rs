//! Model checking of the publish/observe ordering with loom.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --test loom --release`
//! (without `--cfg loom` this file compiles to nothing).
//!
//! The real `L3Queue` and `L2Endpoint` run on two loom threads over a
//! [`Region`] whose six counters are loom atomics (acquire loads, release
//! stores, as the `Region` contract says) and whose payload range is one
//! loom `UnsafeCell` per byte. Loom explores the interleavings and fails
//! on any read of a slot or payload byte that is not ordered after the
//! write that produced it, and on any write (slot or arena reuse after a
//! release, replayed by the producer) that is not ordered after the
//! consumer's reads of the old contents. A control run with relaxed
//! counters shows the harness does catch a missing ordering. One-direction
//! models run without a preemption bound (every interleaving loom models),
//! two-direction ones with a bound of 3 (`LOOM_MAX_PREEMPTIONS` overrides).
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU32, Ordering};

use l3l2q::abi::*;
use l3l2q::region::{Fault, Region};
use l3l2q::{Error, L2Endpoint, L3Queue, Message, Opcode, QueueConfig};

/// Payload bytes and counters of one queue, shared by the two threads.
struct Memory {
    payload: Box<[UnsafeCell<u8>]>,
    counters: [AtomicU32; 6],
}

// SAFETY: this is the shared region the protocol is about; every payload
// byte is a loom cell, so loom itself checks that the threads' accesses to
// it are ordered (a data race fails the model instead of being UB).
unsafe impl Sync for Memory {}
// SAFETY: as above.
unsafe impl Send for Memory {}

#[derive(Clone)]
struct LoomRegion {
    mem: Arc<Memory>,
    /// Acquire/release counters (the contract), or relaxed (the control).
    ordered: bool,
    /// The slot range of the ring this side produces, and a count of its
    /// reads there: a producer reads its own ring only to replay releases.
    own_ring: Option<(u64, u64, std::sync::Arc<std::sync::atomic::AtomicUsize>)>,
}

impl LoomRegion {
    fn new(payload_bytes: u64, ordered: bool) -> LoomRegion {
        let payload = (0..payload_bytes).map(|_| UnsafeCell::new(0u8)).collect();
        let counters = [(); 6].map(|()| AtomicU32::new(0));
        LoomRegion {
            mem: Arc::new(Memory { payload, counters }),
            ordered,
            own_ring: None,
        }
    }

    /// A handle for the side producing into the ring at `start..end`.
    fn producing(
        &self,
        start: u64,
        end: u64,
        replays: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) -> LoomRegion {
        LoomRegion {
            own_ring: Some((start, end, replays.clone())),
            ..self.clone()
        }
    }

    fn cells(&self, offset: u64, len: usize) -> Option<&[UnsafeCell<u8>]> {
        let start = usize::try_from(offset).ok()?;
        self.mem.payload.get(start..start.checked_add(len)?)
    }

    fn counter(&self, offset: u64) -> Option<&AtomicU32> {
        if offset % 64 != 0 {
            return None;
        }
        self.mem.counters.get(usize::try_from(offset / 64).ok()?)
    }
}

// SAFETY: `payload_ptr` keeps its default (`None`): loom sees every access through the copies.
unsafe impl Region for LoomRegion {
    fn read_payload(&self, offset: u64, dst: &mut [u8]) -> Result<(), Fault> {
        let cells = self.cells(offset, dst.len()).ok_or(Fault::Read)?;
        if let Some((start, end, replays)) = &self.own_ring {
            if (*start..*end).contains(&offset) {
                replays.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        for (d, c) in dst.iter_mut().zip(cells) {
            // SAFETY: loom checks this read is ordered after the last write of the byte.
            *d = c.with(|p| unsafe { *p });
        }
        Ok(())
    }

    fn write_payload(&self, offset: u64, src: &[u8]) -> Result<(), Fault> {
        let cells = self.cells(offset, src.len()).ok_or(Fault::Write)?;
        for (s, c) in src.iter().zip(cells) {
            // SAFETY: loom checks this write is ordered after every earlier access of the byte.
            c.with_mut(|p| unsafe { *p = *s });
        }
        Ok(())
    }

    fn load_counter(&self, offset: u64) -> Result<u32, Fault> {
        let order = if self.ordered {
            Ordering::Acquire
        } else {
            Ordering::Relaxed
        };
        Ok(self.counter(offset).ok_or(Fault::Read)?.load(order))
    }

    fn store_counter(&self, offset: u64, value: u32) -> Result<(), Fault> {
        let order = if self.ordered {
            Ordering::Release
        } else {
            Ordering::Relaxed
        };
        self.counter(offset)
            .ok_or(Fault::Write)?
            .store(value, order);
        Ok(())
    }
}

fn pattern(salt: u8, k: usize, len: u64) -> Vec<u8> {
    (0..len)
        .map(|i| salt ^ (k as u8).wrapping_mul(31) ^ (i as u8))
        .collect()
}

/// One model: queue shape, the input sizes L3 sends, the output sizes L2
/// sends, and L2's window (with a window above 1, L2 holds as many inputs
/// as it can and releases them newest first).
#[derive(Clone, Copy)]
struct Plan {
    depth: u64,
    in_arena: u64,
    out_arena: u64,
    inputs: &'static [u64],
    outputs: &'static [u64],
    window: u64,
    /// Loom's preemption bound: `None` for no bound (every interleaving
    /// loom models); `LOOM_MAX_PREEMPTIONS` overrides it.
    bound: Option<usize>,
}

fn soft<T>(r: Result<T, Error>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(Error::NoProgress) => None,
        Err(e) => panic!("unexpected {e:?}"),
    }
}

/// The L2 thread: takes every input (checking seq, size and bytes, and
/// that they are unchanged when released), sends every output.
fn l2_thread(mut ep: L2Endpoint<LoomRegion>, plan: Plan) {
    let (mut got, mut sent) = (0usize, 0usize);
    let mut held: Vec<(Message, usize)> = Vec::new();
    let mut buf = vec![0u8; plan.in_arena as usize];
    let check = |ep: &L2Endpoint<LoomRegion>, m: &Message, k: usize, buf: &mut [u8]| {
        assert_eq!(
            (m.seq, m.payload_nbytes),
            (k as u64 + 1, plan.inputs[k]),
            "input {k}"
        );
        let n = ep.copy_payload(m, buf).expect("copy");
        assert_eq!(
            buf[..n],
            pattern(0x10, k, plan.inputs[k])[..],
            "input {k} bytes"
        );
    };
    while got < plan.inputs.len() || sent < plan.outputs.len() || !held.is_empty() {
        let mut progressed = false;
        if got < plan.inputs.len() && (held.len() as u64) < plan.window {
            if let Some(m) = soft(ep.try_peek()) {
                check(&ep, &m, got, &mut buf);
                held.push((m, got));
                got += 1;
                progressed = true;
            }
        }
        let full = held.len() as u64 == plan.window || got == plan.inputs.len();
        if !progressed && full && !held.is_empty() {
            while let Some((m, k)) = held.pop() {
                check(&ep, &m, k, &mut buf);
                ep.release(&m).expect("release");
            }
            progressed = true;
        }
        if sent < plan.outputs.len()
            && soft(ep.try_send(Opcode::Data, &pattern(0x20, sent, plan.outputs[sent]))).is_some()
        {
            sent += 1;
            progressed = true;
        }
        if !progressed {
            loom::thread::yield_now();
        }
    }
    assert!(ep.error().is_none());
}

/// The L3 side (the model's main thread): sends every input, takes every
/// output.
fn l3_thread(q: &mut L3Queue<LoomRegion>, plan: Plan) {
    let (mut sent, mut got) = (0usize, 0usize);
    let mut buf = vec![0u8; plan.out_arena as usize];
    while sent < plan.inputs.len() || got < plan.outputs.len() {
        let mut progressed = false;
        if sent < plan.inputs.len()
            && soft(q.try_send(Opcode::Data, &pattern(0x10, sent, plan.inputs[sent]))).is_some()
        {
            sent += 1;
            progressed = true;
        }
        if got < plan.outputs.len() {
            if let Some(m) = soft(q.try_peek()) {
                assert_eq!(
                    (m.seq, m.payload_nbytes),
                    (got as u64 + 1, plan.outputs[got]),
                    "output {got}"
                );
                let n = q.read_into(&m, &mut buf).expect("read_into");
                assert_eq!(
                    buf[..n],
                    pattern(0x20, got, plan.outputs[got])[..],
                    "output {got} bytes"
                );
                q.release(&m).expect("release");
                got += 1;
                progressed = true;
            }
        }
        if !progressed {
            loom::thread::yield_now();
        }
    }
    assert!(q.error().is_none());
}

/// What one exploration covered.
#[derive(Debug)]
struct Explored {
    executions: usize,
    /// Released descriptors replayed by a producer, over all executions.
    replays: usize,
    took: std::time::Duration,
}

/// Explores `plan` with loom (preemption bound from the plan unless
/// `LOOM_MAX_PREEMPTIONS` is set).
fn explore(plan: Plan, ordered: bool) -> Explored {
    let started = std::time::Instant::now();
    let executions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let replays = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = executions.clone();
    let replayed = replays.clone();
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = plan.bound;
    }
    builder.check(move || {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let layout = Layout::compute(plan.depth, plan.in_arena, plan.out_arena).expect("layout");
        let region = LoomRegion::new(layout.payload_bytes, ordered);
        let descriptor = RegionDescriptor::new(
            1,
            0x1_0000,
            layout.payload_bytes,
            0x10_0000,
            L3L2Q_COUNTER_BYTES,
        );
        let input_ring = (layout.input_desc_offset, layout.output_desc_offset);
        let output_ring = (
            layout.output_desc_offset,
            layout.output_desc_offset + plan.depth * L3L2Q_SLOT_BYTES,
        );
        let l3_region = region.producing(input_ring.0, input_ring.1, &replayed);
        let region = region.producing(output_ring.0, output_ring.1, &replayed);
        let mut q = L3Queue::create(
            l3_region,
            &descriptor,
            QueueConfig {
                depth: plan.depth,
                input_arena_bytes: plan.in_arena,
                output_arena_bytes: plan.out_arena,
            },
        )
        .expect("queue");
        let ep = L2Endpoint::with_region(region, q.descriptor(), &q.queue_args(), plan.window, 0)
            .expect("endpoint");
        let l2 = loom::thread::spawn(move || l2_thread(ep, plan));
        l3_thread(&mut q, plan);
        l2.join().expect("L2 thread");
    });
    let load = |a: &std::sync::atomic::AtomicUsize| a.load(std::sync::atomic::Ordering::Relaxed);
    Explored {
        executions: load(&executions),
        replays: load(&replays),
        took: started.elapsed(),
    }
}

fn run(name: &str, plan: Plan) -> Explored {
    let e = explore(plan, true);
    eprintln!(
        "{name}: {} executions explored in {:?}, {} replayed releases",
        e.executions, e.took, e.replays
    );
    e
}

const NONE: &[u64] = &[];

#[test]
fn input_depth_1_slot_reuse() {
    // The second message reuses slot 0 and, wrapping, the first's bytes.
    run(
        "input depth 1",
        Plan {
            depth: 1,
            in_arena: 64,
            out_arena: 64,
            inputs: &[40, 40],
            outputs: NONE,
            window: 1,
            bound: None,
        },
    );
}

#[test]
fn input_depth_2_release_and_replay() {
    // The third message needs the first's bytes back: the producer refreshes
    // the head and replays the released descriptor (or takes the all-released
    // shortcut, depending on the interleaving), then overwrites them.
    let e = run(
        "input depth 2",
        Plan {
            depth: 2,
            in_arena: 64,
            out_arena: 64,
            inputs: &[24, 24, 24],
            outputs: NONE,
            window: 1,
            bound: None,
        },
    );
    assert!(e.replays > 0, "no interleaving replayed a release");
}

#[test]
fn input_depth_2_window_2_released_newest_first() {
    run(
        "input depth 2 window 2",
        Plan {
            depth: 2,
            in_arena: 64,
            out_arena: 64,
            inputs: &[24, 24, 24],
            outputs: NONE,
            window: 2,
            bound: None,
        },
    );
}

#[test]
fn output_depth_1_slot_reuse() {
    run(
        "output depth 1",
        Plan {
            depth: 1,
            in_arena: 64,
            out_arena: 64,
            inputs: NONE,
            outputs: &[40, 40],
            window: 1,
            bound: None,
        },
    );
}

#[test]
fn output_depth_2_release_and_replay() {
    let e = run(
        "output depth 2",
        Plan {
            depth: 2,
            in_arena: 64,
            out_arena: 64,
            inputs: NONE,
            outputs: &[24, 24, 24],
            window: 1,
            bound: None,
        },
    );
    assert!(e.replays > 0, "no interleaving replayed a release");
}

#[test]
fn both_directions_depth_1() {
    run(
        "both directions depth 1",
        Plan {
            depth: 1,
            in_arena: 64,
            out_arena: 64,
            inputs: &[16, 48],
            outputs: &[48, 16],
            window: 1,
            bound: Some(3),
        },
    );
}

#[test]
fn both_directions_depth_2() {
    let e = run(
        "both directions depth 2",
        Plan {
            depth: 2,
            in_arena: 64,
            out_arena: 64,
            inputs: &[24, 0, 40],
            outputs: &[40, 24, 24],
            window: 2,
            bound: Some(3),
        },
    );
    assert!(e.replays > 0, "no interleaving replayed a release");
}

#[test]
fn the_harness_catches_relaxed_counters() {
    // Control: with relaxed counter accesses nothing orders the consumer's
    // slot read after the producer's write, and loom must say so.
    let plan = Plan {
        depth: 1,
        in_arena: 64,
        out_arena: 64,
        inputs: &[8],
        outputs: NONE,
        window: 1,
        bound: Some(3),
    };
    let caught = std::panic::catch_unwind(|| explore(plan, false))
        .expect_err("loom accepted relaxed counters: the harness would not see a missing ordering");
    let message = caught
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| caught.downcast_ref::<&str>().copied())
        .unwrap_or("");
    assert!(
        message.contains("Causality violation"),
        "failed for another reason: {message}"
    );
}
