//! Pieces shared by the L2 and L3 hostile-peer harnesses: episode plans and
//! queue shapes, statistics, the panic guard around every library call, C
//! status decoding, payload patterns, and the poison watch that checks the
//! invariants of SPEC section 9 after every call.

use std::panic::{AssertUnwindSafe, catch_unwind};

use l3l2q::abi::*;
use l3l2q::{Error, ErrorInfo, ErrorKind, Opcode, Status};

use crate::adversary::{Source, Victim, pick};
use crate::guarded::Mem;

/// Short names for the opcodes the engine writes and expects.
pub const DATA: u64 = L3L2Q_OPCODE_DATA;
/// The last input.
pub const STOP: u64 = L3L2Q_OPCODE_STOP;
/// An error report.
pub const ERROR: u64 = L3L2Q_OPCODE_ERROR;

/// What one episode does: honest steps first, then adversarial ones.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Steps with an honest peer and no adversary.
    pub honest: u64,
    /// End the honest phase with STOP and a full drain.
    pub drain: bool,
    /// Steps with the adversary active.
    pub adversarial: u64,
    /// Chance per adversarial step that the adversary strikes.
    pub strike_percent: u64,
    /// Drive the victim through the C API instead of the Rust one.
    pub ffi: bool,
    /// Steps still taken once the victim is poisoned (fast-fail checks).
    pub after_poison: u64,
    /// The adversary strikes from another thread, during the victim's
    /// calls, instead of between steps. Checks that compare values the
    /// adversary may change meanwhile are skipped; not reproducible.
    pub concurrent: bool,
}

impl Plan {
    /// A plan for the seeded test: `ffi_percent` of episodes use the C API.
    pub fn random<S: Source + ?Sized>(s: &mut S, ffi_percent: u64) -> Plan {
        Plan {
            honest: s.range(0, 120),
            drain: s.chance(25),
            adversarial: s.range(100, 900),
            strike_percent: pick(s, &[1, 3, 10, 30, 100]),
            ffi: s.chance(ffi_percent),
            after_poison: s.range(4, 24),
            concurrent: false,
        }
    }
}

/// The queue an episode runs on, and where it sits in guarded memory.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// The layout.
    pub layout: Layout,
    /// L2 input window.
    pub window: u64,
    /// Ring counters' starting value (crosses 2^31 and 2^32 sometimes).
    pub initial: u64,
    /// Payload range flush against the guard page after it.
    pub payload_at_end: bool,
    /// Counter range flush against the guard page after it.
    pub counters_at_end: bool,
}

impl Shape {
    /// A small random shape.
    pub fn random<S: Source + ?Sized>(s: &mut S) -> Shape {
        let depth = 1 << s.below(5);
        let input = 64 * s.range(1, 16);
        let output = 64 * s.range(1, 16);
        let layout = Layout::compute(depth, input, output).expect("valid layout");
        let initial = match s.below(5) {
            0 | 1 => 0,
            2 => (1 << 31) - s.range(0, 40),
            3 => (1 << 32) - s.range(0, 40),
            _ => s.bits(40),
        };
        Shape {
            layout,
            window: s.range(1, depth),
            initial,
            payload_at_end: s.chance(50),
            counters_at_end: s.chance(50),
        }
    }
}

