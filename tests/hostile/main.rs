//! The hostile peer (SPEC section 10: shared memory is never
//! trusted). An L2 endpoint and an L3 queue, each on its own, run honest
//! phases and then phases in which an adversary rewrites counters,
//! descriptor slots and payload bytes between their steps, on memory
//! fenced by PROT_NONE guard pages. Every call must return (no panic, no
//! fault, no hang), poison must be sticky and raise the own abort flag,
//! and honest phases must never poison. See tests/hostile/harness.rs and
//! hostile_l2.rs / hostile_l3.rs for the checks made after every call.
//!
//! Seeded and reproducible: `L3L2Q_HOSTILE_SEED` (decimal or 0x-hex)
//! overrides the default seed, `L3L2Q_HOSTILE_STEPS` the number of
//! adversarial steps per side (default 1,000,000),
//! `L3L2Q_HOSTILE_CONCURRENT=0` turns off the 5 % of episodes whose
//! adversary runs in another thread (the only non-deterministic part), and
//! `L3L2Q_HOSTILE_EPISODE=N` replays episode N alone (a failure prints N).
//! `cargo test --test hostile -- --nocapture` shows the totals. The fuzz
//! target (fuzz/) runs the same engine on libFuzzer's bytes; the numbers
//! and guarantees are in docs/RELIABILITY.md, "Hostile peer".

mod adversary;
mod guarded;
mod harness;
mod hostile_l2;
mod hostile_l3;
mod l2_api;
mod l3_api;
mod script;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use adversary::{Source, XorShift};
use guarded::Guarded;
use harness::{Plan, Shape, Stats};

const DEFAULT_SEED: u64 = 0x6C33_6C32_686F_7374;
const DEFAULT_STEPS: u64 = 1_000_000;
/// Share of episodes driven through the C API.
const FFI_PERCENT: u64 = 25;
/// Share of episodes whose adversary runs in another thread (on by
/// default; `L3L2Q_HOSTILE_CONCURRENT=0` makes a run fully reproducible).
const CONCURRENT_PERCENT: u64 = 5;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        }
        Err(_) => default,
    }
}

/// Aborts the process if the run stops making progress (a hang in the
/// library would otherwise hang the test run forever).
struct Watchdog {
    done: Arc<AtomicBool>,
}

impl Watchdog {
    fn start(name: &'static str, progress: Arc<AtomicU64>) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            let mut last = (progress.load(Ordering::Relaxed), Instant::now());
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let now = progress.load(Ordering::Relaxed);
                if now != last.0 {
                    last = (now, Instant::now());
                } else if last.1.elapsed() > Duration::from_secs(120) {
                    eprintln!(
                        "{name}: no progress for 120 s after {now} episodes: the library hangs"
                    );
                    std::process::abort();
                }
            }
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

type Episode = fn(&mut XorShift, &Guarded, Plan, Shape, &mut Stats);

fn run(name: &'static str, salt: u64, episode: Episode) -> Stats {
    let seed = env_u64("L3L2Q_HOSTILE_SEED", DEFAULT_SEED);
    let target = env_u64("L3L2Q_HOSTILE_STEPS", DEFAULT_STEPS);
    let concurrent = env_u64("L3L2Q_HOSTILE_CONCURRENT", 1) != 0;
    eprintln!("{name}: seed {seed:#x} (set L3L2Q_HOSTILE_SEED to reproduce or vary)");
    let mut rng = XorShift::new(seed ^ salt);
    let guard = Guarded::new(4096);
    let progress = Arc::new(AtomicU64::new(0));
    let _watchdog = Watchdog::start(name, progress.clone());
    let started = Instant::now();
    let only = std::env::var("L3L2Q_HOSTILE_EPISODE")
        .ok()
        .map(|_| env_u64("L3L2Q_HOSTILE_EPISODE", 0));
    let mut stats = Stats::default();
    let mut index = 0u64;
    while stats.adversarial_steps < target {
        let mut plan = Plan::random(&mut rng, FFI_PERCENT);
        plan.concurrent = concurrent && rng.chance(CONCURRENT_PERCENT);
        let shape = Shape::random(&mut rng);
        // Each episode draws from its own generator, so an episode's
        // choices (or a concurrent one's timing) do not shift the plans of
        // the ones after it, and one episode can be replayed alone.
        let mut episode_rng = XorShift::new(rng.word());
        index += 1;
        if only.is_some_and(|n| n != index) {
            if only.is_some_and(|n| n < index) {
                break;
            }
            continue;
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            episode(&mut episode_rng, &guard, plan, shape, &mut stats)
        }));
        if let Err(panic) = result {
            eprintln!(
                "{name}: FAILED in episode {index} (seed {seed:#x}; rerun it alone with L3L2Q_HOSTILE_EPISODE={index}):\n  {plan:?}\n  {shape:?}"
            );
            std::panic::resume_unwind(panic);
        }
        progress.store(stats.episodes, Ordering::Relaxed);
    }
    if only.is_some() {
        eprintln!("{name}: replayed episode {only:?} alone: {stats:?}");
        return stats;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{name}: {} adversarial steps ({} while healthy, {} with a concurrent adversary) in {} episodes, {:.2} s; \
         {} honest steps, {} payloads verified; {} steps through the C API; {} strikes, {} calls succeeded under attack; \
         poisoned episodes by kind {:?}, {} REMOTE_ABORTED",
        stats.adversarial_steps,
        stats.healthy_adversarial_steps,
        stats.concurrent_steps,
        stats.episodes,
        secs,
        stats.honest_steps,
        stats.verified_messages,
        stats.ffi_steps,
        stats.strikes,
        stats.ok_under_attack,
        stats.poisoned_by_kind,
        stats.remote_aborted,
    );
    stats
}

