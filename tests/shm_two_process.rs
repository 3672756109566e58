//! Two real processes over POSIX shared memory: the demo end to end, what
//! the L3 side sees when the L2 process dies (SIGKILL, with and without its
//! abort flag set), stale names left by a crashed creator, and the
//! read-only inspect tool against a live queue.
//!
//! The demo and inspect are run as the programs users run: the compiled
//! examples (built for this test profile on first use). The other child
//! processes (an echoing worker, a worker that poisons itself, a creator
//! that crashes) are this test binary re-executed with `--exact
//! child_role` and the role in the environment.
//!
//! Every wait is bounded; each test asserts its own wall-clock bound.

mod support {
    pub mod runner;
}

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use l3l2q::ffi::shm::{ShmCreateConfig, ShmHandle, l3l2q_shm_create, l3l2q_shm_free};
use l3l2q::region::Region;
use l3l2q::region::shm::{CreateMode, ShmConfig, ShmError, ShmReadOnly, ShmRegion, unique_name};
use l3l2q::{
    Error, ErrorKind, L2Endpoint, L3Queue, Opcode, QueueConfig, Status,
    abi::L3L2Q_L2_ABORT_FLAG_OFFSET, abi::L3L2Q_L3_ABORT_FLAG_OFFSET,
};

const ROLE: &str = "L3L2Q_SHM_TEST_ROLE";
const NAME: &str = "L3L2Q_SHM_TEST_NAME";
const WINDOW: &str = "L3L2Q_SHM_TEST_WINDOW";

// ---------------------------------------------------------------------------
// Child side.

/// Entry point of every child process. In the parent test run (no role in
/// the environment) it does nothing.
#[test]
fn child_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let name = std::env::var(NAME).expect("child needs a shared-memory name");
    let code = match role.as_str() {
        "echo-worker" => {
            let window = std::env::var(WINDOW)
                .ok()
                .and_then(|w| w.parse().ok())
                .unwrap_or(4);
            echo_worker(&name, window)
        }
        "abort-worker" => abort_worker(&name),
        "stale-creator" => stale_creator(&name),
        other => {
            eprintln!("unknown role {other}");
            2
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// Answers every input with its own bytes, holding up to `window` at a
/// time, until STOP or until killed.
fn echo_worker(name: &str, window: u64) -> i32 {
    let shm = ShmRegion::open(name).expect("open");
    let (descriptor, args) = (*shm.descriptor(), shm.queue_args());
    let mut endpoint =
        L2Endpoint::with_region(shm, &descriptor, &args, window, 0).expect("endpoint");
    let mut bytes = vec![0u8; args.input_arena_bytes as usize];
    loop {
        let message = match endpoint.peek(10_000_000_000) {
            Ok(m) => m,
            Err(Error::Stopped) => return 0,
            Err(e) => panic!("echo worker: peek: {e}"),
        };
        let len = endpoint
            .copy_payload(&message, &mut bytes)
            .expect("echo worker: copy");
        // The output side is full while the host is not reading: retry.
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = endpoint.try_send(Opcode::Data, &bytes[..len]) {
            assert!(
                e == Error::NoProgress && Instant::now() < deadline,
                "echo worker: send: {e}"
            );
            std::thread::yield_now();
        }
        endpoint.release(&message).expect("echo worker: release");
    }
}

/// Acquires one input, breaks the protocol (releases an altered handle),
/// which poisons the endpoint and sets the L2 abort flag, then dies by
/// SIGKILL without any clean-up.
fn abort_worker(name: &str) -> i32 {
    let shm = ShmRegion::open(name).expect("open");
    let (descriptor, args) = (*shm.descriptor(), shm.queue_args());
    let mut endpoint = L2Endpoint::with_region(shm, &descriptor, &args, 2, 0).expect("endpoint");
    let message = endpoint.peek(10_000_000_000).expect("an input within 10 s");
    let mut forged = message;
    forged.seq += 7;
    assert_eq!(
        endpoint.release(&forged),
        Err(Error::Poisoned(ErrorKind::Ownership))
    );
    assert_eq!(
        endpoint.region().load_counter(L3L2Q_L2_ABORT_FLAG_OFFSET),
        Ok(1)
    );
    println!("poisoned");
    let _ = std::io::stdout().flush();
    // SAFETY: raising SIGKILL on ourselves has no memory-safety implications; it ends the process.
    unsafe { libc::raise(libc::SIGKILL) };
    3
}

/// Creates the region, scribbles on a counter, reports its pid and waits
/// to be killed (at most 20 s).
fn stale_creator(name: &str) -> i32 {
    let shm = ShmRegion::create(name, &ShmConfig::new(4, 256, 256)).expect("create");
    shm.store_counter(L3L2Q_L3_ABORT_FLAG_OFFSET, 0xDEAD)
        .unwrap();
    println!("created {}", std::process::id());
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_secs(20));
    4
}

// ---------------------------------------------------------------------------
// Parent helpers.

fn spawn_child(role: &str, name: &str, window: u64) -> std::io::Result<Child> {
    support::runner::program(std::env::current_exe()?)
        .args([
            "--exact",
            "child_role",
            "--nocapture",
            "--test-threads",
            "1",
            "-q",
        ])
        .env(ROLE, role)
        .env(NAME, name)
        .env(WINDOW, window.to_string())
        // Only the roles the parent reads from get a pipe; the others'
        // libtest chatter is discarded.
        .stdout(if role == "echo-worker" {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .spawn()
}

/// Waits at most `timeout` for `child` to exit; kills it on timeout.
fn wait_bounded(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} did not exit within {timeout:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Collects a child's stdout and exit status, at most `timeout`.
fn output_bounded(mut child: Child, timeout: Duration) -> (ExitStatus, String) {
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let status = wait_bounded(&mut child, timeout);
    (status, reader.join().expect("reader thread"))
}

/// Reads stdout lines until one starts with `prefix`, at most `timeout`.
fn line_starting(child: &mut Child, prefix: &'static str, timeout: Duration) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with(prefix) {
                let _ = tx.send(line);
                break;
            }
        }
    });
    rx.recv_timeout(timeout)
        .unwrap_or_else(|_| panic!("child printed no {prefix:?} line within {timeout:?}"))
}