/// Totals over a run.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Episodes run.
    pub episodes: u64,
    /// Steps without an adversary.
    pub honest_steps: u64,
    /// Steps with the adversary active (including the fast-fail checks
    /// after poison).
    pub adversarial_steps: u64,
    /// Adversarial steps taken while the victim was still healthy.
    pub healthy_adversarial_steps: u64,
    /// Steps driven through the C API.
    pub ffi_steps: u64,
    /// Adversary rewrites.
    pub strikes: u64,
    /// Adversarial steps with the adversary in another thread.
    pub concurrent_steps: u64,
    /// Calls that succeeded while under attack (the victim kept working).
    pub ok_under_attack: u64,
    /// Episodes that ended poisoned, by error kind (index = wire number;
    /// REMOTE_ABORTED counts the episodes that ended remotely aborted).
    pub poisoned_by_kind: [u64; 8],
    /// Of the INVALID_DESCRIPTOR episodes, those poisoned by an impossible
    /// counter observation (SPEC 9) rather than a bad slot.
    pub counter_breaches: u64,
    /// Blocking calls that timed out with the peer's abort flag set.
    pub remote_aborted: u64,
    /// Messages whose payload was checked byte for byte in honest phases.
    pub verified_messages: u64,
}

impl Stats {
    /// Adds another run's totals.
    pub fn add(&mut self, o: &Stats) {
        self.episodes += o.episodes;
        self.honest_steps += o.honest_steps;
        self.adversarial_steps += o.adversarial_steps;
        self.healthy_adversarial_steps += o.healthy_adversarial_steps;
        self.ffi_steps += o.ffi_steps;
        self.strikes += o.strikes;
        self.concurrent_steps += o.concurrent_steps;
        self.ok_under_attack += o.ok_under_attack;
        for (a, b) in self.poisoned_by_kind.iter_mut().zip(o.poisoned_by_kind) {
            *a += b;
        }
        self.remote_aborted += o.remote_aborted;
        self.counter_breaches += o.counter_breaches;
        self.verified_messages += o.verified_messages;
    }

    /// Episodes that ended poisoned (remote aborts not counted).
    pub fn poisoned(&self) -> u64 {
        let remote = self.poisoned_by_kind[ErrorKind::RemoteAborted as usize];
        self.poisoned_by_kind.iter().sum::<u64>() - remote
    }
}

/// Runs one library call, failing the test if it panics (SPEC section 10:
/// no value read from shared memory may cause a panic).
pub fn lib<T>(what: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => panic!("the library panicked in {what}"),
    }
}

/// The opcode a wire code names, for the Rust API (which takes no other):
/// the test kit passes codes so the same call reaches the C API too.
pub fn named(code: u64) -> Opcode {
    Opcode::try_from(code).unwrap_or_else(|code| panic!("opcode {code} has no Rust name"))
}

/// The Rust error a C status stands for; `kind` is asked for only on
/// POISONED. A PANIC status, or one no queue call returns, fails the test.
pub fn from_status(
    what: &str,
    status: Status,
    kind: impl FnOnce() -> ErrorKind,
) -> Result<(), Error> {
    Err(match status {
        Status::Ok => return Ok(()),
        Status::NoProgress => Error::NoProgress,
        Status::Timeout => Error::Timeout,
        Status::Stopped => Error::Stopped,
        Status::BadArgument => Error::BadArgument,
        Status::BufferTooSmall => Error::BufferTooSmall,
        Status::CallbackFailed => Error::CallbackFailed,
        Status::Poisoned => Error::Poisoned(kind()),
        Status::RemoteAborted => Error::RemoteAborted,
        Status::Panic => panic!("{what}: a panic reached the C boundary (STATUS_PANIC)"),
        other => panic!("{what}: unexpected status {other:?}"),
    })
}

/// Fills `buf` with the pattern of message `tag`.
pub fn fill(buf: &mut [u8], tag: u64) {
    let t = tag.to_le_bytes();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = if i < 8 {
            t[i]
        } else {
            (tag as u8).wrapping_add((i as u8).wrapping_mul(7))
        };
    }
}

/// A payload of `len` bytes carrying `tag`.
pub fn pattern(tag: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    fill(&mut v, tag);
    v
}

/// Whether `bytes` is the pattern of `tag`.
pub fn is_pattern(bytes: &[u8], tag: u64) -> bool {
    let t = tag.to_le_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b == if i < 8 {
            t[i]
        } else {
            (tag as u8).wrapping_add((i as u8).wrapping_mul(7))
        }
    })
}

