//! libFuzzer target: the input bytes are a hostile peer's script against an
//! L2 endpoint or an L3 queue (tests/support/script.rs), on memory fenced
//! by PROT_NONE guard pages. The engine is the one tests/hostile.rs runs
//! with a seeded PRNG; here the fuzzer chooses. Any panic, failed check or
//! fault is a crash. See fuzz/README.md.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/adversary.rs"]
mod adversary;
#[path = "../../tests/support/guarded.rs"]
mod guarded;
#[path = "../../tests/support/harness.rs"]
mod harness;
#[path = "../../tests/support/hostile_l2.rs"]
mod hostile_l2;
#[path = "../../tests/support/hostile_l3.rs"]
mod hostile_l3;
#[path = "../../tests/support/l2_api.rs"]
mod l2_api;
#[path = "../../tests/support/l3_api.rs"]
mod l3_api;
#[path = "../../tests/support/script.rs"]
mod script;

thread_local! {
    static GUARD: guarded::Guarded = guarded::Guarded::new(4096);
}

fuzz_target!(|data: &[u8]| {
    GUARD.with(|guard| {
        script::run(data, guard);
    });
});