/// The compiled example `name` (`<target>/<profile>/examples/`), built by
/// cargo for this test's profile the first time one is needed (a full
/// `cargo test` has built them already; `--test shm_two_process` alone has
/// not).
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe.parent().and_then(|d| d.parent()).expect("profile dir");
        let profile: &[&str] = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("release") => &["--release"],
            _ => &["--profile", "test"],
        };
        // A cross build (`--target`) keeps its profiles one level deeper,
        // under `<target dir>/<triple>/`.
        let (target, host) = support::runner::triples();
        let cross: &[&str] = if target == host {
            &[]
        } else {
            &["--target", target]
        };
        let mut target_dir = profile_dir.parent().expect("target dir");
        if !cross.is_empty() {
            target_dir = target_dir.parent().expect("target dir above the triple");
        }
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "--example",
                "demo",
                "--example",
                "inspect",
            ])
            .args(profile)
            .args(cross)
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "cargo build --example demo --example inspect: {status}"
        );
        profile_dir.join("examples")
    });
    let path = dir.join(name);
    assert!(path.is_file(), "{} not built", path.display());
    path
}

/// What a demo run printed: its summary lines, by their first word.
struct DemoRun {
    out: String,
}

impl DemoRun {
    /// Runs the demo example with `args` and expects success within 25 s.
    fn run(args: &[&str]) -> DemoRun {
        let child = support::runner::program(example("demo"))
            .args(args)
            .arg("--quiet")
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the demo example");
        let (status, out) = output_bounded(child, Duration::from_secs(25));
        assert!(status.success(), "demo {args:?} failed: {status}\n{out}");
        DemoRun { out }
    }

    /// The line whose first word is `key`.
    fn line(&self, key: &str) -> &str {
        self.out
            .lines()
            .map(str::trim)
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key:?} line in:\n{}", self.out))
    }

    /// The number right after `word` in the line starting with `key`.
    fn after(&self, key: &str, word: &str) -> f64 {
        let line = self.line(key);
        let mut words = line
            .split_whitespace()
            .map(|w| w.trim_end_matches([',', ')']));
        words
            .by_ref()
            .find(|w| *w == word)
            .unwrap_or_else(|| panic!("no {word:?} in {line:?}"));
        let value = words
            .next()
            .unwrap_or_else(|| panic!("nothing after {word:?} in {line:?}"));
        value
            .parse()
            .unwrap_or_else(|_| panic!("{value:?} in {line:?} is not a number"))
    }

    /// The number right before `word` in the line starting with `key`.
    fn before(&self, key: &str, word: &str) -> f64 {
        let line = self.line(key);
        let words: Vec<&str> = line
            .split_whitespace()
            .map(|w| w.trim_start_matches('(').trim_end_matches([',', ')']))
            .collect();
        let at = words
            .iter()
            .position(|w| *w == word)
            .unwrap_or_else(|| panic!("no {word:?} in {line:?}"));
        words[at - 1]
            .parse()
            .unwrap_or_else(|_| panic!("{:?} in {line:?} is not a number", words[at - 1]))
    }
}