fn same_record(a: &ErrorInfo, b: &ErrorInfo) -> bool {
    a.kind == b.kind
        && a.operation == b.operation
        && a.region_id == b.region_id
        && a.message == b.message
}

/// Checks the poison rules after every victim call: a healthy victim's
/// own abort flag is 0 and it has no record; poison sets the flag to 1 and
/// records the kind returned; a remote abort (REMOTE_ABORTED) is recorded
/// with the flag left at 0; a poisoned or remotely aborted victim answers
/// every call with its terminal error, keeps its first record and writes
/// nothing shared.
#[derive(Debug)]
pub struct Watch {
    /// Memory the victim works on.
    pub mem: Mem,
    /// Which end it is.
    pub victim: Victim,
    /// The first record, once poisoned or remotely aborted.
    pub record: Option<ErrorInfo>,
    /// Whether the adversary is active (an honest phase must never poison).
    pub attacked: bool,
    /// Region id the records must carry.
    pub region_id: u64,
    /// Whether the last judged call is the one that made the victim
    /// terminal (later calls only repeat its error).
    pub just_terminated: bool,
}

impl Watch {
    /// A watch over a healthy victim.
    pub fn new(mem: Mem, victim: Victim, region_id: u64) -> Watch {
        Watch {
            mem,
            victim,
            record: None,
            attacked: false,
            region_id,
            just_terminated: false,
        }
    }

    /// The victim's own counters before a call.
    pub fn before(&self) -> [u32; 2] {
        self.victim.own_counters().map(|c| self.mem.load(c))
    }

    /// Whether the victim is terminal: poisoned or remotely aborted.
    pub fn poisoned(&self) -> bool {
        self.record.is_some()
    }

    /// Judges one call's result. `record` is the victim's error record
    /// after the call; `before` its own counters before it.
    pub fn judge<T>(
        &mut self,
        what: &str,
        result: &Result<T, Error>,
        record: Option<ErrorInfo>,
        before: [u32; 2],
    ) {
        let flag = self.mem.load(self.victim.own_flag());
        self.just_terminated = false;
        if let Some(first) = &self.record {
            let kind = first.kind();
            let remote = kind == ErrorKind::RemoteAborted;
            assert!(
                match result {
                    Err(Error::RemoteAborted) => remote,
                    Err(Error::Poisoned(k)) => !remote && *k == kind,
                    _ => false,
                },
                "{what} on a victim terminated with {kind:?} returned {:?}",
                result.as_ref().err()
            );
            let now =
                record.unwrap_or_else(|| panic!("{what}: a poisoned victim lost its error record"));
            assert!(
                same_record(first, &now),
                "{what}: poison record changed from {first:?} to {now:?}"
            );
            assert_eq!(
                flag,
                u32::from(!remote),
                "{what}: own abort flag of a victim terminated with {kind:?} is {flag}"
            );
            assert_eq!(
                self.before(),
                before,
                "{what}: a poisoned victim wrote its counters"
            );
            return;
        }
        match result {
            Err(Error::Poisoned(kind)) => {
                let info = record
                    .unwrap_or_else(|| panic!("{what}: POISONED({kind:?}) but no error record"));
                assert_eq!(
                    info.kind(),
                    *kind,
                    "{what}: returned kind differs from the record {info:?}"
                );
                assert_ne!(*kind, ErrorKind::None);
                assert_ne!(*kind, ErrorKind::RemoteAborted);
                assert_eq!(
                    info.region_id, self.region_id,
                    "{what}: record carries the wrong region id"
                );
                assert_eq!(
                    flag, 1,
                    "{what}: entering poison did not set the own abort flag"
                );
                assert!(
                    self.attacked,
                    "{what}: poisoned by an honest peer: {info:?}"
                );
                self.record = Some(info);
                self.just_terminated = true;
            }
            Err(Error::RemoteAborted) => {
                // SPEC 9: recorded with the operation and region, terminal, own flag untouched.
                let info =
                    record.unwrap_or_else(|| panic!("{what}: REMOTE_ABORTED but no error record"));
                assert_eq!(info.kind(), ErrorKind::RemoteAborted, "{what}: {info:?}");
                assert_eq!(
                    info.operation,
                    l3l2q::Operation::Timeout as u32,
                    "{what}: {info:?}"
                );
                assert_eq!(
                    info.region_id, self.region_id,
                    "{what}: record carries the wrong region id"
                );
                assert_eq!(flag, 0, "{what}: a remote abort set the own abort flag");
                self.record = Some(info);
                self.just_terminated = true;
            }
            _ => {
                assert!(
                    record.is_none(),
                    "{what}: a healthy victim has an error record {record:?}"
                );
                assert_eq!(flag, 0, "{what}: own abort flag set without poison");
            }
        }
    }
}

