//! Looks inside a live shared-memory queue without touching it: the six
//! counters, the descriptors pending in each direction, arena occupancy
//! and both abort flags. For the moment an L2 task seems stuck.
//!
//! ```text
//! cargo run --example inspect -- <shm-name> [--slots N] [--repeat N] [--interval-ms MS]
//! cargo run --example inspect -- --list
//! ```
//!
//! The object is opened `O_RDONLY` and mapped `PROT_READ`
//! (`ShmReadOnly`), so the tool cannot write to it: a write would fault.
//! Everything read is treated as hostile: the header is validated before
//! use, counters are compared against the depth before any slot is
//! decoded, each slot is checked against its arena, and all arithmetic is
//! wrapping or checked. Output is a snapshot: the peers keep running while
//! it is taken, so values from different lines may be microseconds apart.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use l3l2q::region::shm::ShmReadOnly;
use l3l2q::{
    DescriptorSlot, Layout, abi::L3L2Q_INPUT_DESC_HEAD_OFFSET, abi::L3L2Q_INPUT_DESC_TAIL_OFFSET,
    abi::L3L2Q_L2_ABORT_FLAG_OFFSET, abi::L3L2Q_L3_ABORT_FLAG_OFFSET, abi::L3L2Q_OPCODE_DATA,
    abi::L3L2Q_OPCODE_ERROR, abi::L3L2Q_OPCODE_INVALID, abi::L3L2Q_OPCODE_STOP,
    abi::L3L2Q_OUTPUT_DESC_HEAD_OFFSET, abi::L3L2Q_OUTPUT_DESC_TAIL_OFFSET, abi::L3L2Q_SLOT_BYTES,
};

const USAGE: &str =
    "usage: inspect <shm-name> [--slots N] [--repeat N] [--interval-ms MS]\n       inspect --list";

/// Most slots scanned per direction for the occupancy figures.
const SCAN_LIMIT: u64 = 1 << 20;

/// Parsed command line.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Object name, e.g. `/l3l2q-demo-...`.
    pub name: String,
    /// Pending descriptors printed per direction.
    pub slots: u64,
    /// Snapshots to take.
    pub repeat: u64,
    /// Pause between snapshots.
    pub interval: Duration,
}

/// Parses the arguments after the program name; `Ok(None)` means `--list`.
///
/// # Errors
/// A usage message.
pub fn parse_args(
    args: impl IntoIterator<Item = String>,
) -> Result<Option<InspectOptions>, String> {
    let mut name = None;
    let mut opts = InspectOptions {
        name: String::new(),
        slots: 16,
        repeat: 1,
        interval: Duration::from_millis(500),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> Result<u64, String> {
            let v = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match arg.as_str() {
            "--list" => return Ok(None),
            "--slots" => opts.slots = number("--slots")?,
            "--repeat" => opts.repeat = number("--repeat")?.max(1),
            "--interval-ms" => opts.interval = Duration::from_millis(number("--interval-ms")?),
            "-h" | "--help" => return Err(USAGE.into()),
            _ if arg.starts_with('/') && name.is_none() => name = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}\n{USAGE}")),
        }
    }
    opts.name = name.ok_or_else(|| USAGE.to_string())?;
    Ok(Some(opts))
}

fn opcode_name(opcode: u64) -> String {
    match opcode {
        L3L2Q_OPCODE_INVALID => "INVALID".into(),
        L3L2Q_OPCODE_DATA => "DATA".into(),
        L3L2Q_OPCODE_STOP => "STOP".into(),
        L3L2Q_OPCODE_ERROR => "ERROR".into(),
        other => format!("opcode {other:#x}"),
    }
}

/// One direction as the layout places it.
struct Ring {
    title: &'static str,
    tail_counter: u64,
    head_counter: u64,
    ring_offset: u64,
    arena_offset: u64,
    arena_bytes: u64,
    carries_stop: bool,
    consumer: &'static str,
}

fn rings(layout: &Layout) -> [Ring; 2] {
    [
        Ring {
            title: "input ring (L3 -> L2)",
            tail_counter: L3L2Q_INPUT_DESC_TAIL_OFFSET,
            head_counter: L3L2Q_INPUT_DESC_HEAD_OFFSET,
            ring_offset: layout.input_desc_offset,
            arena_offset: layout.input_arena_offset,
            arena_bytes: layout.input_arena_bytes,
            carries_stop: true,
            consumer: "L2",
        },
        Ring {
            title: "output ring (L2 -> L3)",
            tail_counter: L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
            head_counter: L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
            ring_offset: layout.output_desc_offset,
            arena_offset: layout.output_arena_offset,
            arena_bytes: layout.output_arena_bytes,
            carries_stop: false,
            consumer: "L3",
        },
    ]
}