/// The run must actually have exercised what it claims to.
fn assert_coverage(stats: &Stats) {
    if stats.adversarial_steps < 100_000 {
        return; // a short run (L3L2Q_HOSTILE_STEPS) proves little either way
    }
    assert!(
        stats.verified_messages > stats.adversarial_steps / 100,
        "honest phases moved too little data: {stats:?}"
    );
    assert!(
        stats.ffi_steps > stats.adversarial_steps / 10,
        "too few C API steps: {stats:?}"
    );
    assert!(
        stats.ok_under_attack > stats.adversarial_steps / 10,
        "the victim rarely worked under attack: {stats:?}"
    );
    assert!(
        stats.poisoned() > stats.episodes / 4,
        "the adversary rarely poisoned: {stats:?}"
    );
    let concurrent = env_u64("L3L2Q_HOSTILE_CONCURRENT", 1) != 0;
    assert!(
        !concurrent || stats.concurrent_steps > 0,
        "no concurrent episode ran: {stats:?}"
    );
    // Counter breaches and descriptor breaches both occur (both are
    // INVALID_DESCRIPTOR; the record's message tells them apart).
    assert!(
        stats.counter_breaches > 0 && stats.poisoned_by_kind[3] > stats.counter_breaches,
        "{:?}, {} counter breaches",
        stats.poisoned_by_kind,
        stats.counter_breaches
    );
}

fn replaying() -> bool {
    std::env::var_os("L3L2Q_HOSTILE_EPISODE").is_some()
}

#[test]
fn l2_endpoint_survives_a_hostile_l3() {
    let stats = run(
        "hostile L3 vs L2 endpoint",
        0x4C32,
        hostile_l2::episode::<XorShift>,
    );
    if replaying() {
        return;
    }
    assert_coverage(&stats);
    assert!(
        stats.remote_aborted > 0,
        "no blocking call saw the L3 abort flag"
    );
}

#[test]
fn l3_queue_survives_a_hostile_l2() {
    let stats = run(
        "hostile L2 vs L3 queue",
        0x4C33,
        hostile_l3::episode::<XorShift>,
    );
    if replaying() {
        return;
    }
    assert_coverage(&stats);
    assert!(
        stats.remote_aborted > 0,
        "no blocking call saw the L2 abort flag"
    );
}