/// What the shared adversarial phase needs of one side's episode: its
/// script, plan, counters and watch, and its two kinds of step.
pub trait Episode {
    /// The script the episode draws from.
    type Script: crate::adversary::Source;

    /// The episode's script, plan, statistics, watch and adversary.
    fn parts(
        &mut self,
    ) -> (
        &mut Self::Script,
        &Plan,
        &mut Stats,
        &Watch,
        crate::adversary::Adversary,
    );

    /// One call on the victim, with every invariant checked after it.
    fn step(&mut self);

    /// One call by the honest peer.
    fn peer_step(&mut self);
}

/// The honest phase of an episode: the peer and the victim take turns for
/// the plan's number of steps, or until the script runs out.
pub fn honest_phase<E: Episode>(episode: &mut E) {
    use crate::adversary::Source;
    let rounds = episode.parts().1.honest;
    for _ in 0..rounds {
        if episode.parts().0.done() {
            break;
        }
        episode.peer_step();
        episode.step();
        episode.parts().2.honest_steps += 1;
    }
}

/// The adversarial phase of an episode, with the adversary striking
/// between steps or, for concurrent plans, from a second thread; then the
/// poison kind, if any, is counted.
pub fn attack_phase<E: Episode>(episode: &mut E) {
    let (s, plan, _, _, adversary) = episode.parts();
    if plan.concurrent {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let seed = s.word();
        std::thread::scope(|scope| {
            let striker =
                scope.spawn(|| crate::adversary::strike_concurrently(adversary, seed, &stop));
            attack(episode);
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            episode.parts().2.strikes += striker.join().expect("the adversary thread");
        });
    } else {
        attack(episode);
    }
    let (_, _, stats, watch, _) = episode.parts();
    if let Some(info) = &watch.record {
        stats.poisoned_by_kind[info.kind as usize] += 1;
        if info.kind() == ErrorKind::InvalidDescriptor && info.message().contains("counter") {
            stats.counter_breaches += 1;
        }
    }
}

/// Steps under attack until the plan's budget, the script, or the
/// after-poison allowance runs out.
fn attack<E: Episode>(episode: &mut E) {
    use crate::adversary::Source;
    let mut after = 0;
    let rounds = episode.parts().1.adversarial;
    for _ in 0..rounds {
        let (s, plan, stats, _, adversary) = episode.parts();
        if s.done() || after > plan.after_poison {
            break;
        }
        if !plan.concurrent && s.chance(plan.strike_percent) {
            adversary.strike(s);
            stats.strikes += 1;
        }
        if s.chance(40) {
            episode.peer_step();
        }
        let healthy = !episode.parts().3.poisoned();
        episode.step();
        let (_, plan, stats, watch, _) = episode.parts();
        stats.adversarial_steps += 1;
        stats.healthy_adversarial_steps += healthy as u64;
        stats.concurrent_steps += plan.concurrent as u64;
        after += watch.poisoned() as u64;
    }
}
