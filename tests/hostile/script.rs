//! The fuzz target's reading of its input: the bytes are the adversary's
//! script. The first byte picks the victim (L2 endpoint or L3 queue), the
//! next ones the queue shape and the episode plan, and every later choice
//! (the honest steps, each strike and its targeted values, each victim
//! call) consumes more bytes, until the input runs dry.
//!
//! Shared by fuzz/fuzz_targets/hostile_peer.rs and by tests/hostile/main.rs,
//! which runs it on generated inputs so the script path is tested without
//! libFuzzer.

use crate::adversary::{ByteSource, Source, pick};
use crate::guarded::Guarded;
use crate::harness::{Plan, Shape, Stats};

/// Runs one adversary script on `guard`; panics on any broken invariant.
pub fn run(data: &[u8], guard: &Guarded) -> Stats {
    let mut s = ByteSource::new(data);
    let l3 = s.bits(8) & 1 == 1;
    let shape = Shape::random(&mut s);
    let plan = Plan {
        honest: s.below(48),
        drain: s.chance(20),
        adversarial: u64::MAX, // until the input runs dry
        strike_percent: pick(&mut s, &[5, 20, 50, 100]),
        ffi: s.chance(25),
        after_poison: 8,
        concurrent: false,
    };
    let mut stats = Stats::default();
    if l3 {
        crate::hostile_l3::episode(&mut s, guard, plan, shape, &mut stats);
    } else {
        crate::hostile_l2::episode(&mut s, guard, plan, shape, &mut stats);
    }
    stats
}