/// The fuzz target's script reading (fuzz/fuzz_targets/hostile_peer.rs),
/// run here on generated inputs so it is tested without libFuzzer: empty
/// and tiny inputs, all-zero and all-0xFF ones, and random ones.
#[test]
fn fuzz_scripts_run_clean() {
    let guard = Guarded::new(4096);
    let mut rng = XorShift::new(env_u64("L3L2Q_HOSTILE_SEED", DEFAULT_SEED) ^ 0xF022);
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![1],
        vec![0; 4096],
        vec![0xFF; 4096],
        vec![1; 4096],
    ];
    for _ in 0..2_000 {
        let len = rng.below(4096) as usize;
        inputs.push((0..len).map(|_| rng.bits(8) as u8).collect());
    }
    let mut total = Stats::default();
    for input in &inputs {
        total.add(&script::run(input, &guard));
    }
    eprintln!(
        "fuzz scripts: {} inputs, {} adversarial steps, {} honest steps, poisoned by kind {:?}",
        inputs.len(),
        total.adversarial_steps,
        total.honest_steps,
        total.poisoned_by_kind
    );
    assert_eq!(total.episodes, inputs.len() as u64);
    assert!(
        total.adversarial_steps > 20_000
            && total.poisoned() > 100
            && total.verified_messages > 1_000,
        "{total:?}"
    );
}

/// Targeted cases: one hostile write each, with the exact outcome SPEC
/// sections 4-9 require, on the Rust and the C API, with counters starting
/// at 0 and just below 2^32 (so the forged values wrap).
mod targeted {
    use l3l2q::abi::*;
    use l3l2q::{Error, ErrorKind, Message, Reservation};

    use crate::adversary::Victim;
    use crate::guarded::{Guarded, Mem};
    use crate::harness::{Shape, Watch};
    use crate::l2_api::Ep;
    use crate::l3_api::Q;

    const DATA: u64 = L3L2Q_OPCODE_DATA;
    const STOP: u64 = L3L2Q_OPCODE_STOP;
    const IN_TAIL: u64 = L3L2Q_INPUT_DESC_TAIL_OFFSET;
    const IN_HEAD: u64 = L3L2Q_INPUT_DESC_HEAD_OFFSET;
    const OUT_TAIL: u64 = L3L2Q_OUTPUT_DESC_TAIL_OFFSET;
    const OUT_HEAD: u64 = L3L2Q_OUTPUT_DESC_HEAD_OFFSET;
    const FAKE: Reservation = Reservation {
        token: 99,
        seq: 0,
        payload_offset: 0,
        capacity: 0,
        data: core::ptr::null_mut(),
    };

    /// What the decisive call must return.
    #[derive(Debug, Clone, Copy)]
    enum Want {
        Poison(ErrorKind),
        Returns(Result<(), Error>),
    }
    use Want::*;
    const BAD: Want = Poison(ErrorKind::InvalidDescriptor);
    const COUNTER: Want = Poison(ErrorKind::InvalidDescriptor);

    /// The region as the hostile peer writes it: depth 4, arenas of 256.
    struct Ctx {
        mem: Mem,
        l: Layout,
        initial: u64,
    }

    impl Ctx {
        fn seq(&self, k: u64) -> u64 {
            self.initial.wrapping_add(k + 1)
        }
        /// Writes slot `k` (message number initial + k) of the ring at `ring`.
        fn put(&self, ring: u64, k: u64, seq: u64, opcode: u64, offset: u64, n: u64) {
            let at = ring + (self.initial.wrapping_add(k) & (self.l.depth - 1)) * 32;
            self.mem.write_slot(
                at,
                &DescriptorSlot {
                    seq,
                    opcode,
                    payload_offset: offset,
                    payload_nbytes: n,
                },
            );
        }
        fn input(&self, seq: u64, opcode: u64, offset: u64, n: u64) {
            self.put(self.l.input_desc_offset, 0, seq, opcode, offset, n);
            self.set(IN_TAIL, 1);
        }
        fn output(&self, seq: u64, opcode: u64, offset: u64, n: u64) {
            self.put(self.l.output_desc_offset, 0, seq, opcode, offset, n);
            self.set(OUT_TAIL, 1);
        }
        /// Stores counter = initial + k (low 32 bits; k may be "negative").
        fn set(&self, counter: u64, k: u64) {
            self.mem.store(counter, self.initial.wrapping_add(k) as u32);
        }
        fn ia(&self) -> u64 {
            self.l.input_arena_offset
        }
        fn oa(&self) -> u64 {
            self.l.output_arena_offset
        }
    }

