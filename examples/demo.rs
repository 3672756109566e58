//! The main job, end to end: an L3 host streams messages to an L2 worker
//! running in a second process, over one POSIX shared-memory region, and
//! checks every answer.
//!
//! ```text
//! cargo run --release --example demo -- [--count N] [--size BYTES]
//!     [--depth N] [--arena BYTES] [--window N] [--quiet]
//! ```
//!
//! - The host creates the region by name (`ShmRegion::create`), builds its
//!   `L3Queue` over it, and re-executes this program with a hidden
//!   `--worker <name> --window <n>` argument. The worker opens the region by
//!   name, which gives it a descriptor for its own mapping (addresses differ
//!   between the processes), and builds its `L2Endpoint`.
//! - Inputs have mixed sizes (zero-byte, 1-15 bytes, up to `--size`), and
//!   some are ERROR messages. An input of 16 bytes or more starts with its
//!   id and the host's send timestamp.
//! - The worker holds up to `--window` inputs and answers them in reverse
//!   order of acquisition: each answer is a 32-byte header (the input's
//!   ordinal, the echoed timestamp, the input's length, opcode and checksum)
//!   followed by a byte transform of the input.
//! - The host regenerates every input from its id and verifies each answer
//!   byte for byte, that every input got exactly one answer, and that the
//!   worker drained (STOP released) and exited 0. Round-trip latency comes
//!   from the timestamps carried in the payloads, reported twice: while
//!   streaming (it includes queueing behind up to `--depth` inputs) and for
//!   the last inputs (a tenth, at most 2000), sent one at a time.
//!
//! Exits non-zero on any mismatch, timeout or worker failure.

use std::io::{self, Write};
use std::process::{Child, Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use l3l2q::region::Region;
use l3l2q::region::shm::{ShmConfig, ShmError, ShmRegion, unique_name};
use l3l2q::{
    Error, L2Endpoint, L3Queue, Message, Opcode, QueueConfig, abi::L3L2Q_INPUT_DESC_HEAD_OFFSET,
    abi::L3L2Q_L2_ABORT_FLAG_OFFSET, abi::L3L2Q_L3_ABORT_FLAG_OFFSET, abi::L3L2Q_OPCODE_ERROR,
    abi::L3L2Q_OPCODE_STOP,
};

/// Bytes of the header the worker puts before each transformed payload.
pub const ANSWER_HEADER: usize = 32;
/// Inputs at least this long carry `[id u64][timestamp u64]` first.
const STAMPED: usize = 16;
const SEED: u64 = 0x4C33_4C32_5EED_0001;

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Messages to send.
    pub count: u64,
    /// Largest input payload in bytes.
    pub size: usize,
    /// Ring depth.
    pub depth: u64,
    /// Bytes of each arena.
    pub arena: u64,
    /// L2 in-flight window (inputs held before answering).
    pub window: u64,
    /// Draw the progress bar on stderr.
    pub progress: bool,
    /// Longest time without any progress before the host gives up.
    pub stall_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            count: 300_000,
            size: 1024,
            depth: 256,
            arena: 256 * 1024,
            window: 4,
            progress: true,
            stall_timeout: Duration::from_secs(10),
        }
    }
}

const USAGE: &str =
    "usage: demo [--count N] [--size BYTES] [--depth N] [--arena BYTES] [--window N] [--quiet]";

