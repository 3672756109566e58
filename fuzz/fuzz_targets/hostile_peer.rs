//! libFuzzer target: the input bytes are a hostile peer's script against an
//! L2 endpoint or an L3 queue (tests/hostile/script.rs), on memory fenced
//! by PROT_NONE guard pages. The engine is the one tests/hostile/main.rs runs
//! with a seeded PRNG; here the fuzzer chooses. Any panic, failed check or
//! fault is a crash. See fuzz/README.md.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/hostile/adversary.rs"]
mod adversary;
#[path = "../../tests/hostile/guarded.rs"]
mod guarded;
#[allow(
    dead_code,
    reason = "Plan::random and the Stats totals serve the seeded test"
)]
#[path = "../../tests/hostile/harness.rs"]
mod harness;
#[path = "../../tests/hostile/hostile_l2.rs"]
mod hostile_l2;
#[path = "../../tests/hostile/hostile_l3.rs"]
mod hostile_l3;
#[path = "../../tests/hostile/l2_api.rs"]
mod l2_api;
#[path = "../../tests/hostile/l3_api.rs"]
mod l3_api;
#[path = "../../tests/hostile/script.rs"]
mod script;

thread_local! {
    static GUARD: guarded::Guarded = guarded::Guarded::new(4096);
}

fuzz_target!(|data: &[u8]| {
    GUARD.with(|guard| {
        script::run(data, guard);
    });
});