    type Case<V> = (&'static str, Want, fn(&Ctx, &mut V) -> Result<(), Error>);
    /// A call on a poisoned victim, given a message it does not hold.
    type Call<V> = fn(&mut V, &Message) -> Result<(), Error>;

    fn l2_cases() -> Vec<Case<Ep>> {
        vec![
            ("seq off by one ahead", BAD, |c, ep| {
                c.input(c.seq(0) + 1, DATA, c.ia(), 8);
                ep.peek(None).map(drop)
            }),
            ("seq off by one behind", BAD, |c, ep| {
                c.input(c.seq(0) - 1, DATA, c.ia(), 8);
                ep.peek(None).map(drop)
            }),
            ("opcode INVALID", BAD, |c, ep| {
                c.input(c.seq(0), 0, 0, 0);
                ep.peek(None).map(drop)
            }),
            ("opcode 4", BAD, |c, ep| {
                c.input(c.seq(0), 4, 0, 0);
                ep.peek(None).map(drop)
            }),
            ("STOP with payload", BAD, |c, ep| {
                c.input(c.seq(0), STOP, c.ia(), 8);
                ep.peek(None).map(drop)
            }),
            ("zero-byte with nonzero offset", BAD, |c, ep| {
                c.input(c.seq(0), DATA, c.ia(), 0);
                ep.peek(None).map(drop)
            }),
            ("payload past the arena end", BAD, |c, ep| {
                c.input(c.seq(0), DATA, c.ia() + 256 - 4, 8);
                ep.peek(None).map(drop)
            }),
            ("payload at the arena end", BAD, |c, ep| {
                c.input(c.seq(0), DATA, c.ia() + 256, 1);
                ep.peek(None).map(drop)
            }),
            ("payload before the arena", BAD, |c, ep| {
                c.input(c.seq(0), DATA, c.ia() - 1, 8);
                ep.peek(None).map(drop)
            }),
            ("payload in the output arena", BAD, |c, ep| {
                c.input(c.seq(0), DATA, c.oa(), 8);
                ep.peek(None).map(drop)
            }),
            ("payload past the region", BAD, |c, ep| {
                c.input(c.seq(0), DATA, c.l.payload_bytes - 4, 8);
                ep.peek(None).map(drop)
            }),
            ("huge nbytes", BAD, |c, ep| {
                c.input(c.seq(0), DATA, c.ia(), u64::MAX);
                ep.peek(None).map(drop)
            }),
            ("offset + nbytes wraps to 0", BAD, |c, ep| {
                c.input(c.seq(0), DATA, c.ia(), 0u64.wrapping_sub(c.ia()));
                ep.peek(None).map(drop)
            }),
            ("offset u64::MAX", BAD, |c, ep| {
                c.input(c.seq(0), DATA, u64::MAX, 8);
                ep.peek(None).map(drop)
            }),
            ("payload at a bad arena position", BAD, |c, ep| {
                c.input(c.seq(0), DATA, c.ia() + 64, 8);
                ep.peek(None).map(drop)
            }),
            ("tail jumps by depth + 1", COUNTER, |c, ep| {
                c.set(IN_TAIL, 5);
                ep.peek(None).map(drop)
            }),
            ("tail jumps by 2^31", COUNTER, |c, ep| {
                c.set(IN_TAIL, 1 << 31);
                ep.peek(None).map(drop)
            }),
            ("tail moves backwards", COUNTER, |c, ep| {
                c.input(c.seq(0), DATA, 0, 0);
                ep.peek(None).expect("a valid zero-byte input");
                c.set(IN_TAIL, 0);
                ep.peek(None).map(drop)
            }),
            ("tail overfills the ring", COUNTER, |c, ep| {
                c.input(c.seq(0), DATA, 0, 0);
                ep.peek(None).expect("a valid zero-byte input");
                c.set(IN_TAIL, 1 + 4);
                ep.peek(None).map(drop)
            }),
            ("descriptor published after STOP", BAD, |c, ep| {
                c.input(c.seq(0), STOP, 0, 0);
                assert_eq!(ep.peek(None).expect("STOP").opcode, STOP);
                c.put(c.l.input_desc_offset, 1, c.seq(1), DATA, 0, 0);
                c.set(IN_TAIL, 2);
                ep.peek(None).map(drop)
            }),
            ("output head passes the tail", COUNTER, |c, ep| {
                ep.send(Opcode::Data, &[vec![1; 256]])
                    .expect("fills the output arena");
                c.set(OUT_HEAD, 2);
                ep.reserve(1, None).map(drop)
            }),
            ("output head moves backwards", COUNTER, |c, ep| {
                ep.send(Opcode::Data, &[vec![1; 256]])
                    .expect("fills the output arena");
                c.set(OUT_HEAD, u64::MAX);
                ep.reserve(1, None).map(drop)
            }),
            ("released output slot moved", BAD, |c, ep| {
                ep.send(Opcode::Data, &[vec![1; 128], vec![2; 128]])
                    .expect("fills the output arena");
                c.put(c.l.output_desc_offset, 0, c.seq(0), DATA, c.oa() + 64, 128);
                c.set(OUT_HEAD, 1);
                ep.reserve(64, None).map(drop)
            }),
            ("released output slot with another seq", BAD, |c, ep| {
                ep.send(Opcode::Data, &[vec![1; 128], vec![2; 128]])
                    .expect("fills the output arena");
                c.put(c.l.output_desc_offset, 0, c.seq(0) + 1, DATA, c.oa(), 128);
                c.set(OUT_HEAD, 1);
                ep.reserve(64, None).map(drop)
            }),
            ("released output slot past the arena", BAD, |c, ep| {
                ep.send(Opcode::Data, &[vec![1; 128], vec![2; 128]])
                    .expect("fills the output arena");
                c.put(c.l.output_desc_offset, 0, c.seq(0), DATA, c.oa(), 300);
                c.set(OUT_HEAD, 1);
                ep.reserve(64, None).map(drop)
            }),
            (
                "L3 abort flag, blocking peek",
                Returns(Err(Error::RemoteAborted)),
                |c, ep| {
                    c.mem.store(L3L2Q_L3_ABORT_FLAG_OFFSET, 1);
                    ep.peek(Some(1_000)).map(drop)
                },
            ),
            (
                "L3 abort flag, try_peek",
                Returns(Err(Error::NoProgress)),
                |c, ep| {
                    c.mem.store(L3L2Q_L3_ABORT_FLAG_OFFSET, 1);
                    ep.peek(None).map(drop)
                },
            ),
            (
                "valid input at the arena end after a wrap",
                Returns(Ok(())),
                |c, ep| {
                    c.input(c.seq(0), DATA, c.ia(), 200);
                    let m = ep.peek(None)?;
                    ep.release(&[m])?;
                    c.put(c.l.input_desc_offset, 1, c.seq(1), DATA, c.ia() + 200, 56);
                    c.set(IN_TAIL, 2);
                    let m = ep.peek(None)?;
                    assert_eq!(m.payload_offset + m.payload_nbytes, c.ia() + 256);
                    ep.release(&[m])
                },
            ),
        ]
    }

    /// After poison, every call fails fast with the same kind and touches nothing.
    fn l2_poisoned(watch: &mut Watch, ep: &mut Ep) {
        let fake = Message {
            seq: 1,
            opcode: DATA,
            payload_offset: 0,
            payload_nbytes: 0,
            data: core::ptr::null(),
        };
        let calls: [(&str, Call<Ep>); 9] = [
            ("peek", |ep, _| ep.peek(None).map(drop)),
            ("blocking peek", |ep, _| ep.peek(Some(1_000)).map(drop)),
            ("peek batch", |ep, _| {
                ep.peek_batch(&mut [Message::EMPTY; 2]).map(drop)
            }),
            ("empty peek batch", |ep, _| ep.peek_batch(&mut []).map(drop)),
            ("release", |ep, m| ep.release(&[*m])),
            ("reserve", |ep, _| ep.reserve(0, None).map(drop)),
            ("publish", |ep, _| ep.publish(&FAKE, Opcode::Data, 0, false)),
            ("flush", |ep, _| ep.flush()),
            ("empty send batch", |ep, _| {
                ep.send(Opcode::Data, &[]).map(drop)
            }),
        ];
        for (what, call) in calls {
            let before = watch.before();
            let r = call(ep, &fake);
            watch.judge(what, &r, ep.record(), before);
        }
    }

    fn shape(initial: u64) -> Shape {
        Shape {
            layout: Layout::compute(4, 256, 256).unwrap(),
            window: 4,
            initial,
            payload_at_end: true,
            counters_at_end: false,
        }
    }

    fn check(
        name: &str,
        want: Want,
        r: Result<(), Error>,
        watch: &mut Watch,
        record: Option<l3l2q::ErrorInfo>,
        before: [u32; 2],
    ) {
        watch.judge(name, &r, record, before);
        match want {
            Poison(kind) => assert_eq!(r, Err(Error::Poisoned(kind)), "{name}"),
            Returns(want) => assert_eq!(r, want, "{name}"),
        }
    }

    #[test]
    fn l2_rejects_each_targeted_forgery() {
        let guard = Guarded::new(4096);
        for (name, want, case) in l2_cases() {
            for initial in [0, (1 << 32) - 1] {
                for ffi in [false, true] {
                    let shape = shape(initial);
                    let mem = guard.place(
                        shape.layout.payload_bytes,
                        shape.payload_at_end,
                        shape.counters_at_end,
                    );
                    let ctx = Ctx {
                        mem,
                        l: shape.layout,
                        initial,
                    };
                    // What the L3 creator does before L2 starts.
                    for counter in [IN_TAIL, IN_HEAD, OUT_TAIL, OUT_HEAD] {
                        ctx.set(counter, 0);
                    }
                    let mut ep = Ep::open(&mem, &shape, 77, ffi);
                    let mut watch = Watch::new(mem, Victim::L2, 77);
                    watch.attacked = true;
                    let before = watch.before();
                    let r = case(&ctx, &mut ep);
                    check(
                        &format!("{name} (ffi {ffi}, initial {initial:#x})"),
                        want,
                        r,
                        &mut watch,
                        ep.record(),
                        before,
                    );
                    if watch.poisoned() {
                        l2_poisoned(&mut watch, &mut ep);
                    }
                }
            }
        }
    }

    fn l3_cases() -> Vec<Case<Q>> {
        vec![
            ("STOP on the output ring", BAD, |c, q| {
                c.output(c.seq(0), STOP, 0, 0);
                q.peek(None).map(drop)
            }),
            ("output seq off by one", BAD, |c, q| {
                c.output(c.seq(0) + 1, DATA, c.oa(), 8);
                q.peek(None).map(drop)
            }),
            ("output opcode INVALID", BAD, |c, q| {
                c.output(c.seq(0), 0, 0, 0);
                q.peek(None).map(drop)
            }),
            ("output zero-byte with nonzero offset", BAD, |c, q| {
                c.output(c.seq(0), DATA, c.oa(), 0);
                q.peek(None).map(drop)
            }),
            ("output payload in the input arena", BAD, |c, q| {
                c.output(c.seq(0), DATA, c.ia(), 8);
                q.peek(None).map(drop)
            }),
            ("output payload past the arena end", BAD, |c, q| {
                c.output(c.seq(0), DATA, c.oa() + 250, 8);
                q.peek(None).map(drop)
            }),
            ("output payload past the region", BAD, |c, q| {
                c.output(c.seq(0), DATA, c.l.payload_bytes, 1);
                q.peek(None).map(drop)
            }),
            ("output huge nbytes", BAD, |c, q| {
                c.output(c.seq(0), DATA, c.oa(), 1 << 63);
                q.peek(None).map(drop)
            }),
            ("output tail jumps by depth + 1", COUNTER, |c, q| {
                c.set(OUT_TAIL, 5);
                q.peek(None).map(drop)
            }),
            ("output tail moves backwards", COUNTER, |c, q| {
                c.output(c.seq(0), DATA, 0, 0);
                let m = q.peek(None).expect("a valid zero-byte output");
                q.release(&[m]).expect("release");
                c.set(OUT_TAIL, 0);
                q.peek(None).map(drop)
            }),
            ("input head passes the tail", COUNTER, |c, q| {
                q.send(Opcode::Data, &[1; 256], None)
                    .expect("fills the input arena");
                c.set(IN_HEAD, 2);
                q.send(Opcode::Data, &[1], None)
            }),
            ("input head moves backwards", COUNTER, |c, q| {
                q.send(Opcode::Data, &[1; 256], None)
                    .expect("fills the input arena");
                c.set(IN_HEAD, u64::MAX);
                q.send(Opcode::Data, &[1], None)
            }),
            ("input head jumps by depth + 1", COUNTER, |c, q| {
                q.send(Opcode::Data, &[1; 256], None)
                    .expect("fills the input arena");
                c.set(IN_HEAD, 5);
                q.send(Opcode::Data, &[1], None)
            }),
            ("released input slot moved", BAD, |c, q| {
                q.send_batch(Opcode::Data, &[vec![1; 128], vec![2; 128]])
                    .expect("fills the input arena");
                c.put(c.l.input_desc_offset, 0, c.seq(0), DATA, c.ia() + 64, 128);
                c.set(IN_HEAD, 1);
                q.send(Opcode::Data, &[1; 64], None)
            }),
            ("released input slot with another seq", BAD, |c, q| {
                q.send_batch(Opcode::Data, &[vec![1; 128], vec![2; 128]])
                    .expect("fills the input arena");
                c.put(c.l.input_desc_offset, 0, 0, DATA, c.ia(), 128);
                c.set(IN_HEAD, 1);
                q.send(Opcode::Data, &[1; 64], None)
            }),
            (
                "L2 abort flag, blocking peek",
                Returns(Err(Error::RemoteAborted)),
                |c, q| {
                    c.mem.store(L3L2Q_L2_ABORT_FLAG_OFFSET, 1);
                    q.peek(Some(1_000)).map(drop)
                },
            ),
            (
                "L2 abort flag, enqueue still works",
                Returns(Ok(())),
                |c, q| {
                    c.mem.store(L3L2Q_L2_ABORT_FLAG_OFFSET, 1);
                    q.send(Opcode::Data, &[1, 2, 3], None)
                },
            ),
        ]
    }

    fn l3_poisoned(watch: &mut Watch, q: &mut Q) {
        let fake = Message {
            seq: 1,
            opcode: DATA,
            payload_offset: 0,
            payload_nbytes: 0,
            data: core::ptr::null(),
        };
        let calls: [(&str, Call<Q>); 11] = [
            ("peek", |q, _| q.peek(None).map(drop)),
            ("blocking peek", |q, _| q.peek(Some(1_000)).map(drop)),
            ("empty peek batch", |q, _| q.peek_batch(&mut []).map(drop)),
            ("read_into", |q, m| q.read_into(m, &mut [0; 8]).map(drop)),
            ("release", |q, m| q.release(&[*m])),
            ("enqueue", |q, _| q.send(Opcode::Data, &[1], None)),
            ("empty enqueue batch", |q, _| {
                q.send_batch(Opcode::Data, &[]).map(drop)
            }),
            ("reserve", |q, _| q.reserve(1).map(drop)),
            ("commit", |q, _| q.publish(&FAKE, Opcode::Data, 0, false)),
            ("flush", |q, _| q.flush()),
            ("request_stop", |q, _| q.request_stop(None)),
        ];
        for (what, call) in calls {
            let before = watch.before();
            let r = call(q, &fake);
            watch.judge(what, &r, q.record(), before);
        }
        let before = watch.before();
        let r = q.dequeue(&mut [0; 8], Some(1_000)).map(drop);
        watch.judge("dequeue", &r, q.record(), before);
    }

    #[test]
    fn l3_rejects_each_targeted_forgery() {
        let guard = Guarded::new(4096);
        for (name, want, case) in l3_cases() {
            for initial in [0, (1 << 32) - 1] {
                for ffi in [false, true] {
                    let shape = shape(initial);
                    let mem = guard.place(
                        shape.layout.payload_bytes,
                        shape.payload_at_end,
                        shape.counters_at_end,
                    );
                    let mut q = Q::open(&mem, &shape, 78, ffi);
                    let ctx = Ctx {
                        mem,
                        l: shape.layout,
                        initial,
                    };
                    let mut watch = Watch::new(mem, Victim::L3, 78);
                    watch.attacked = true;
                    let before = watch.before();
                    let r = case(&ctx, &mut q);
                    check(
                        &format!("{name} (ffi {ffi}, initial {initial:#x})"),
                        want,
                        r,
                        &mut watch,
                        q.record(),
                        before,
                    );
                    if watch.poisoned() {
                        l3_poisoned(&mut watch, &mut q);
                    }
                }
            }
        }
    }
}