/// What is wrong with a pending slot, if anything. `number` is the low 32
/// bits of the message number the slot should hold.
fn check_slot(ring: &Ring, number: u32, slot: &DescriptorSlot) -> Option<String> {
    if slot.seq as u32 != number.wrapping_add(1) {
        return Some(format!(
            "seq {} does not match message {}",
            slot.seq, number
        ));
    }
    match slot.opcode {
        L3L2Q_OPCODE_DATA | L3L2Q_OPCODE_ERROR => {}
        L3L2Q_OPCODE_STOP if !ring.carries_stop => return Some("STOP on the output ring".into()),
        L3L2Q_OPCODE_STOP if slot.payload_nbytes != 0 => return Some("STOP with payload".into()),
        L3L2Q_OPCODE_STOP => {}
        other => return Some(format!("invalid opcode {other:#x}")),
    }
    if slot.payload_nbytes == 0 {
        return (slot.payload_offset != 0).then(|| "zero-byte message with non-zero offset".into());
    }
    let inside = slot
        .payload_offset
        .checked_sub(ring.arena_offset)
        .and_then(|rel| rel.checked_add(slot.payload_nbytes))
        .is_some_and(|end| end <= ring.arena_bytes);
    (!inside).then(|| "payload outside its arena".into())
}

/// One read-only snapshot of `view`, as text.
pub fn snapshot(view: &ShmReadOnly, max_slots: u64) -> String {
    let mut out = String::new();
    let h = view.header();
    let layout = *view.layout();
    let _ = writeln!(out, "l3l2q region {} (read-only snapshot)", view.name());
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let age = match now_ns.checked_sub(h.created_unix_ns) {
        Some(ns) => format!("{:.1} s ago", ns as f64 / 1e9),
        None => "in the future (clock skew?)".into(),
    };
    let alive = match view.creator_alive() {
        Some(true) => "running",
        Some(false) => "GONE: the name is stale unless a peer still uses it",
        None => "unknown",
    };
    let _ = writeln!(
        out,
        "  object      {} bytes, format {}, region id {}",
        view.object_bytes(),
        h.format_version,
        h.region_id
    );
    let _ = writeln!(
        out,
        "  creator     pid {} ({alive}), created {age}",
        h.creator_pid
    );
    let _ = writeln!(
        out,
        "  layout      depth {}, input arena {} B at {}, output arena {} B at {}, payload {} B, counters {} B",
        layout.depth,
        layout.input_arena_bytes,
        layout.input_arena_offset,
        layout.output_arena_bytes,
        layout.output_arena_offset,
        layout.payload_bytes,
        layout.counter_bytes
    );

    let counter = |offset| view.load_counter(offset);
    let names = [
        (L3L2Q_INPUT_DESC_TAIL_OFFSET, "input_desc_tail ", "L3"),
        (L3L2Q_INPUT_DESC_HEAD_OFFSET, "input_desc_head ", "L2"),
        (L3L2Q_OUTPUT_DESC_TAIL_OFFSET, "output_desc_tail", "L2"),
        (L3L2Q_OUTPUT_DESC_HEAD_OFFSET, "output_desc_head", "L3"),
        (L3L2Q_L3_ABORT_FLAG_OFFSET, "l3_abort_flag   ", "L3"),
        (L3L2Q_L2_ABORT_FLAG_OFFSET, "l2_abort_flag   ", "L2"),
    ];
    let _ = writeln!(out, "counters (low 32 bits of monotonic counts)");
    for (offset, name, writer) in names {
        match counter(offset) {
            Some(v) => {
                let _ = writeln!(out, "  {name} @{offset:<3} written by {writer}: {v}");
            }
            None => {
                let _ = writeln!(out, "  {name} @{offset:<3} unreadable");
            }
        }
    }

    let mut diagnosis = Vec::new();
    for (flag, who) in [
        (L3L2Q_L3_ABORT_FLAG_OFFSET, "L3"),
        (L3L2Q_L2_ABORT_FLAG_OFFSET, "L2"),
    ] {
        match counter(flag) {
            Some(0) | None => {}
            Some(v) => diagnosis.push(format!(
                "{who} abort flag is {v}: the {who} side poisoned itself (see its error record)"
            )),
        }
    }

    for ring in rings(&layout) {
        let (Some(tail), Some(head)) = (counter(ring.tail_counter), counter(ring.head_counter))
        else {
            let _ = writeln!(out, "{}: counters unreadable", ring.title);
            continue;
        };
        let pending = u64::from(tail.wrapping_sub(head));
        if pending > layout.depth {
            let _ = writeln!(
                out,
                "{}: INCONSISTENT: tail {tail} - head {head} = {pending} exceeds depth {}",
                ring.title, layout.depth
            );
            diagnosis.push(format!(
                "{}: impossible counters; a peer will poison on seeing them",
                ring.title
            ));
            continue;
        }
        let _ = writeln!(
            out,
            "{}: {pending} pending of depth {} (published, not yet released by {}; acquired-but-held included)",
            ring.title, layout.depth, ring.consumer
        );
        let mut live_bytes = 0u64;
        let mut bad = 0u64;
        let mut first_start = None;
        let mut last_end = None;
        let scanned = pending.min(SCAN_LIMIT);
        for i in 0..scanned {
            let number = head.wrapping_add(i as u32);
            let slot_offset =
                ring.ring_offset + u64::from(number) % layout.depth * L3L2Q_SLOT_BYTES;
            let mut bytes = [0u8; 32];
            if !view.read_payload(slot_offset, &mut bytes) {
                let _ = writeln!(out, "  message {number}: slot unreadable");
                bad += 1;
                continue;
            }
            let slot = DescriptorSlot::from_bytes(&bytes);
            let problem = check_slot(&ring, number, &slot);
            if problem.is_none() && slot.payload_nbytes != 0 {
                live_bytes = live_bytes.saturating_add(slot.payload_nbytes);
                let start = slot.payload_offset - ring.arena_offset;
                first_start.get_or_insert(start);
                last_end = Some(start + slot.payload_nbytes);
            }
            bad += u64::from(problem.is_some());
            if i < max_slots {
                let _ = writeln!(
                    out,
                    "  message {number:>10} slot {:>5}: seq {:>10} {:<7} offset {:>9} nbytes {:>8}  {}",
                    u64::from(number) % layout.depth,
                    slot.seq,
                    opcode_name(slot.opcode),
                    slot.payload_offset,
                    slot.payload_nbytes,
                    problem
                        .as_deref()
                        .map_or("ok".to_string(), |p| format!("BAD: {p}"))
                );
            }
        }
        if pending > max_slots {
            let _ = writeln!(
                out,
                "  ... {} more not shown (--slots)",
                pending - max_slots
            );
        }
        // From the oldest pending payload to the end of the newest one,
        // across the wrap when the newest ends before the oldest starts.
        let span = match (first_start, last_end) {
            (Some(s), Some(e)) if e > s => e - s,
            (Some(s), Some(e)) => (ring.arena_bytes - s).saturating_add(e),
            _ => 0,
        };
        let pct = |b: u64| b as f64 * 100.0 / ring.arena_bytes.max(1) as f64;
        let _ = writeln!(
            out,
            "  arena       {} B: {live_bytes} B in pending payloads ({:.1}%), about {span} B occupied incl. padding ({:.1}%){}",
            ring.arena_bytes,
            pct(live_bytes),
            pct(span.min(ring.arena_bytes)),
            if scanned < pending {
                " [first slots only]"
            } else {
                ""
            }
        );
        if bad > 0 {
            diagnosis.push(format!(
                "{}: {bad} pending descriptor(s) are invalid; the consumer will poison on them",
                ring.title
            ));
        }
        if pending == layout.depth {
            diagnosis.push(format!(
                "{}: ring full; if it stays full between snapshots, {} is not releasing",
                ring.title, ring.consumer
            ));
        } else if pending > 0 && ring.consumer == "L2" {
            diagnosis.push(format!("{}: {pending} input(s) waiting; if this does not change between snapshots, L2 is stuck (or holding them in its window)", ring.title));
        }
    }
    let _ = writeln!(out, "diagnosis");
    if diagnosis.is_empty() {
        let _ = writeln!(out, "  nothing pending, no abort flag: the queue is idle");
    }
    for line in diagnosis {
        let _ = writeln!(out, "  - {line}");
    }
    out
}