/// Parses the host's flags (everything after the program name).
///
/// # Errors
/// A message for an unknown flag, a missing or bad value, or options that
/// cannot work together.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--quiet" {
            opts.progress = false;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        if !["--count", "--size", "--depth", "--arena", "--window"].contains(&flag.as_str()) {
            return Err(format!("unknown flag {flag}\n{USAGE}"));
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--count" => opts.count = number()?,
            "--size" => {
                opts.size =
                    usize::try_from(number()?).map_err(|_| format!("--size too large: {value}"))?
            }
            "--depth" => opts.depth = number()?,
            "--arena" => opts.arena = number()?,
            "--window" => opts.window = number()?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if !opts.depth.is_power_of_two() || opts.depth > 1 << 30 {
        return Err(format!(
            "--depth must be a power of two up to 2^30, got {}",
            opts.depth
        ));
    }
    if opts.arena == 0 || opts.arena % 64 != 0 {
        return Err(format!(
            "--arena must be a positive multiple of 64, got {}",
            opts.arena
        ));
    }
    if opts.size > 1 << 24 {
        return Err(format!("--size must be at most 16 MiB, got {}", opts.size));
    }
    if (opts.size + ANSWER_HEADER) as u64 > opts.arena {
        return Err(format!(
            "--arena {} cannot hold an answer to a {}-byte message ({} bytes)",
            opts.arena,
            opts.size,
            opts.size + ANSWER_HEADER
        ));
    }
    if opts.window == 0 || opts.window > opts.depth {
        return Err(format!(
            "--window must be in 1..=depth ({}), got {}",
            opts.depth, opts.window
        ));
    }
    Ok(opts)
}

// ---------------------------------------------------------------------------
// Message plan and codec, shared by host and worker.

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Opcode and length of input `id`: 5% zero-byte, 10% 1-15 bytes, the
/// rest 16..=size; about one in 16 is an ERROR message.
pub fn plan(id: u64, size: usize) -> (Opcode, usize) {
    let r = splitmix(id ^ SEED);
    let len = match r % 100 {
        0..5 => 0,
        5..15 => 1 + (r >> 8) as usize % 15,
        _ => STAMPED + (r >> 8) as usize % (size.saturating_sub(STAMPED) + 1),
    }
    .min(size);
    let opcode = if (r >> 40) % 16 == 0 {
        Opcode::Error
    } else {
        Opcode::Data
    };
    (opcode, len)
}

/// Writes input `id` (its deterministic bytes, and for stamped inputs the
/// id and `stamp`) into `buf`.
pub fn fill_input(id: u64, stamp: u64, buf: &mut [u8]) {
    let base = splitmix(id.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ SEED);
    for (i, chunk) in buf.chunks_mut(8).enumerate() {
        let word = splitmix(base.wrapping_add(i as u64)).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    if buf.len() >= STAMPED {
        buf[0..8].copy_from_slice(&id.to_le_bytes());
        buf[8..16].copy_from_slice(&stamp.to_le_bytes());
    }
}

/// A 64-bit checksum of `bytes`, word at a time.
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64 ^ bytes.len() as u64;
    for chunk in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(w))
            .wrapping_mul(0x0000_0100_0000_01B3)
            .rotate_left(23);
    }
    h
}

