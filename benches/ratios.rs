//! One table of ratios, l3l2q against its peers and the hardware floor,
//! all measured in this one process:
//!
//! ```text
//! cargo bench --bench ratios            # 15 rounds of 100 ms, under a minute
//! cargo bench --bench ratios -- --quick # 5 rounds of 50 ms, a quick look
//! ```
//!
//! Every contender moves a fixed number of messages (calibrated once so a
//! run takes about 100 ms) on two threads pinned to cores 0 and 1, under
//! SCHED_FIFO when the process may use it (see [`common::realtime`]). The
//! contenders run one after another in each round (the order rotates from
//! round to round), so the two sides of a ratio see the same machine
//! state; the table gives the median of the per-round ratios and their
//! range across rounds.
//!
//! The `C API` contenders run the same workloads through `libl3l2q.so`
//! from a C program the bench compiles against the library of its own
//! build (see [`common::capi`]), in the same rounds.
//!
//! Environment: `L3L2Q_BENCH_ROUNDS=n` sets the rounds,
//! `L3L2Q_BENCH_ONLY=a,b` keeps the contenders whose names contain `a` or
//! `b`, `L3L2Q_BENCH_NO_RT=1` keeps normal scheduling, `L3L2Q_BENCH_RAW=1`
//! prints every contender's per-round times to stderr.

mod common;

use std::time::Duration;

use common::capi::{CApi, Workload};
use common::shape::*;
use common::*;

/// What is measured, and how one run of `n` is done.
struct Contender {
    name: &'static str,
    /// Payload bytes per message (for GB/s).
    bytes: u64,
    run: Box<dyn Fn(u64) -> Duration>,
    /// Messages per run, after calibration.
    n: u64,
    /// Seconds per message of each round.
    per_message: Vec<f64>,
}

#[derive(Clone, Copy)]
enum Better {
    /// Ratio of rates: ours / peer (messages or bytes per second).
    Higher,
    /// Ratio of round-trip times: ours / peer.
    Lower,
}