/// Lists shared-memory objects whose name starts with `l3l2q-` (Linux
/// `/dev/shm`).
fn list() -> Result<String, String> {
    let dir = std::fs::read_dir("/dev/shm").map_err(|e| format!("cannot list /dev/shm: {e}"))?;
    let mut names: Vec<(String, u64)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.starts_with("l3l2q-")
                .then(|| (format!("/{name}"), e.metadata().map_or(0, |m| m.len())))
        })
        .collect();
    names.sort();
    let mut out = String::new();
    if names.is_empty() {
        out.push_str("no l3l2q shared-memory objects\n");
    }
    for (name, size) in names {
        let _ = writeln!(out, "{name}  {size} bytes");
    }
    Ok(out)
}

/// Runs the tool with `args` (after the program name); prints to stdout and
/// returns the exit code.
pub fn run(args: Vec<String>) -> ExitCode {
    let opts = match parse_args(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            return match list() {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            };
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let view = match ShmReadOnly::open(&opts.name) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("inspect: {e}");
            return ExitCode::FAILURE;
        }
    };
    for i in 0..opts.repeat {
        if i > 0 {
            std::thread::sleep(opts.interval);
            println!();
        }
        print!("{}", snapshot(&view, opts.slots));
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    run(std::env::args().skip(1).collect())
}