/// The worker's byte transform.
#[inline]
pub fn transform(b: u8) -> u8 {
    b.rotate_left(3) ^ 0xA5
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Builds the answer to input number `ordinal` (payload `input`, opcode
/// `opcode`) into `out`; returns its length.
pub fn answer(ordinal: u64, opcode: u64, input: &[u8], out: &mut [u8]) -> usize {
    let stamp = if input.len() >= STAMPED {
        le_u64(input, 8)
    } else {
        0
    };
    out[0..8].copy_from_slice(&ordinal.to_le_bytes());
    out[8..16].copy_from_slice(&stamp.to_le_bytes());
    out[16..20].copy_from_slice(&(input.len() as u32).to_le_bytes());
    out[20..24].copy_from_slice(&(opcode as u32).to_le_bytes());
    out[24..32].copy_from_slice(&checksum(input).to_le_bytes());
    for (o, i) in out[ANSWER_HEADER..ANSWER_HEADER + input.len()]
        .iter_mut()
        .zip(input)
    {
        *o = transform(*i);
    }
    ANSWER_HEADER + input.len()
}

// ---------------------------------------------------------------------------
// Waiting without hogging a shared core.

/// Polls `attempt` until it makes progress, spinning briefly, then
/// yielding, then sleeping 50 us at a time, for at most `timeout`.
fn poll<T>(timeout: Duration, mut attempt: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let start = Instant::now();
    let mut polls = 0u32;
    loop {
        match attempt() {
            Err(Error::NoProgress) => {}
            done => return done,
        }
        polls = polls.saturating_add(1);
        if polls < 200 {
            std::hint::spin_loop();
            continue;
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(Error::Timeout);
        }
        if waited < Duration::from_micros(500) {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

// ---------------------------------------------------------------------------
// The L2 worker (second process).

/// What the worker reports when it exits.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerStats {
    /// DATA/ERROR inputs answered.
    pub answered: u64,
    /// Batches answered (each in reverse order).
    pub batches: u64,
}

/// Opens `name`, retrying while the creator is still initializing it.
fn open_region(name: &str, timeout: Duration) -> Result<ShmRegion, String> {
    let start = Instant::now();
    loop {
        match ShmRegion::open(name) {
            Ok(region) => return Ok(region),
            Err(ShmError::NotReady { .. }) if start.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => return Err(format!("worker: {e}")),
        }
    }
}

/// The L2 side: opens the region by name, answers every input, holding up
/// to `window` of them and answering each batch in reverse order, until
/// STOP; returns once drained.
///
/// # Errors
/// A message on any protocol error, mismatch or timeout.
pub fn run_worker(name: &str, window: u64, idle_timeout: Duration) -> Result<WorkerStats, String> {
    let shm = open_region(name, idle_timeout)?;
    // The descriptor comes from this process's own mapping: its addresses
    // are not the host's.
    let descriptor = *shm.descriptor();
    let args = shm.queue_args();
    let arena = args.input_arena_bytes as usize;
    let mut endpoint = L2Endpoint::with_region(shm, &descriptor, &args, window, 0)
        .map_err(|e| format!("worker: endpoint: {e}"))?;
    let mut held: Vec<(Message, u64)> = Vec::with_capacity(window as usize);
    let mut input = vec![0u8; arena];
    let mut output = vec![0u8; arena + ANSWER_HEADER];
    let mut ordinal = 0u64;
    let mut stats = WorkerStats::default();
    let fail = |what: &str, e: Error| format!("worker: {what}: {e}");

    loop {
        let next = match endpoint.try_peek() {
            Err(Error::NoProgress) if !held.is_empty() => None,
            Err(Error::NoProgress) => {
                let got = poll(idle_timeout, || endpoint.try_peek());
                match got {
                    Ok(m) => Some(m),
                    Err(Error::Timeout)
                        if endpoint
                            .region()
                            .load_counter(L3L2Q_L3_ABORT_FLAG_OFFSET)
                            .is_ok_and(|f| f != 0) =>
                    {
                        return Err("worker: the host aborted".into());
                    }
                    Err(e) => return Err(fail("waiting for input", e)),
                }
            }
            Err(e) => return Err(fail("peek", e)),
            Ok(m) => Some(m),
        };
        let stop = match next {
            Some(m) if m.opcode == L3L2Q_OPCODE_STOP => Some(m),
            Some(m) => {
                held.push((m, ordinal));
                ordinal += 1;
                if held.len() < window as usize {
                    continue;
                }
                None
            }
            None => None,
        };
        // Answer the held batch newest first: outputs leave out of
        // acquisition order, and the input head only moves once the oldest
        // one is released.
        if !held.is_empty() {
            stats.batches += 1;
        }
        while let Some((message, ordinal)) = held.pop() {
            let n = endpoint
                .copy_payload(&message, &mut input)
                .map_err(|e| fail("copy payload", e))?;
            if n >= STAMPED && le_u64(&input, 0) != ordinal {
                return Err(format!(
                    "worker: input {ordinal} carries id {} (order broken)",
                    le_u64(&input, 0)
                ));
            }
            let len = answer(ordinal, message.opcode, &input[..n], &mut output);
            let reservation = poll(idle_timeout, || endpoint.try_reserve(len as u64))
                .map_err(|e| fail("reserve", e))?;
            endpoint
                .write_reserved(&reservation, 0, &output[..len])
                .map_err(|e| fail("write", e))?;
            endpoint
                .publish(&reservation, message.opcode(), len as u64)
                .map_err(|e| fail("publish", e))?;
            endpoint.release(&message).map_err(|e| fail("release", e))?;
            stats.answered += 1;
        }
        if let Some(stop) = stop {
            endpoint
                .release(&stop)
                .map_err(|e| fail("release STOP", e))?;
            if !endpoint.drained() {
                return Err("worker: STOP released but not drained".into());
            }
            return Ok(stats);
        }
    }
}

// ---------------------------------------------------------------------------
// The L3 host.

/// Set by SIGINT/SIGTERM so the host stops cleanly: its `ShmRegion` is
/// dropped, which unlinks the name instead of leaving a stale object.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Routes SIGINT and SIGTERM to [`INTERRUPTED`].
fn catch_interrupts() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe; replacing the default
        // disposition affects only this process.
        unsafe {
            libc::signal(
                signal,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
}

/// What the host measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Shared-memory name used.
    pub name: String,
    /// Worker process id.
    pub worker_pid: u32,
    /// Messages sent and answered.
    pub messages: u64,
    /// ERROR messages among them.
    pub errors: u64,
    /// Zero-byte messages among them.
    pub empty: u64,
    /// Answers that arrived before the answer to an earlier input.
    pub reordered: u64,
    /// Input payload bytes.
    pub input_bytes: u64,
    /// Output payload bytes.
    pub output_bytes: u64,
    /// Time from the first send to the last answer.
    pub elapsed: Duration,
    /// Round-trip latencies in nanoseconds while streaming (queueing
    /// behind up to `depth` inputs included), sorted.
    pub latencies_ns: Vec<u64>,
    /// Round-trip latencies in nanoseconds of the final ping phase, one
    /// message in flight at a time, sorted.
    pub ping_latencies_ns: Vec<u64>,
    /// The input head after the worker exited (count + 1 when drained).
    pub input_head: u32,
}

impl Report {
    /// The streaming latency at quantile `q` in nanoseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        quantile(&self.latencies_ns, q)
    }
}

/// The value at quantile `q` of sorted `samples` (0 when empty).
pub fn quantile(samples: &[u64], q: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

struct Progress {
    enabled: bool,
    last: Instant,
    start: Instant,
}

impl Progress {
    fn draw(&mut self, done: u64, total: u64, force: bool) {
        if !self.enabled || (!force && self.last.elapsed() < Duration::from_millis(100)) {
            return;
        }
        self.last = Instant::now();
        const WIDTH: u64 = 30;
        let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        let pct = if total == 0 {
            100.0
        } else {
            done as f64 * 100.0 / total as f64
        };
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r[{bar}] {pct:5.1}% {done}/{total} answered, {:.0}k msg/s ",
            rate / 1e3
        );
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.enabled {
            let _ = writeln!(io::stderr());
        }
    }
}

/// Kills and reaps the worker unless it was already reaped.
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The L3 side: creates the region, starts the worker with `spawn(name,
/// opts)`, streams `opts.count` messages, verifies every answer, stops,
/// drains and waits for the worker to exit 0.
///
/// # Errors
/// A message on any mismatch, protocol error, stall or worker failure.
pub fn run_host(
    opts: &Options,
    spawn: &mut dyn FnMut(&str, &Options) -> io::Result<Child>,
) -> Result<Report, String> {
    let name = unique_name("demo");
    let config = ShmConfig {
        region_id: u64::from(std::process::id()),
        ..ShmConfig::new(opts.depth, opts.arena, opts.arena)
    };
    let shm = ShmRegion::create(&name, &config).map_err(|e| e.to_string())?;
    let descriptor = *shm.descriptor();
    let mut queue = L3Queue::create(
        shm,
        &descriptor,
        QueueConfig {
            depth: opts.depth,
            input_arena_bytes: opts.arena,
            output_arena_bytes: opts.arena,
        },
    )
    .map_err(|e| format!("L3 queue: {e}"))?;
    let child = spawn(&name, opts).map_err(|e| format!("starting the worker: {e}"))?;
    let worker_pid = child.id();
    let mut worker = Reaper(Some(child));

    let count = opts.count;
    let mut answered_bits = vec![0u64; count.div_ceil(64) as usize];
    let mut send_buf = vec![0u8; opts.size.max(STAMPED)];
    let mut recv_buf = vec![0u8; opts.size + ANSWER_HEADER];
    let mut expect_in = vec![0u8; opts.size.max(STAMPED)];
    let mut report = Report {
        name: name.clone(),
        worker_pid,
        messages: count,
        errors: 0,
        empty: 0,
        reordered: 0,
        input_bytes: 0,
        output_bytes: 0,
        elapsed: Duration::ZERO,
        latencies_ns: Vec::with_capacity(count as usize),
        ping_latencies_ns: Vec::new(),
        input_head: 0,
    };
    // The last inputs (a tenth, at most 2000) go one at a time, each after
    // the previous answer: round trips without queueing.
    let ping_from = count - (count / 10).min(2000);
    let mut next = 0u64; // next id to send
    let mut prepared: Option<(Opcode, usize)> = None;
    let mut answered = 0u64;
    let mut newest_answer = None::<u64>;
    let mut stopped = false;
    let start = Instant::now();
    let stamp = |start: Instant| start.elapsed().as_nanos() as u64 + 1;
    let mut last_progress = Instant::now();
    let mut progress = Progress {
        enabled: opts.progress,
        last: start,
        start,
    };

    while !(stopped && answered == count) {
        let mut progressed = false;
        // Send what fits.
        for _ in 0..64 {
            if next == count || (next >= ping_from && answered < next) {
                break;
            }
            let (opcode, len) = *prepared.get_or_insert_with(|| {
                let (opcode, len) = plan(next, opts.size);
                fill_input(next, 0, &mut send_buf[..len]);
                (opcode, len)
            });
            if len >= STAMPED {
                send_buf[8..16].copy_from_slice(&stamp(start).to_le_bytes());
            }
            match queue.try_send(opcode, &send_buf[..len]) {
                Ok(()) => {
                    prepared = None;
                    report.input_bytes += len as u64;
                    report.errors += u64::from(opcode == L3L2Q_OPCODE_ERROR);
                    report.empty += u64::from(len == 0);
                    next += 1;
                    progressed = true;
                }
                Err(Error::NoProgress) => break,
                Err(e) => return Err(format!("enqueue of message {next}: {e}")),
            }
        }
        if next == count && !stopped {
            match queue.try_request_stop() {
                Ok(()) => stopped = true,
                Err(Error::NoProgress) => {}
                Err(e) => return Err(format!("STOP: {e}")),
            }
        }
        // Take every answer that is ready.
        for _ in 0..256 {
            let message = match queue.try_peek() {
                Ok(m) => m,
                Err(Error::NoProgress) => break,
                Err(e) => return Err(format!("peek: {e}")),
            };
            let n = queue
                .read_into(&message, &mut recv_buf)
                .map_err(|e| format!("read: {e}"))?;
            queue
                .release(&message)
                .map_err(|e| format!("release: {e}"))?;
            let now = stamp(start);
            let id = verify(
                &recv_buf[..n],
                message.opcode,
                next,
                opts.size,
                &mut answered_bits,
                &mut expect_in,
            )?;
            if newest_answer.is_some_and(|newest| id < newest) {
                report.reordered += 1;
            }
            newest_answer = newest_answer.max(Some(id));
            let sent = le_u64(&recv_buf, 8);
            if sent != 0 {
                let samples = if id >= ping_from {
                    &mut report.ping_latencies_ns
                } else {
                    &mut report.latencies_ns
                };
                samples.push(now.saturating_sub(sent));
            }
            report.output_bytes += n as u64;
            answered += 1;
            progressed = true;
        }
        progress.draw(answered, count, false);
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Err(format!("interrupted after {answered} of {count} answers"));
        }
        if progressed {
            last_progress = Instant::now();
            continue;
        }
        // Nothing moved: is the worker still there?
        if let Some(child) = worker.0.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                worker.0 = None;
                return Err(format!(
                    "worker exited early ({status}) after {answered} of {count} answers"
                ));
            }
        }
        if last_progress.elapsed() > opts.stall_timeout {
            let aborted = if queue.peer_aborted() {
                " (L2 abort flag set)"
            } else {
                ""
            };
            return Err(format!(
                "no progress for {:?}{aborted}: sent {next}, answered {answered} of {count}",
                opts.stall_timeout
            ));
        }
        // Wait briefly for an answer (it stays held and is taken above).
        match queue.peek(1_000_000) {
            Ok(_) | Err(Error::Timeout) => {}
            Err(e) => return Err(format!("waiting for answers: {e}")),
        }
    }
    report.elapsed = start.elapsed();
    progress.draw(answered, count, true);
    progress.finish();

    if answered_bits
        .iter()
        .enumerate()
        .any(|(i, w)| *w != full_word(i, count))
    {
        return Err("some inputs got no answer".into());
    }
    // The worker exits 0 once it has seen STOP released (drained).
    let mut child = worker.0.take().ok_or("worker already gone")?;
    let deadline = Instant::now() + opts.stall_timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => {
                worker.0 = Some(child);
                return Err("worker did not exit after STOP".into());
            }
            Err(e) => return Err(format!("waiting for the worker: {e}")),
        }
    };
    if !status.success() {
        return Err(format!("worker failed: {status}"));
    }
    let region = queue.region();
    report.input_head = region
        .load_counter(L3L2Q_INPUT_DESC_HEAD_OFFSET)
        .map_err(|_| "counter read failed")?;
    if u64::from(report.input_head) != (count + 1) & 0xFFFF_FFFF {
        return Err(format!(
            "input head {} after drain, expected {}",
            report.input_head,
            count + 1
        ));
    }
    for (flag, who) in [
        (L3L2Q_L3_ABORT_FLAG_OFFSET, "L3"),
        (L3L2Q_L2_ABORT_FLAG_OFFSET, "L2"),
    ] {
        if region.load_counter(flag) != Ok(0) {
            return Err(format!("{who} abort flag is set"));
        }
    }
    report.latencies_ns.sort_unstable();
    report.ping_latencies_ns.sort_unstable();
    Ok(report)
}

