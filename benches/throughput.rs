//! Criterion benches of l3l2q with its peers in the same groups
//! (`cargo bench -p l3l2q-benches --bench throughput`). L3 and L2 run on two threads pinned
//! to cores 0 and 1; every measurement moves `iters` messages, so
//! criterion's time per iteration is the time per message (per round trip
//! in the round-trip group).
//!
//! For one table of ratios measured in a single run, use
//! `cargo bench -p l3l2q-benches --bench ratios` (benches/ratios.rs).

mod common;

use std::time::Duration;

use common::shape::*;
use common::*;
use criterion::{Criterion, Throughput, criterion_group};

fn stream_64(c: &mut Criterion) {
    let ours = Ours::new(SMALL_DEPTH, SMALL_ARENA, 64, WINDOW);
    let mut g = c.benchmark_group("stream_64B");
    g.throughput(Throughput::Elements(1));
    g.bench_function("l3l2q", |b| b.iter_custom(|n| ours.stream(64, n)));
    g.bench_function("l3l2q_batch32", |b| {
        b.iter_custom(|n| ours.stream_batched(64, n, BATCH))
    });
    g.bench_function("l3l2q_consume32", |b| {
        b.iter_custom(|n| ours.stream_consumed(64, n, BATCH))
    });
    g.bench_function("rtrb_framed", |b| {
        b.iter_custom(|n| rtrb_framed(SMALL_ARENA as usize, 64, n))
    });
    g.bench_function("rtrb_framed_batch32", |b| {
        b.iter_custom(|n| rtrb_framed_batched(SMALL_ARENA as usize, 64, n, BATCH))
    });
    g.bench_function("rtrb_u64", |b| {
        b.iter_custom(|n| rtrb_u64(SMALL_DEPTH as usize, n))
    });
    g.bench_function("floor_wire", |b| {
        b.iter_custom(|n| floor_wire(SMALL_ARENA as usize, 64, n, 1))
    });
    g.bench_function("floor_wire_batch32", |b| {
        b.iter_custom(|n| floor_wire(SMALL_ARENA as usize, 64, n, BATCH as u64))
    });
    g.finish();
}

fn stream_4k(c: &mut Criterion) {
    let ours = Ours::new(PAGE_DEPTH, PAGE_ARENA, 64, WINDOW);
    let mut g = c.benchmark_group("stream_4KiB");
    g.throughput(Throughput::Bytes(4096));
    g.bench_function("l3l2q", |b| b.iter_custom(|n| ours.stream(4096, n)));
    g.bench_function("l3l2q_batch32", |b| {
        b.iter_custom(|n| ours.stream_batched(4096, n, BATCH))
    });
    g.bench_function("rtrb_framed", |b| {
        b.iter_custom(|n| rtrb_framed(PAGE_ARENA as usize, 4096, n))
    });
    g.finish();
}

fn round_trip_64(c: &mut Criterion) {
    let ours = Ours::new(SMALL_DEPTH, SMALL_ARENA, SMALL_ARENA, WINDOW);
    let mut g = c.benchmark_group("round_trip_64B");
    g.throughput(Throughput::Elements(1));
    g.bench_function("l3l2q", |b| b.iter_custom(|n| ours.round_trip(64, n)));
    g.bench_function("rtrb_two_queues", |b| {
        b.iter_custom(|n| rtrb_round_trip(SMALL_ARENA as usize, 64, n))
    });
    g.bench_function("floor_ping_pong_1_line", |b| b.iter_custom(floor_one_line));
    g.bench_function("floor_ping_pong_2_lines", |b| {
        b.iter_custom(floor_two_lines)
    });
    g.finish();
}

fn stream_1m(c: &mut Criterion) {
    let ours = Ours::new(BIG_SLOTS, BIG_SLOTS * BIG as u64, 64, BIG_SLOTS);
    let shared = Buffer::new(BIG_SLOTS as usize * BIG);
    let mut g = c.benchmark_group("stream_1MiB");
    g.throughput(Throughput::Bytes(BIG as u64));
    g.sample_size(10);
    g.bench_function("l3l2q", |b| b.iter_custom(|n| ours.stream(BIG, n)));
    g.bench_function("floor_copy_in_copy_out", |b| {
        b.iter_custom(|n| floor_copy(&shared, BIG_SLOTS as usize, BIG, n, true))
    });
    g.bench_function("floor_copy_in_read_in_place", |b| {
        b.iter_custom(|n| floor_copy(&shared, BIG_SLOTS as usize, BIG, n, false))
    });
    g.finish();
}

fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = stream_64, stream_4k, round_trip_64, stream_1m
}
fn main() {
    // As benches/ratios.rs: real-time scheduling when allowed, so the pinned
    // threads are not time-sliced with other work on a 2-core machine.
    realtime();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