struct Comparison {
    what: &'static str,
    ours: &'static str,
    peer: &'static str,
    better: Better,
    /// The target, if any.
    target: Option<f64>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The 1-minute load average, to show whether other work shared the machine.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds: usize = std::env::var("L3L2Q_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 5 } else { 15 });
    let run_ms: f64 = if quick { 50.0 } else { 100.0 };
    let load_before = loadavg();
    let realtime_granted = realtime();

    let small = Ours::new(SMALL_DEPTH, SMALL_ARENA, 64, WINDOW);
    let page = Ours::new(PAGE_DEPTH, PAGE_ARENA, 64, WINDOW);
    let rt = Ours::new(SMALL_DEPTH, SMALL_ARENA, SMALL_ARENA, WINDOW);
    let big = Ours::new(BIG_SLOTS, BIG_SLOTS * BIG as u64, 64, BIG_SLOTS);
    let big_floor = Buffer::new(BIG_SLOTS as usize * BIG);
    let (small, page, rt, big, big_floor) = (
        Box::leak(Box::new(small)) as &Ours,
        Box::leak(Box::new(page)) as &Ours,
        Box::leak(Box::new(rt)) as &Ours,
        Box::leak(Box::new(big)) as &Ours,
        Box::leak(Box::new(big_floor)) as &Buffer,
    );

    // After `realtime()`: the C program inherits the scheduling policy.
    let c_api: &'static CApi = Box::leak(Box::new(CApi::start()));

    let mut contenders: Vec<Contender> = Vec::new();
    let mut add = |name, bytes, run: Box<dyn Fn(u64) -> Duration>| {
        contenders.push(Contender {
            name,
            bytes,
            run,
            n: 0,
            per_message: Vec::new(),
        })
    };
    add("ours 64 B", 64, Box::new(move |n| small.stream(64, n)));
    add(
        "ours 64 B batch",
        64,
        Box::new(move |n| small.stream_batched(64, n, BATCH)),
    );
    add(
        "ours 64 B consume",
        64,
        Box::new(move |n| small.stream_consumed(64, n, BATCH)),
    );
    add(
        "C API 64 B",
        64,
        Box::new(move |n| c_api.run(Workload::Single, 64, n)),
    );
    add(
        "C API 64 B batch",
        64,
        Box::new(move |n| c_api.run(Workload::Batch, 64, n)),
    );
    add(
        "C API 64 B consume",
        64,
        Box::new(move |n| c_api.run(Workload::Consume, 64, n)),
    );
    add(
        "rtrb framed 64 B",
        64,
        Box::new(|n| rtrb_framed(SMALL_ARENA as usize, 64, n)),
    );
    add(
        "rtrb framed 64 B batch",
        64,
        Box::new(|n| rtrb_framed_batched(SMALL_ARENA as usize, 64, n, BATCH)),
    );
    add(
        "rtrb u64",
        8,
        Box::new(|n| rtrb_u64(SMALL_DEPTH as usize, n)),
    );
    add(
        "floor wire 64 B",
        64,
        Box::new(|n| floor_wire(SMALL_ARENA as usize, 64, n, 1)),
    );
    add(
        "floor wire 64 B +16 stores",
        64,
        Box::new(|n| floor_wire_with_stores(SMALL_ARENA as usize, 64, n, 1, 16)),
    );
    add(
        "floor wire 64 B batch",
        64,
        Box::new(|n| floor_wire(SMALL_ARENA as usize, 64, n, BATCH as u64)),
    );
    add("ours 4 KiB", 4096, Box::new(move |n| page.stream(4096, n)));
    add(
        "ours 4 KiB batch",
        4096,
        Box::new(move |n| page.stream_batched(4096, n, BATCH)),
    );
    add(
        "C API 4 KiB",
        4096,
        Box::new(move |n| c_api.run(Workload::Single, 4096, n)),
    );
    add(
        "rtrb framed 4 KiB",
        4096,
        Box::new(|n| rtrb_framed(PAGE_ARENA as usize, 4096, n)),
    );
    add(
        "ours round trip 64 B",
        64,
        Box::new(move |n| rt.round_trip(64, n)),
    );
    add(
        "C API round trip 64 B",
        64,
        Box::new(move |n| c_api.run(Workload::RoundTrip, 64, n)),
    );
    add(
        "rtrb round trip 64 B",
        64,
        Box::new(|n| rtrb_round_trip(SMALL_ARENA as usize, 64, n)),
    );
    add("floor ping-pong 1 line", 0, Box::new(floor_one_line));
    add("floor ping-pong 2 lines", 0, Box::new(floor_two_lines));
    add(
        "ours 1 MiB",
        BIG as u64,
        Box::new(move |n| big.stream(BIG, n)),
    );
    add(
        "floor copy-in/copy-out 1 MiB",
        BIG as u64,
        Box::new(move |n| floor_copy(big_floor, BIG_SLOTS as usize, BIG, n, true)),
    );
    add(
        "floor copy-in/read-in-place 1 MiB",
        BIG as u64,
        Box::new(move |n| floor_copy(big_floor, BIG_SLOTS as usize, BIG, n, false)),
    );

    // Targets of issue 19 (and the single-stream, round-trip, 4 KiB and
    // 1 MiB targets of issue 6, kept). A C API row divides the C program's
    // time per message by the Rust API's, so lower is better.
    let comparisons = [
        Comparison {
            what: "64 B stream, msg/s",
            ours: "ours 64 B",
            peer: "rtrb framed 64 B",
            better: Better::Higher,
            target: Some(1.2),
        },
        Comparison {
            what: "64 B stream vs the wire-format floor, msg/s",
            ours: "ours 64 B",
            peer: "floor wire 64 B",
            better: Better::Higher,
            target: Some(0.85),
        },
        Comparison {
            what: "64 B batched (32), msg/s",
            ours: "ours 64 B batch",
            peer: "rtrb framed 64 B batch",
            better: Better::Higher,
            target: Some(1.0),
        },
        Comparison {
            what: "64 B batched (32) vs the wire-format floor batched, msg/s",
            ours: "ours 64 B batch",
            peer: "floor wire 64 B batch",
            better: Better::Higher,
            target: Some(0.95),
        },
        Comparison {
            what: "64 B batched, consume (32), msg/s",
            ours: "ours 64 B consume",
            peer: "rtrb framed 64 B batch",
            better: Better::Higher,
            target: Some(1.0),
        },
        Comparison {
            what: "64 B consume (32) vs the wire-format floor batched, msg/s",
            ours: "ours 64 B consume",
            peer: "floor wire 64 B batch",
            better: Better::Higher,
            target: Some(0.95),
        },
        Comparison {
            what: "C API vs Rust API, 64 B stream, time per message",
            ours: "C API 64 B",
            peer: "ours 64 B",
            better: Better::Lower,
            target: Some(1.15),
        },
        Comparison {
            what: "C API vs Rust API, 64 B batched (32), time per message",
            ours: "C API 64 B batch",
            peer: "ours 64 B batch",
            better: Better::Lower,
            target: Some(1.15),
        },
        Comparison {
            what: "C API vs Rust API, 64 B consume (32), time per message",
            ours: "C API 64 B consume",
            peer: "ours 64 B consume",
            better: Better::Lower,
            target: Some(1.15),
        },
        Comparison {
            what: "C API vs Rust API, 64 B round trip, time",
            ours: "C API round trip 64 B",
            peer: "ours round trip 64 B",
            better: Better::Lower,
            target: Some(1.15),
        },
        Comparison {
            what: "C API vs Rust API, 4 KiB stream, time per message (info)",
            ours: "C API 4 KiB",
            peer: "ours 4 KiB",
            better: Better::Lower,
            target: None,
        },
        Comparison {
            what: "wire floor, 16 more private stores per message vs none, msg/s (info)",
            ours: "floor wire 64 B +16 stores",
            peer: "floor wire 64 B",
            better: Better::Higher,
            target: None,
        },
        Comparison {
            what: "64 B stream vs one u64 per push, msg/s (info)",
            ours: "ours 64 B",
            peer: "rtrb u64",
            better: Better::Higher,
            target: None,
        },
        Comparison {
            what: "4 KiB stream, GB/s",
            ours: "ours 4 KiB",
            peer: "rtrb framed 4 KiB",
            better: Better::Higher,
            target: Some(1.0),
        },
        Comparison {
            what: "4 KiB stream batched, GB/s (info)",
            ours: "ours 4 KiB batch",
            peer: "rtrb framed 4 KiB",
            better: Better::Higher,
            target: None,
        },
        Comparison {
            what: "64 B round trip, time",
            ours: "ours round trip 64 B",
            peer: "rtrb round trip 64 B",
            better: Better::Lower,
            target: Some(1.0),
        },
        Comparison {
            what: "64 B round trip vs 2-line ping-pong, time",
            ours: "ours round trip 64 B",
            peer: "floor ping-pong 2 lines",
            better: Better::Lower,
            target: Some(2.0),
        },
        Comparison {
            what: "64 B round trip vs 1-line ping-pong, time (info)",
            ours: "ours round trip 64 B",
            peer: "floor ping-pong 1 line",
            better: Better::Lower,
            target: None,
        },
        Comparison {
            what: "rtrb round trip vs 2-line ping-pong, time (info)",
            ours: "rtrb round trip 64 B",
            peer: "floor ping-pong 2 lines",
            better: Better::Lower,
            target: None,
        },
        Comparison {
            what: "1 MiB stream, GB/s",
            ours: "ours 1 MiB",
            peer: "floor copy-in/copy-out 1 MiB",
            better: Better::Higher,
            target: Some(0.85),
        },
        Comparison {
            what: "1 MiB stream vs copy-in/read-in-place, GB/s (info)",
            ours: "ours 1 MiB",
            peer: "floor copy-in/read-in-place 1 MiB",
            better: Better::Higher,
            target: None,
        },
    ];

    // L3L2Q_BENCH_ONLY=a,b keeps only the contenders whose names contain one of the comma-separated parts.
    if let Ok(only) = std::env::var("L3L2Q_BENCH_ONLY") {
        contenders.retain(|c| only.split(',').any(|part| c.name.contains(part)));
    }

    // Calibrate: one short run each (also the warm-up), then size the runs.
    for c in contenders.iter_mut() {
        eprintln!("calibrating {}", c.name);
        let probe = if c.bytes >= BIG as u64 { 64 } else { 20_000 };
        (c.run)(probe);
        let t = (c.run)(probe).as_secs_f64();
        c.n = ((probe as f64) * run_ms / 1000.0 / t).max(16.0) as u64;
    }

    let started = std::time::Instant::now();
    let count = contenders.len();
    for round in 0..rounds {
        for k in 0..count {
            let c = &mut contenders[(k + round) % count];
            let t = (c.run)(c.n);
            c.per_message.push(t.as_secs_f64() / c.n as f64);
        }
        eprintln!(
            "round {}/{} done ({:.0} s)",
            round + 1,
            rounds,
            started.elapsed().as_secs_f64()
        );
    }

    if std::env::var_os("L3L2Q_BENCH_RAW").is_some() {
        for c in &contenders {
            eprintln!(
                "{}: n={} per-message ns {:?}",
                c.name,
                c.n,
                c.per_message
                    .iter()
                    .map(|t| (t * 1e10).round() / 10.0)
                    .collect::<Vec<_>>()
            );
        }
    }
    let find = |name: &str| contenders.iter().find(|c| c.name == name);
    println!(
        "l3l2q ratio table: {} rounds of ~{} ms per contender, two threads pinned to CPUs 0 and 1, {}",
        rounds,
        run_ms,
        if realtime_granted {
            "SCHED_FIFO"
        } else {
            "normal scheduling (SCHED_FIFO not granted)"
        }
    );
    println!(
        "machine: {} CPUs, {}; load average {} before, {} after",
        cpus_online(),
        cpu_model(),
        load_before,
        loadavg()
    );
    println!(
        "C API contenders: benches/c/capi_bench.c linked against {}",
        c_api.library.display()
    );
    println!();
    println!("| comparison | ours / peer (median of rounds) | range over rounds | target | met |");
    println!("|---|---|---|---|---|");
    for cmp in &comparisons {
        let (Some(ours), Some(peer)) = (find(cmp.ours), find(cmp.peer)) else {
            continue;
        };
        // Per-round ratio: rates for Higher (peer time / our time), times for Lower.
        let mut ratios: Vec<f64> = ours
            .per_message
            .iter()
            .zip(&peer.per_message)
            .map(|(o, p)| match cmp.better {
                Better::Higher => p / o,
                Better::Lower => o / p,
            })
            .collect();
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let med = median(&mut ratios);
        let (target, met) = match (cmp.target, cmp.better) {
            (Some(t), Better::Higher) => {
                (format!(">= {t:.2}x"), if med >= t { "yes" } else { "NO" })
            }
            (Some(t), Better::Lower) => {
                (format!("<= {t:.2}x"), if med <= t { "yes" } else { "NO" })
            }
            (None, _) => ("-".to_string(), "-"),
        };
        println!(
            "| {}: {} / {} | {:.2}x | {:.2}-{:.2} | {} | {} |",
            cmp.what, cmp.ours, cmp.peer, med, lo, hi, target, met
        );
    }
    println!();
    println!(
        "Context (medians; absolute numbers depend on the machine, the ratios are the result):"
    );
    println!();
    println!("| contender | per message | messages/s | GB/s |");
    println!("|---|---|---|---|");
    for c in &contenders {
        let mut v = c.per_message.clone();
        let t = median(&mut v);
        let gbs = if c.bytes > 0 {
            format!("{:.2}", c.bytes as f64 / t / 1e9)
        } else {
            "-".into()
        };
        println!(
            "| {} | {:.1} ns | {:.2} M | {} |",
            c.name,
            t * 1e9,
            1e-6 / t,
            gbs
        );
    }
}