fn full_word(index: usize, count: u64) -> u64 {
    let bits = count.saturating_sub(index as u64 * 64).min(64);
    if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Checks one answer against the input it names; returns that input's id.
fn verify(
    out: &[u8],
    opcode: u64,
    sent: u64,
    size: usize,
    answered: &mut [u64],
    expect: &mut [u8],
) -> Result<u64, String> {
    if out.len() < ANSWER_HEADER {
        return Err(format!(
            "answer of {} bytes is shorter than its header",
            out.len()
        ));
    }
    let id = le_u64(out, 0);
    if id >= sent {
        return Err(format!(
            "answer names input {id}, but only {sent} were sent"
        ));
    }
    let (bit, word) = (1u64 << (id % 64), &mut answered[(id / 64) as usize]);
    if *word & bit != 0 {
        return Err(format!("input {id} answered twice"));
    }
    *word |= bit;
    let (want_opcode, len) = plan(id, size);
    let stamp = le_u64(out, 8);
    if opcode != want_opcode || u64::from(le_u32(out, 20)) != want_opcode {
        return Err(format!(
            "answer to {id}: opcode {opcode}, expected {want_opcode:?}"
        ));
    }
    if le_u32(out, 16) as usize != len || out.len() != ANSWER_HEADER + len {
        return Err(format!(
            "answer to {id}: {} bytes for a {len}-byte input",
            out.len()
        ));
    }
    if (len < STAMPED) != (stamp == 0) {
        return Err(format!(
            "answer to {id}: timestamp {stamp} for a {len}-byte input"
        ));
    }
    let input = &mut expect[..len];
    fill_input(id, stamp, input);
    if le_u64(out, 24) != checksum(input) {
        return Err(format!("answer to {id}: checksum mismatch"));
    }
    if out[ANSWER_HEADER..]
        .iter()
        .zip(input.iter())
        .any(|(o, i)| *o != transform(*i))
    {
        return Err(format!("answer to {id}: transformed bytes differ"));
    }
    Ok(id)
}

/// Prints the summary of a successful run.
pub fn print_report(opts: &Options, report: &Report) {
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let us = |ns: u64| ns as f64 / 1e3;
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "l3l2q demo: L3 (pid {}) -> L2 worker (pid {}) over {}",
        std::process::id(),
        report.worker_pid,
        report.name
    );
    println!(
        "  queue       depth {}, arenas {} B each, window {}, messages up to {} B",
        opts.depth, opts.arena, opts.window, opts.size
    );
    println!(
        "  messages    {} sent, {} answered exactly once ({} ERROR, {} zero-byte), all verified",
        report.messages, report.messages, report.errors, report.empty
    );
    println!(
        "  reordered   {} answers arrived before an earlier input's answer",
        report.reordered
    );
    println!(
        "  bytes       {:.1} MB in, {:.1} MB out",
        mb(report.input_bytes),
        mb(report.output_bytes)
    );
    println!("  elapsed     {:.3} s", secs);
    println!(
        "  throughput  {:.1} k msg/s, {:.1} MB/s (in + out)",
        report.messages as f64 / secs / 1e3,
        mb(report.input_bytes + report.output_bytes) / secs
    );
    for (title, samples, note) in [
        (
            "round trip ",
            &report.latencies_ns,
            "streaming, queueing behind up to depth inputs included",
        ),
        (
            "           ",
            &report.ping_latencies_ns,
            "one message in flight",
        ),
    ] {
        if samples.is_empty() {
            println!(
                "  {title} no timestamped messages ({note}; inputs under 16 bytes carry no timestamp)"
            );
            continue;
        }
        println!(
            "  {title} p50 {:.1} us, p99 {:.1} us, p999 {:.1} us ({} messages, {note})",
            us(quantile(samples, 0.5)),
            us(quantile(samples, 0.99)),
            us(quantile(samples, 0.999)),
            samples.len()
        );
    }
    println!(
        "  worker      drained (input head {}) and exited 0",
        report.input_head
    );
}

/// Re-executes this program as the worker.
fn spawn_self(name: &str, opts: &Options) -> io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .arg("--worker")
        .arg(name)
        .arg("--window")
        .arg(opts.window.to_string())
        .spawn()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--worker") {
        let (Some(name), Some(window)) = (args.get(1), args.get(3).and_then(|w| w.parse().ok()))
        else {
            eprintln!("worker: usage: --worker <shm-name> --window <n>");
            return ExitCode::from(2);
        };
        return match run_worker(name, window, Duration::from_secs(10)) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    catch_interrupts();
    match run_host(&opts, &mut spawn_self) {
        Ok(report) => {
            print_report(&opts, &report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ndemo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