fn shm_l3(name: &str, depth: u64, arena: u64) -> L3Queue<ShmRegion> {
    let shm = ShmRegion::create(name, &ShmConfig::new(depth, arena, arena)).expect("create region");
    let descriptor = *shm.descriptor();
    L3Queue::create(
        shm,
        &descriptor,
        QueueConfig {
            depth,
            input_arena_bytes: arena,
            output_arena_bytes: arena,
        },
    )
    .expect("L3 queue")
}

// ---------------------------------------------------------------------------
// (a) The demo, end to end, in two processes.

#[test]
fn demo_runs_end_to_end_in_two_processes() {
    let started = Instant::now();
    let run = DemoRun::run(&[
        "--count", "20000", "--size", "600", "--depth", "32", "--arena", "16384", "--window", "4",
    ]);
    assert_eq!(run.before("messages", "sent"), 20_000.0);
    assert_eq!(run.before("messages", "answered"), 20_000.0);
    assert_eq!(
        run.after("worker", "head"),
        20_001.0,
        "worker released STOP after every input"
    );
    let (errors, empty) = (
        run.before("messages", "ERROR"),
        run.before("messages", "zero-byte"),
    );
    assert!(
        errors > 0.0 && empty > 0.0,
        "mixed traffic: {errors} ERROR, {empty} empty"
    );
    assert!(
        run.before("reordered", "answers") > 0.0,
        "window 4, answered in reverse: answers must arrive out of order"
    );
    let round_trips: Vec<&str> = run
        .out
        .lines()
        .filter(|l| l.contains(" p50 ") && l.contains(" p999 "))
        .collect();
    assert_eq!(round_trips.len(), 2, "{}", run.out);
    let count = |line: &str| -> f64 {
        let inside = line.rsplit_once('(').unwrap().1;
        inside.split_whitespace().next().unwrap().parse().unwrap()
    };
    let quantiles = |line: &str| -> Vec<f64> {
        ["p50", "p99", "p999"]
            .iter()
            .map(|q| {
                let rest = line.split(&format!(" {q} ")).nth(1).unwrap();
                rest.split_whitespace().next().unwrap().parse().unwrap()
            })
            .collect()
    };
    assert!(count(round_trips[0]) > 13_000.0, "{}", round_trips[0]);
    assert!(
        count(round_trips[1]) > 1_500.0,
        "the last 2000 inputs go one at a time: {}",
        round_trips[1]
    );
    for line in &round_trips {
        let q = quantiles(line);
        assert!(q[0] <= q[1] && q[1] <= q[2], "{line}");
    }
    let bytes: Vec<f64> = run
        .line("bytes")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        bytes.len() == 2 && bytes[1] > bytes[0],
        "answers carry a header: {bytes:?}"
    );
    let name = run.line("l3l2q").rsplit(' ').next().unwrap().to_string();
    assert!(
        matches!(ShmRegion::open(&name), Err(ShmError::NotFound { .. })),
        "creator unlinked the name {name}"
    );

    // Window 1: nothing can be reordered.
    let run = DemoRun::run(&[
        "--count", "2000", "--size", "600", "--depth", "32", "--window", "1",
    ]);
    assert_eq!(run.before("reordered", "answers"), 0.0);
    let run = DemoRun::run(&[
        "--count", "5000", "--size", "300", "--depth", "16", "--arena", "4096", "--window", "3",
    ]);
    assert!(
        run.out.contains("5000 sent, 5000 answered exactly once"),
        "{}",
        run.out
    );
    assert!(run.out.contains("exited 0"), "{}", run.out);

    // Bad flags are rejected before anything starts.
    for (args, flag) in [
        (&["--window", "64", "--depth", "16"][..], "--window"),
        (&["--count"][..], "--count"),
        (&["--size", "4096", "--arena", "4096"][..], ""),
    ] {
        let child = support::runner::program(example("demo"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the demo example");
        let (status, err) = output_bounded_err(child, Duration::from_secs(5));
        assert_eq!(status.code(), Some(2), "{args:?} must be rejected: {err}");
        assert!(err.contains(flag), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

fn output_bounded_err(mut child: Child, timeout: Duration) -> (ExitStatus, String) {
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = wait_bounded(&mut child, timeout);
    (status, reader.join().expect("reader thread"))
}

// ---------------------------------------------------------------------------
// (b) The L2 process dies.

/// Sends input `id`: `size` bytes that say which input they are.
fn send(queue: &mut L3Queue<ShmRegion>, id: u64, size: usize, buf: &mut [u8]) -> Result<(), Error> {
    buf[..8].copy_from_slice(&id.to_le_bytes());
    queue.try_send(Opcode::Data, &buf[..size])
}

/// Asserts a blocking call returned `expected` no earlier than its timeout
/// and not much later; returns how long it took.
fn timed<T: std::fmt::Debug>(
    timeout: Duration,
    expected: Error,
    call: impl FnOnce(u64) -> Result<T, Error>,
) -> Duration {
    let start = Instant::now();
    let result = call(timeout.as_nanos() as u64);
    let took = start.elapsed();
    assert_eq!(result.unwrap_err(), expected);
    assert!(
        took >= timeout,
        "returned after {took:?}, before its {timeout:?} timeout"
    );
    assert!(
        took < timeout + Duration::from_secs(2),
        "returned after {took:?} for a {timeout:?} timeout"
    );
    took
}

#[test]
fn l3_times_out_when_l2_is_killed_and_reports_remote_abort_when_l2_poisoned_first() {
    let started = Instant::now();
    let timeout = Duration::from_millis(200);
    let size = 200;
    let mut buf = vec![0u8; size];
    let mut out = vec![0u8; size];

    // 1. SIGKILL mid-stream, abort flag clear: blocking calls time out.
    let name = unique_name("crash");
    let mut queue = shm_l3(&name, 16, 8192);
    let mut worker = spawn_child("echo-worker", &name, 4).expect("spawn worker");
    let (mut sent, mut answered) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(15);
    while answered < 200 {
        assert!(
            Instant::now() < deadline,
            "worker made no progress: sent {sent}, answered {answered}"
        );
        while send(&mut queue, sent, size, &mut buf).is_ok() {
            sent += 1;
        }
        match queue.dequeue_into(&mut out, 1_000_000) {
            Ok(_) => answered += 1,
            Err(Error::Timeout) => {}
            Err(e) => panic!("dequeue: {e}"),
        }
    }
    worker.kill().expect("SIGKILL the worker");
    let status = wait_bounded(&mut worker, Duration::from_secs(5));
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    // Whatever it published before dying is still readable.
    while queue.try_dequeue_into(&mut out).is_ok() {
        answered += 1;
    }
    while send(&mut queue, sent, size, &mut buf).is_ok() {
        sent += 1;
    }
    assert!(answered < sent, "the worker died mid-stream");
    let took_peek = timed(timeout, Error::Timeout, |ns| queue.peek(ns));
    // The message that did not fit still does not: the input side is full.
    let took_enqueue = timed(timeout, Error::Timeout, |ns| {
        queue.send(Opcode::Data, &buf[..size], ns)
    });
    assert!(!queue.peer_aborted());
    assert!(
        queue.error().is_none(),
        "a dead peer is not a protocol breach"
    );
    eprintln!(
        "killed L2: peek timed out after {took_peek:?}, enqueue after {took_enqueue:?} (timeout {timeout:?})"
    );
    drop(queue);

    // 2. The worker poisons itself (abort flag set), then dies.
    let name = unique_name("abort");
    let mut queue = shm_l3(&name, 8, 4096);
    let mut worker = spawn_child("abort-worker", &name, 2).expect("spawn worker");
    queue.try_send(Opcode::Error, b"first").unwrap();
    let line = line_starting(&mut worker, "poisoned", Duration::from_secs(10));
    assert_eq!(line, "poisoned");
    let status = wait_bounded(&mut worker, Duration::from_secs(5));
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    assert!(queue.peer_aborted());
    let took_peek = timed(timeout, Error::RemoteAborted, |ns| queue.peek(ns));
    // Terminal (SPEC 9): recorded, and every later call fails fast.
    assert_eq!(
        queue.error().map(|e| e.kind()),
        Some(ErrorKind::RemoteAborted)
    );
    let start = Instant::now();
    assert_eq!(
        queue.send(Opcode::Data, b"x", timeout.as_nanos() as u64),
        Err(Error::RemoteAborted)
    );
    let took_enqueue = start.elapsed();
    assert!(took_enqueue < timeout, "{took_enqueue:?}");
    assert_eq!(
        queue.region().load_counter(L3L2Q_L3_ABORT_FLAG_OFFSET),
        Ok(0),
        "observing the peer's abort does not set ours"
    );
    eprintln!(
        "aborted L2: peek reported REMOTE_ABORTED after {took_peek:?}, a later enqueue failed fast after {took_enqueue:?}"
    );
    drop(queue);

    // 3. A restarted worker on a fresh region works.
    let run = DemoRun::run(&[
        "--count", "3000", "--size", "600", "--depth", "32", "--arena", "16384", "--window", "4",
    ]);
    assert_eq!(
        run.after("worker", "head"),
        3_001.0,
        "fresh region after the crash"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// (c) Stale names.

#[test]
fn a_crashed_creator_leaves_a_stale_name_that_is_refused_then_reclaimed() {
    let started = Instant::now();
    let name = unique_name("stale");
    let mut creator = spawn_child("stale-creator", &name, 1).expect("spawn creator");
    let line = line_starting(&mut creator, "created ", Duration::from_secs(10));
    let pid: u32 = line["created ".len()..].parse().expect("pid");
    assert_eq!(pid, creator.id());
    creator.kill().expect("SIGKILL the creator");
    // Not reaped yet: a zombie already counts as gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while ShmReadOnly::open(&name).unwrap().creator_alive() != Some(false) {
        assert!(
            Instant::now() < deadline,
            "killed creator still looks alive"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    wait_bounded(&mut creator, Duration::from_secs(5));

    // The name survived the crash and is never silently shared.
    let config = ShmConfig::new(4, 256, 256);
    let err = ShmRegion::create(&name, &config).unwrap_err();
    assert_eq!(
        err,
        ShmError::AlreadyExists {
            name: name.clone(),
            creator_pid: Some(pid),
            creator_alive: Some(false)
        }
    );
    let text = err.to_string();
    assert!(
        text.contains(&name) && text.contains("stale") && text.contains(&pid.to_string()),
        "{text}"
    );
    assert_eq!(err.status(), Status::Exists);
    let view = ShmReadOnly::open(&name).expect("a stale object is still inspectable");
    assert_eq!(view.creator_alive(), Some(false));
    assert_eq!(view.load_counter(L3L2Q_L3_ABORT_FLAG_OFFSET), Some(0xDEAD));

    // The C API refuses it too, unless asked to reclaim.
    let c_name = std::ffi::CString::new(name.clone()).unwrap();
    let c_config = ShmCreateConfig {
        depth: 4,
        input_arena_bytes: 256,
        output_arena_bytes: 256,
        region_id: 0,
        reclaim_stale: false,
    };
    let mut handle: *mut ShmHandle = std::ptr::null_mut();
    // SAFETY: valid pointers; the out-pointers are locals.
    let status = unsafe {
        l3l2q_shm_create(
            c_name.as_ptr(),
            &c_config,
            &mut handle,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, Status::Exists);
    assert!(handle.is_null());

    // Explicit reclaim: a fresh object (the scribbled counter is gone).
    let reclaimed = ShmRegion::create(
        &name,
        &ShmConfig {
            mode: CreateMode::ReclaimStale,
            ..config
        },
    )
    .expect("reclaim");
    assert_eq!(
        reclaimed.header().creator_pid,
        u64::from(std::process::id())
    );
    assert_eq!(reclaimed.load_counter(L3L2Q_L3_ABORT_FLAG_OFFSET), Ok(0));
    // Our own live object is not stale: reclaim refuses it, through both APIs.
    let again = ShmRegion::create(
        &name,
        &ShmConfig {
            mode: CreateMode::ReclaimStale,
            ..config
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            again,
            ShmError::AlreadyExists {
                creator_alive: Some(true),
                ..
            }
        ),
        "{again:?}"
    );
    let c_reclaim = ShmCreateConfig {
        reclaim_stale: true,
        ..c_config
    };
    // SAFETY: as above.
    let status = unsafe {
        l3l2q_shm_create(
            c_name.as_ptr(),
            &c_reclaim,
            &mut handle,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, Status::Exists);
    drop(reclaimed);
    assert!(matches!(
        ShmRegion::open(&name),
        Err(ShmError::NotFound { .. })
    ));

    // Through the C API, reclaim of a stale name succeeds and free unlinks it.
    let mut creator = spawn_child("stale-creator", &name, 1).expect("spawn creator");
    line_starting(&mut creator, "created ", Duration::from_secs(10));
    creator.kill().expect("SIGKILL the creator");
    wait_bounded(&mut creator, Duration::from_secs(5));
    // SAFETY: as above.
    let status = unsafe {
        l3l2q_shm_create(
            c_name.as_ptr(),
            &c_reclaim,
            &mut handle,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, Status::Ok);
    // SAFETY: `handle` is the live handle just created.
    assert_eq!(unsafe { l3l2q_shm_free(&mut handle) }, Status::Ok);
    assert!(matches!(
        ShmRegion::open(&name),
        Err(ShmError::NotFound { .. })
    ));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// (d) The inspect tool against a live queue.

#[test]
fn inspect_prints_a_live_queue_without_writing_and_survives_garbage() {
    let started = Instant::now();
    let name = unique_name("inspect");
    let mut queue = shm_l3(&name, 8, 1024);
    for (opcode, payload) in [
        (Opcode::Data, &b"ten bytes!"[..]),
        (Opcode::Data, &b""[..]),
        (Opcode::Error, &[7u8; 100][..]),
        (Opcode::Data, &b"seven b"[..]),
        (Opcode::Data, &[1u8; 64][..]),
    ] {
        queue.try_send(opcode, payload).unwrap();
    }
    // The L2 side in this process, through a second mapping: acquire two,
    // answer and release the first, keep holding the second.
    let shm = ShmRegion::open(&name).expect("open");
    let (descriptor, args) = (*shm.descriptor(), shm.queue_args());
    let mut l2 = L2Endpoint::with_region(shm, &descriptor, &args, 4, 0).unwrap();
    let first = l2.try_peek().unwrap();
    let _second = l2.try_peek().unwrap();
    l2.try_send(Opcode::Data, b"answer to the first").unwrap();
    l2.release(&first).unwrap();

    let file = PathBuf::from("/dev/shm").join(&name[1..]);
    let before = std::fs::read(&file).expect("read the object's bytes");
    let (status, out) = inspect(&name);
    assert!(status.success(), "inspect failed: {status}\n{out}");
    let after = std::fs::read(&file).expect("read the object's bytes");
    assert!(before == after, "inspect changed the shared memory");

    for expected in [
        "input_desc_tail  @0   written by L3: 5",
        "input_desc_head  @64  written by L2: 1",
        "output_desc_tail @128 written by L2: 1",
        "output_desc_head @192 written by L3: 0",
        "l3_abort_flag    @256 written by L3: 0",
        "l2_abort_flag    @320 written by L2: 0",
        "input ring (L3 -> L2): 4 pending",
        "output ring (L2 -> L3): 1 pending",
        "ERROR",
        "nbytes      100  ok",
        "nbytes       19  ok",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains("BAD"), "{out}");
    eprintln!("{out}");

    // Hostile contents: impossible input counters, a garbage output slot.
    let region = l2.region();
    region.store_counter(64, 5 + 1000).unwrap(); // input head far past the tail
    let slot = descriptor_slot_offset(&l2, 0);
    region.write_payload(slot, &[0xFF; 32]).unwrap();
    let (status, text) = inspect(&name);
    assert!(status.success(), "{status}\n{text}");
    assert!(text.contains("INCONSISTENT"), "{text}");
    assert!(text.contains("BAD: seq"), "{text}");
    assert!(text.contains("invalid"), "{text}");

    // Not an l3l2q object at all: a clean error, no panic.
    let foreign = unique_name("foreign");
    let created = ShmRegion::create(&foreign, &ShmConfig::new(1, 64, 64)).unwrap();
    let raw = PathBuf::from("/dev/shm").join(&foreign[1..]);
    // Overwrite the magic in place (no truncation of the mapped object).
    let file = std::fs::OpenOptions::new().write(true).open(&raw).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"garbage!", 0).unwrap();
    drop(file);
    let (status, _) = inspect(&foreign);
    assert_eq!(status.code(), Some(1), "inspect rejects a foreign object");
    drop(created);
    drop(l2);
    drop(queue);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

/// Runs the inspect example on `name`, showing up to 8 slots per ring.
fn inspect(name: &str) -> (ExitStatus, String) {
    let child = support::runner::program(example("inspect"))
        .args([name, "--slots", "8"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the inspect example");
    output_bounded(child, Duration::from_secs(10))
}

/// Payload offset of output slot `index`.
fn descriptor_slot_offset(l2: &L2Endpoint<ShmRegion>, index: u64) -> u64 {
    l2.layout().output_desc_offset + index * 32
}
