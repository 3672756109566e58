//! Liveness under random use: property tests with a seeded
//! xorshift, two threads, both directions.
//!
//! - Random message sizes from 0 to the full arena, with sizes that force
//!   a wrap right after a full drain; random try/abandon patterns (reserve
//!   then publish fewer or zero bytes, deferred commits, a failed large
//!   try followed by a small message); random window use and out-of-order
//!   releases on L2; batches on both sides. Every message arrives exactly
//!   once, in order, intact while held; nothing stalls (a watchdog fails a
//!   side that makes no progress) and nothing poisons.
//! - A strict scripted consumer, written here by hand, that requires each
//!   payload at the exact next position `tail % arena` unless it cannot
//!   fit before the arena end (then at 0), as other implementations of the
//!   format do, consumes what `L3Queue` produces with try_enqueue and its
//!   batch/blocking forms (reserve-shrink against a strict consumer, in
//!   both directions, is tests/shrink_wrap.rs).

mod support {
    pub mod opcodes;
    #[allow(
        dead_code,
        reason = "the raw peer is a kit; each test binary drives part of it"
    )]
    pub mod peer;
    #[allow(
        dead_code,
        reason = "the raw peer is a kit; each test binary drives part of it"
    )]
    pub mod region;
    pub mod rng;
    pub mod scale;
}

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use l3l2q::abi::*;
use l3l2q::region::MappedRegion;
use l3l2q::{Error, L2Endpoint, L3Queue, Message, Opcode, QueueConfig, TaskScalars};
use support::opcodes::{DATA, ERROR, STOP};
use support::peer::RawConsumer;
use support::region::RawRegion;
use support::rng::{XorShift, fill};

const IN_SALT: u64 = 0x1111_2222_3333_4444;
const OUT_SALT: u64 = 0x5555_6666_7777_8888;
/// A side that makes no progress for this long has deadlocked.
const STALL: Duration = Duration::from_secs(30);
const RECV: Duration = Duration::from_secs(30);

/// Whether an event of `percent` chance happens.
fn chance(rng: &mut XorShift, percent: u64) -> bool {
    rng.below(100) < percent
}

/// The payload of message `k` with `len` bytes in one direction.
fn pattern(salt: u64, k: u64, len: u64) -> Vec<u8> {
    let mut out = vec![0u8; len as usize];
    fill(&mut out, salt ^ k.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    out
}

/// A message as its producer published it: number, opcode, length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    k: u64,
    opcode: Opcode,
    len: u64,
}

/// A message not yet sent: its size and opcode.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    len: u64,
    opcode: Opcode,
}

/// Sizes 0..=arena, weighted towards the edges: empty, small, half, more
/// than half, exactly the arena, and just under it (these need an empty
/// arena and usually a wrap right after the drain).
fn candidate(rng: &mut XorShift, arena: u64) -> Candidate {
    let len = match rng.below(100) {
        0..=9 => 0,
        10..=39 => 1 + rng.below(64.min(arena)),
        40..=64 => 1 + rng.below(arena / 2),
        65..=84 => arena / 2 + rng.below(arena / 2 + 1),
        85..=91 => arena,
        _ => arena - rng.below(64.min(arena)),
    };
    Candidate {
        len,
        opcode: if chance(rng, 10) { ERROR } else { DATA },
    }
}

/// Ok, or None for the ordinary no-progress results; anything else fails.
fn soft<T>(result: Result<T, Error>, what: &str) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(Error::NoProgress | Error::Timeout) => None,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// Fails the test when this side stalls or the other side failed.
struct Watch<'a> {
    side: &'static str,
    last: Instant,
    failed: &'a AtomicBool,
    idle: u32,
}

impl<'a> Watch<'a> {
    fn new(side: &'static str, failed: &'a AtomicBool) -> Self {
        Watch {
            side,
            last: Instant::now(),
            failed,
            idle: 0,
        }
    }
    fn progress(&mut self) {
        self.last = Instant::now();
        self.idle = 0;
    }
    /// Called once per loop iteration; yields the core after a run of
    /// iterations without progress, so the peer thread gets to run.
    fn check(&mut self, state: impl FnOnce() -> String) {
        self.idle += 1;
        if self.idle % 16 == 0 {
            std::thread::yield_now();
        }
        assert!(
            !self.failed.load(Ordering::SeqCst),
            "{}: the other side failed",
            self.side
        );
        assert!(
            self.last.elapsed() < STALL,
            "{} made no progress for {STALL:?} (deadlock?): {}",
            self.side,
            state()
        );
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.failed.store(true, Ordering::SeqCst);
        }
    }
}

/// Where a consumer expects payloads, to count wraps: a wrap is a payload
/// at the arena start while the cursor was not at a cycle start; it needed
/// the empty-arena rule when it was longer than the cursor's position.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    at: u64,
    wraps: u64,
    wraps_after_drain: u64,
}

impl Cursor {
    /// Follows a payload of `n` bytes at arena offset `rel`; with `strict`
    /// only the exact next position (or 0 when it cannot fit) is allowed.
    fn try_follow(
        &mut self,
        arena: u64,
        n: u64,
        rel: u64,
        strict: bool,
        what: &str,
    ) -> Result<(), String> {
        if n == 0 {
            return if rel == 0 {
                Ok(())
            } else {
                Err(format!("{what}: a zero-byte message at offset {rel}"))
            };
        }
        let pos = self.at % arena;
        let fits = pos + n <= arena;
        if rel == pos && fits {
            self.at += n;
            return Ok(());
        }
        if rel != 0 {
            return Err(format!(
                "{what}: {n} bytes at {rel}, expected {pos} (or 0 when it cannot fit)"
            ));
        }
        if strict && fits {
            return Err(format!(
                "{what}: {n} bytes fit at {pos} but were placed at 0 (a strict consumer rejects this)"
            ));
        }
        self.wraps += 1;
        if n > pos {
            self.wraps_after_drain += 1;
        }
        self.at = self.at - pos + arena + n;
        Ok(())
    }

    fn follow(&mut self, arena: u64, n: u64, rel: u64, strict: bool, what: &str) {
        if let Err(e) = self.try_follow(arena, n, rel, strict, what) {
            panic!("{e}");
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Scenario {
    depth: u64,
    in_arena: u64,
    out_arena: u64,
    window: u64,
    inputs: u64,
    outputs: u64,
    seed: u64,
}

impl Scenario {
    fn random(seed: u64, messages: u64) -> Scenario {
        let mut rng = XorShift::new(seed);
        let depth = 1 << rng.below(7);
        Scenario {
            depth,
            in_arena: 64 * (1 + rng.below(48)),
            out_arena: 64 * (1 + rng.below(48)),
            window: 1 + rng.below(depth),
            inputs: messages,
            outputs: messages,
            seed,
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    messages: u64,
    no_progress: u64,
    small_after_large: u64,
    shrunk: u64,
    rolled_back: u64,
    deferred: u64,
    wraps: u64,
    wraps_after_drain: u64,
}

// ----------------------------------------------------------------- L3 side

/// The L3 thread: produces `inputs` messages then STOP, consumes
/// `outputs` messages, all by random operations.
fn l3_side(
    sc: Scenario,
    region: &RawRegion,
    scalars: Sender<TaskScalars>,
    sent_in: Sender<Sent>,
    sent_out: Receiver<Sent>,
    failed: &AtomicBool,
) -> Stats {
    let mut watch = Watch::new("L3", failed);
    // SAFETY: the raw region outlives this thread (scoped) and is mapped in this process.
    let mapped = unsafe { MappedRegion::from_descriptor(&region.descriptor()) }.expect("mapped");
    let mut q = L3Queue::create(
        mapped,
        &region.descriptor(),
        QueueConfig {
            depth: sc.depth,
            input_arena_bytes: sc.in_arena,
            output_arena_bytes: sc.out_arena,
        },
    )
    .expect("queue");
    scalars.send(q.task_scalars()).expect("L2 thread alive");
    let mut rng = XorShift::new(sc.seed ^ 0x33);
    let mut stats = Stats::default();
    let mut cands: VecDeque<Candidate> = VecDeque::new();
    let (mut next, mut stop_sent) = (0u64, false);
    let mut out = Outputs {
        held: VecDeque::new(),
        released: 0,
        last_end: 0,
        wraps: 0,
        buf: vec![0u8; sc.out_arena as usize],
        rx: sent_out,
        arena_off: q.layout().output_arena_offset,
    };
    let mut msgs = [Message::EMPTY; 8];

    while !(stop_sent && out.released == sc.outputs) {
        watch.check(|| {
            format!(
                "sent {next}/{} inputs, stop {stop_sent}, released {}/{} outputs",
                sc.inputs, out.released, sc.outputs
            )
        });
        if !stop_sent && chance(&mut rng, 55) {
            while cands.len() < 5 {
                cands.push_back(candidate(&mut rng, sc.in_arena));
            }
            if next == sc.inputs {
                if soft(q.try_request_stop(), "request_stop").is_some() {
                    stop_sent = true;
                    watch.progress();
                }
                continue;
            }
            let c = cands[0];
            let before = next;
            match rng.below(100) {
                0..=39 => match q.try_send(c.opcode, &pattern(IN_SALT, next, c.len)) {
                    Ok(()) => {
                        cands.pop_front();
                        sent_in
                            .send(Sent {
                                k: next,
                                opcode: c.opcode,
                                len: c.len,
                            })
                            .unwrap();
                        next += 1;
                    }
                    Err(Error::NoProgress) => {
                        stats.no_progress += 1;
                        // A failed large try followed by a small message.
                        let small = rng.below(17);
                        if c.len > 16
                            && chance(&mut rng, 50)
                            && soft(
                                q.try_send(Opcode::Data, &pattern(IN_SALT, next, small)),
                                "small",
                            )
                            .is_some()
                        {
                            sent_in
                                .send(Sent {
                                    k: next,
                                    opcode: DATA,
                                    len: small,
                                })
                                .unwrap();
                            next += 1;
                            stats.small_after_large += 1;
                        }
                    }
                    Err(e) => panic!("try_enqueue: {e:?}"),
                },
                40..=49 => {
                    if soft(
                        q.send(c.opcode, &pattern(IN_SALT, next, c.len), 200_000),
                        "enqueue",
                    )
                    .is_some()
                    {
                        cands.pop_front();
                        sent_in
                            .send(Sent {
                                k: next,
                                opcode: c.opcode,
                                len: c.len,
                            })
                            .unwrap();
                        next += 1;
                    }
                }
                50..=64 => {
                    let b = (1 + rng.below(4)).min(sc.inputs - next) as usize;
                    let opcode = c.opcode;
                    let payloads: Vec<Vec<u8>> = (0..b)
                        .map(|i| pattern(IN_SALT, next + i as u64, cands[i].len))
                        .collect();
                    if let Some(n) = soft(
                        q.try_send_batch(opcode, payloads.iter().map(Vec::as_slice)),
                        "batch",
                    ) {
                        for _ in 0..n {
                            let c = cands.pop_front().unwrap();
                            sent_in
                                .send(Sent {
                                    k: next,
                                    opcode,
                                    len: c.len,
                                })
                                .unwrap();
                            next += 1;
                        }
                    }
                }
                65..=94 => {
                    if let Some(r) = soft(q.try_reserve(c.len), "reserve") {
                        let used = match rng.below(4) {
                            0 => 0,
                            1 => rng.below(c.len + 1),
                            _ => c.len,
                        };
                        let p = pattern(IN_SALT, next, used);
                        let split = rng.below(used + 1) as usize;
                        q.write_reserved(&r, 0, &p[..split]).expect("write");
                        q.write_reserved(&r, split as u64, &p[split..])
                            .expect("write");
                        if chance(&mut rng, 30) {
                            q.publish_deferred(&r, c.opcode, used)
                                .expect("commit_deferred");
                            stats.deferred += 1;
                        } else {
                            q.publish(&r, c.opcode, used).expect("commit");
                        }
                        stats.rolled_back += u64::from(used == 0 && c.len > 0);
                        stats.shrunk += u64::from(used > 0 && used < c.len);
                        cands.pop_front();
                        sent_in
                            .send(Sent {
                                k: next,
                                opcode: c.opcode,
                                len: used,
                            })
                            .unwrap();
                        next += 1;
                    }
                }
                _ => q.flush().expect("flush"),
            }
            if next > before {
                watch.progress();
            }
            continue;
        }
        if out.released == sc.outputs {
            continue;
        }
        match rng.below(100) {
            0..=34 => {
                let m = if chance(&mut rng, 20) {
                    soft(q.peek(200_000), "peek")
                } else {
                    soft(q.try_peek(), "try_peek")
                };
                if let Some(m) = m {
                    out.seen(&mut q, &m, 0);
                    if chance(&mut rng, 70) {
                        q.release(&m).expect("release");
                        out.drop_front(1);
                        watch.progress();
                    }
                }
            }
            35..=54 => {
                let fresh = out.held.is_empty();
                if let Some((opcode, n)) = soft(q.try_dequeue_into(&mut out.buf), "dequeue") {
                    if fresh {
                        let e = out.rx.recv_timeout(RECV).expect("L2 announced the output");
                        assert_eq!(e.k, out.released, "outputs in order");
                        out.held.push_back(e);
                    }
                    let e = out.held[0];
                    assert_eq!((opcode, n as u64), (e.opcode, e.len), "output {e:?}");
                    assert!(
                        out.buf[..n] == pattern(OUT_SALT, e.k, e.len)[..],
                        "output {} payload",
                        e.k
                    );
                    out.drop_front(1);
                    watch.progress();
                }
            }
            _ => {
                let cap = 1 + rng.below(8) as usize;
                if let Some(n) = soft(q.try_peek_batch(&mut msgs[..cap]), "peek_batch") {
                    for (i, m) in msgs[..n].iter().enumerate() {
                        out.seen(&mut q, m, i);
                    }
                    let c = rng.below(n as u64 + 1) as usize;
                    q.release_batch(&msgs[..c]).expect("release_batch");
                    out.drop_front(c);
                    watch.progress();
                }
            }
        }
    }
    assert_eq!(
        q.try_peek(),
        Err(Error::NoProgress),
        "no output beyond the last"
    );
    assert!(q.error().is_none(), "L3 poisoned: {:?}", q.error());
    assert!(!q.peer_aborted());
    stats.messages = next + out.released;
    stats.wraps = out.wraps;
    stats
}

/// The L3 side's view of the outputs it holds.
struct Outputs {
    /// Acquired, not yet released, oldest first.
    held: VecDeque<Sent>,
    released: u64,
    /// Arena offset after the last payload seen, to count wraps loosely
    /// (the library itself checks positions).
    last_end: u64,
    wraps: u64,
    buf: Vec<u8>,
    rx: Receiver<Sent>,
    arena_off: u64,
}

impl Outputs {
    /// Checks output `m`, the `i`-th held one: the next announced output
    /// when new, else the same one again; its bytes are intact.
    fn seen(&mut self, q: &mut L3Queue<MappedRegion>, m: &Message, i: usize) {
        if i == self.held.len() {
            let e = self.rx.recv_timeout(RECV).expect("L2 announced the output");
            assert_eq!(
                e.k,
                self.released + i as u64,
                "outputs in order, exactly once"
            );
            if m.payload_nbytes > 0 {
                let rel = m.payload_offset - self.arena_off;
                self.wraps += u64::from(rel < self.last_end);
                self.last_end = rel + m.payload_nbytes;
            }
            self.held.push_back(e);
        }
        let e = self.held[i];
        assert_eq!(
            (m.seq, m.opcode(), m.payload_nbytes),
            (e.k + 1, e.opcode, e.len),
            "output {e:?}"
        );
        let n = q
            .read_into(m, &mut self.buf)
            .expect("read_into a held output");
        assert!(
            self.buf[..n] == pattern(OUT_SALT, e.k, e.len)[..],
            "output {} payload intact while held",
            e.k
        );
    }

    fn drop_front(&mut self, count: usize) {
        self.held.drain(..count);
        self.released += count as u64;
    }
}

// ----------------------------------------------------------------- L2 side

/// The L2 thread: consumes inputs with a window and out-of-order releases
/// until drained, produces `outputs` messages.
fn l2_side(
    sc: Scenario,
    scalars: Receiver<TaskScalars>,
    sent_in: Receiver<Sent>,
    sent_out: Sender<Sent>,
    failed: &AtomicBool,
) -> Stats {
    let mut watch = Watch::new("L2", failed);
    let scalars = scalars.recv_timeout(RECV).expect("task scalars");
    // SAFETY: the scalars describe the raw region, mapped in this process and outliving this thread.
    let mut ep = unsafe { L2Endpoint::from_task_scalars(&scalars, sc.window) }.expect("endpoint");
    let mut rng = XorShift::new(sc.seed ^ 0x22);
    let mut stats = Stats::default();
    let (mut next_in, mut next_out) = (0u64, 0u64);
    let mut held: Vec<(Message, Sent)> = Vec::new();
    let mut stop: Option<(Message, bool)> = None;
    let mut cursor = Cursor::default();
    let mut cands: VecDeque<Candidate> = VecDeque::new();
    let mut msgs = [Message::EMPTY; 8];
    let arena_off = ep.layout().input_arena_offset;

    while !(ep.drained() && next_out == sc.outputs) {
        watch.check(|| format!("received {next_in}/{} inputs, holding {}, stop {stop:?}, sent {next_out}/{} outputs", sc.inputs, held.len(), sc.outputs));
        if next_out == sc.outputs || chance(&mut rng, 50) {
            let room = sc.window - held.len() as u64;
            let mut accept = |m: Message,
                              ep: &L2Endpoint,
                              held: &mut Vec<(Message, Sent)>,
                              stop: &mut Option<(Message, bool)>| {
                if m.opcode == STOP {
                    assert_eq!(
                        (next_in, m.payload_nbytes, m.payload_offset),
                        (sc.inputs, 0, 0),
                        "STOP is last and empty"
                    );
                    *stop = Some((m, false));
                    return;
                }
                let e = sent_in.recv_timeout(RECV).expect("L3 announced the input");
                assert_eq!(e.k, next_in, "inputs in order, exactly once");
                assert_eq!(
                    (m.seq, m.opcode(), m.payload_nbytes),
                    (e.k + 1, e.opcode, e.len),
                    "input {e:?}"
                );
                let rel = if m.payload_nbytes == 0 {
                    0
                } else {
                    m.payload_offset - arena_off
                };
                cursor.follow(sc.in_arena, m.payload_nbytes, rel, false, "L2 input");
                assert!(
                    ep.payload(&m) == &pattern(IN_SALT, e.k, e.len)[..],
                    "input {} payload",
                    e.k
                );
                next_in += 1;
                held.push((m, e));
            };
            match rng.below(100) {
                0..=29 if room > 0 && stop.is_none() => {
                    let m = if chance(&mut rng, 20) {
                        soft(ep.peek(100_000), "peek")
                    } else {
                        soft(ep.try_peek(), "try_peek")
                    };
                    if let Some(m) = m {
                        accept(m, &ep, &mut held, &mut stop);
                        watch.progress();
                    }
                }
                30..=49 if room > 0 && stop.is_none() => {
                    let cap = (1 + rng.below(room)).min(8) as usize;
                    if let Some(n) = soft(ep.try_peek_batch(&mut msgs[..cap]), "peek_batch") {
                        for m in msgs[..n].iter().copied() {
                            accept(m, &ep, &mut held, &mut stop);
                        }
                        watch.progress();
                    }
                }
                _ if !held.is_empty() => {
                    // Release a random subset in random order, checking
                    // that no held payload was overwritten meanwhile.
                    let count = if chance(&mut rng, 50) {
                        1
                    } else {
                        1 + rng.below(held.len() as u64) as usize
                    };
                    let mut batch = Vec::new();
                    for _ in 0..count {
                        let (m, e) = held.swap_remove(rng.below(held.len() as u64) as usize);
                        assert!(
                            ep.payload(&m) == &pattern(IN_SALT, e.k, e.len)[..],
                            "input {} intact while held",
                            e.k
                        );
                        batch.push(m);
                    }
                    if batch.len() == 1 && chance(&mut rng, 50) {
                        ep.release(&batch[0]).expect("release");
                    } else {
                        ep.release_batch(&batch).expect("release_batch");
                    }
                    watch.progress();
                }
                _ => {
                    if let Some((m, false)) = stop {
                        ep.release(&m).expect("release STOP");
                        stop = Some((m, true));
                        watch.progress();
                    }
                }
            }
            continue;
        }
        while cands.len() < 5 {
            cands.push_back(candidate(&mut rng, sc.out_arena));
        }
        let c = cands[0];
        let before = next_out;
        match rng.below(100) {
            0..=39 => {
                let r = if chance(&mut rng, 20) {
                    soft(ep.reserve(c.len, 100_000), "reserve")
                } else {
                    soft(ep.try_reserve(c.len), "try_reserve")
                };
                if let Some(r) = r {
                    let used = match rng.below(4) {
                        0 => 0,
                        1 => rng.below(c.len + 1),
                        _ => c.len,
                    };
                    ep.reserved_mut(&r)[..used as usize]
                        .copy_from_slice(&pattern(OUT_SALT, next_out, used));
                    if chance(&mut rng, 30) {
                        ep.publish_deferred(&r, c.opcode, used)
                            .expect("publish_deferred");
                        stats.deferred += 1;
                    } else {
                        ep.publish(&r, c.opcode, used).expect("publish");
                    }
                    stats.rolled_back += u64::from(used == 0 && c.len > 0);
                    stats.shrunk += u64::from(used > 0 && used < c.len);
                    cands.pop_front();
                    sent_out
                        .send(Sent {
                            k: next_out,
                            opcode: c.opcode,
                            len: used,
                        })
                        .unwrap();
                    next_out += 1;
                }
            }
            40..=69 => match ep.try_send(c.opcode, &pattern(OUT_SALT, next_out, c.len)) {
                Ok(()) => {
                    cands.pop_front();
                    sent_out
                        .send(Sent {
                            k: next_out,
                            opcode: c.opcode,
                            len: c.len,
                        })
                        .unwrap();
                    next_out += 1;
                }
                Err(Error::NoProgress) => stats.no_progress += 1,
                Err(e) => panic!("try_send: {e:?}"),
            },
            70..=89 => {
                let b = (1 + rng.below(4)).min(sc.outputs - next_out) as usize;
                let payloads: Vec<Vec<u8>> = (0..b)
                    .map(|i| pattern(OUT_SALT, next_out + i as u64, cands[i].len))
                    .collect();
                if let Some(n) = soft(
                    ep.try_send_batch(c.opcode, payloads.iter().map(Vec::as_slice)),
                    "send_batch",
                ) {
                    for _ in 0..n {
                        let len = cands.pop_front().unwrap().len;
                        sent_out
                            .send(Sent {
                                k: next_out,
                                opcode: c.opcode,
                                len,
                            })
                            .unwrap();
                        next_out += 1;
                    }
                }
            }
            _ => ep.flush().expect("flush"),
        }
        if next_out == sc.outputs {
            ep.flush().expect("flush");
        }
        if next_out > before {
            watch.progress();
        }
    }
    assert!(held.is_empty() && next_in == sc.inputs);
    assert_eq!(ep.try_peek(), Err(Error::NoProgress), "nothing after STOP");
    assert!(sent_in.try_recv().is_err(), "every announced input arrived");
    assert!(ep.error().is_none(), "L2 poisoned: {:?}", ep.error());
    stats.messages = next_in + next_out;
    stats.wraps = cursor.wraps;
    stats.wraps_after_drain = cursor.wraps_after_drain;
    stats
}

fn run(sc: Scenario) -> (Stats, Stats) {
    let region = RawRegion::new(sc.depth, sc.in_arena, sc.out_arena);
    let failed = AtomicBool::new(false);
    let (scalars_tx, scalars_rx) = channel();
    let (in_tx, in_rx) = channel();
    let (out_tx, out_rx) = channel();
    let (l3, l2) = std::thread::scope(|s| {
        let l3 = s.spawn(|| l3_side(sc, &region, scalars_tx, in_tx, out_rx, &failed));
        let l2 = s.spawn(|| l2_side(sc, scalars_rx, in_rx, out_tx, &failed));
        (l3.join(), l2.join())
    });
    let (l3, l2) = match (l3, l2) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => panic!("{sc:?} failed (L3 ok: {}, L2 ok: {})", a.is_ok(), b.is_ok()),
    };
    let c: Vec<u32> = [0u64, 64, 128, 192, 256, 320]
        .iter()
        .map(|&o| region.counter(o))
        .collect();
    assert_eq!(
        c,
        [
            sc.inputs as u32 + 1,
            sc.inputs as u32 + 1,
            sc.outputs as u32,
            sc.outputs as u32,
            0,
            0
        ],
        "{sc:?}: final counters"
    );
    (l3, l2)
}

/// Messages per direction and scenario: `base`, times the integer in
/// `L3L2Q_LIVENESS_SCALE` for a longer soak (default 1), or the fraction
/// in `L3L2Q_TEST_SCALE` for a slow target.
fn messages(base: u64) -> u64 {
    support::scale::scaled(base)
        * std::env::var("L3L2Q_LIVENESS_SCALE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1u64)
            .max(1)
}

fn scenarios(random: u64, messages: u64) -> Vec<Scenario> {
    let fixed = |depth, in_arena, out_arena, window, seed| Scenario {
        depth,
        in_arena,
        out_arena,
        window,
        inputs: messages,
        outputs: messages,
        seed,
    };
    let mut all = vec![
        fixed(1, 64, 64, 1, 1),
        fixed(2, 192, 128, 2, 2),
        fixed(4, 1024, 640, 3, 3),
        fixed(8, 256, 4096, 1, 4),
        fixed(16, 4096, 1024, 16, 5),
        fixed(64, 31 * 64, 15 * 64, 8, 6),
    ];
    all.extend((0..random).map(|i| Scenario::random(0xabc0 + i, messages)));
    all
}

#[test]
fn random_use_delivers_every_message_once_in_order_without_stalls() {
    let started = Instant::now();
    let (
        mut total,
        mut wraps,
        mut drained_wraps,
        mut np,
        mut small,
        mut shrunk,
        mut rolled,
        mut deferred,
    ) = (0, 0, 0, 0, 0, 0, 0, 0);
    let all = scenarios(10, messages(4000));
    for sc in &all {
        let t = Instant::now();
        let (l3, l2) = run(*sc);
        eprintln!("  {sc:?}: {:?}", t.elapsed());
        total += l3.messages;
        wraps += l3.wraps + l2.wraps;
        drained_wraps += l3.wraps_after_drain + l2.wraps_after_drain;
        np += l3.no_progress + l2.no_progress;
        small += l3.small_after_large;
        shrunk += l3.shrunk + l2.shrunk;
        rolled += l3.rolled_back + l2.rolled_back;
        deferred += l3.deferred + l2.deferred;
    }
    eprintln!(
        "{} scenarios, {total} messages in {:?}: {wraps} wraps ({drained_wraps} needing the empty-arena rule), {np} full tries, \
         {small} small-after-failed-large, {shrunk} shrunk and {rolled} rolled-back reservations, {deferred} deferred commits",
        all.len(),
        started.elapsed()
    );
    assert!(
        wraps > 1000 && drained_wraps > 500 && small > 500 && rolled > 500,
        "the random mix exercised too little"
    );
}

// ------------------------------------------------------- strict consumer

/// A consumer of the input ring written from the wire format alone, as a
/// strict implementation elsewhere would: payload `n > 0` must sit at the
/// next position `cursor % arena`, or at 0 exactly when it cannot fit
/// before the arena end. It holds up to `hold` messages, re-checks their
/// bytes before releasing a FIFO prefix, and ends at STOP.
fn strict_consumer(
    sc: Scenario,
    region: &RawRegion,
    hold: usize,
    sent: Receiver<Sent>,
    failed: &AtomicBool,
) -> Cursor {
    let mut watch = Watch::new("strict consumer", failed);
    let l = region.layout;
    let mut rng = XorShift::new(sc.seed ^ 0x5);
    let (mut next, mut cursor, mut stopped) = (0u64, Cursor::default(), false);
    let mut held: VecDeque<(Sent, u64)> = VecDeque::new();
    loop {
        watch.check(|| format!("read {next}, holding {}", held.len()));
        let available = region
            .counter(L3L2Q_INPUT_DESC_TAIL_OFFSET)
            .wrapping_sub(next as u32);
        assert!(u64::from(available) <= sc.depth, "tail ran ahead");
        if available > 0 && held.len() < hold && !stopped {
            let slot = region.read_slot(l.input_desc_offset, next);
            assert_eq!(slot.seq, next + 1, "seq");
            if slot.opcode == STOP {
                assert_eq!(
                    (next, slot.payload_offset, slot.payload_nbytes),
                    (sc.inputs, 0, 0),
                    "STOP last and empty"
                );
                stopped = true;
            } else {
                let e = sent.recv_timeout(RECV).expect("announced");
                assert_eq!(
                    (e.k, u64::from(e.opcode), e.len),
                    (next, slot.opcode, slot.payload_nbytes),
                    "message {next}"
                );
                let rel = if e.len == 0 {
                    slot.payload_offset
                } else {
                    slot.payload_offset - l.input_arena_offset
                };
                cursor.follow(l.input_arena_bytes, e.len, rel, true, "strict consumer");
                assert!(
                    region.read(slot.payload_offset, e.len as usize)
                        == pattern(IN_SALT, e.k, e.len),
                    "payload {next}"
                );
                held.push_back((e, slot.payload_offset));
            }
            next += 1;
            watch.progress();
        }
        if !held.is_empty()
            && (chance(&mut rng, 30) || held.len() == hold || available == 0 || stopped)
        {
            let c = 1 + rng.below(held.len() as u64) as usize;
            for (e, off) in held.drain(..c) {
                assert!(
                    region.read(off, e.len as usize) == pattern(IN_SALT, e.k, e.len),
                    "payload {} intact while held",
                    e.k
                );
            }
            let head = held
                .front()
                .map_or(if stopped { next - 1 } else { next }, |(e, _)| e.k);
            region.set_counter(L3L2Q_INPUT_DESC_HEAD_OFFSET, head as u32);
            watch.progress();
        }
        if stopped && held.is_empty() {
            region.set_counter(L3L2Q_INPUT_DESC_HEAD_OFFSET, next as u32);
            return cursor;
        }
        if available == 0 {
            std::thread::yield_now();
        }
    }
}

/// L3 side for the strict consumer: try_enqueue (with a small message
/// after a failed large one), blocking enqueue and batches; never reserve.
fn strict_producer(
    sc: Scenario,
    region: &RawRegion,
    sent: Sender<Sent>,
    failed: &AtomicBool,
) -> u64 {
    let mut watch = Watch::new("L3 (strict)", failed);
    // SAFETY: the raw region outlives this thread and is mapped in this process.
    let mapped = unsafe { MappedRegion::from_descriptor(&region.descriptor()) }.expect("mapped");
    let mut q = L3Queue::create(
        mapped,
        &region.descriptor(),
        QueueConfig {
            depth: sc.depth,
            input_arena_bytes: sc.in_arena,
            output_arena_bytes: sc.out_arena,
        },
    )
    .expect("queue");
    let mut rng = XorShift::new(sc.seed ^ 0x7);
    let mut next = 0u64;
    let mut small_after_large = 0;
    let mut c = candidate(&mut rng, sc.in_arena);
    let announce = |k: u64, opcode: Opcode, len: u64| sent.send(Sent { k, opcode, len }).unwrap();
    while next < sc.inputs {
        watch.check(|| format!("sent {next}"));
        let before = next;
        match rng.below(100) {
            0..=59 => match q.try_send(c.opcode, &pattern(IN_SALT, next, c.len)) {
                Ok(()) => {
                    announce(next, c.opcode, c.len);
                    next += 1;
                    c = candidate(&mut rng, sc.in_arena);
                }
                Err(Error::NoProgress) => {
                    let small = rng.below(c.len.min(17));
                    if c.len > 16
                        && soft(
                            q.try_send(Opcode::Data, &pattern(IN_SALT, next, small)),
                            "small",
                        )
                        .is_some()
                    {
                        announce(next, DATA, small);
                        next += 1;
                        small_after_large += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
                Err(e) => panic!("try_enqueue: {e:?}"),
            },
            60..=79 => {
                if soft(
                    q.send(c.opcode, &pattern(IN_SALT, next, c.len), 200_000),
                    "enqueue",
                )
                .is_some()
                {
                    announce(next, c.opcode, c.len);
                    next += 1;
                    c = candidate(&mut rng, sc.in_arena);
                }
            }
            _ => {
                let b = (1 + rng.below(4)).min(sc.inputs - next);
                let mut batch = vec![c];
                batch.extend((1..b).map(|_| candidate(&mut rng, sc.in_arena)));
                let payloads: Vec<Vec<u8>> = batch
                    .iter()
                    .enumerate()
                    .map(|(i, x)| pattern(IN_SALT, next + i as u64, x.len))
                    .collect();
                let n = soft(
                    q.try_send_batch(c.opcode, payloads.iter().map(Vec::as_slice)),
                    "batch",
                )
                .unwrap_or(0);
                for x in &batch[..n] {
                    announce(next, c.opcode, x.len);
                    next += 1;
                }
                c = batch
                    .get(n)
                    .copied()
                    .unwrap_or_else(|| candidate(&mut rng, sc.in_arena));
            }
        }
        if next > before {
            watch.progress();
        }
    }
    loop {
        watch.check(|| "STOP".into());
        if soft(q.request_stop(1_000_000), "request_stop").is_some() {
            break;
        }
    }
    assert!(q.error().is_none(), "L3 poisoned: {:?}", q.error());
    small_after_large
}

#[test]
fn a_strict_consumer_accepts_every_placement_of_try_enqueue() {
    let started = Instant::now();
    let (mut total, mut wraps, mut drained, mut small) = (0, 0, 0, 0);
    let all = scenarios(10, messages(6000));
    for (i, sc) in all.iter().enumerate() {
        let region = RawRegion::new(sc.depth, sc.in_arena, sc.out_arena);
        let failed = AtomicBool::new(false);
        let hold = 1 + (i as u64 % sc.depth) as usize;
        let (tx, rx) = channel();
        let (p, c) = std::thread::scope(|s| {
            let p = s.spawn(|| strict_producer(*sc, &region, tx, &failed));
            let c = s.spawn(|| strict_consumer(*sc, &region, hold, rx, &failed));
            (p.join(), c.join())
        });
        let (p, c) = match (p, c) {
            (Ok(p), Ok(c)) => (p, c),
            (p, c) => panic!(
                "{sc:?} failed (producer ok: {}, consumer ok: {})",
                p.is_ok(),
                c.is_ok()
            ),
        };
        total += sc.inputs;
        wraps += c.wraps;
        drained += c.wraps_after_drain;
        small += p;
    }
    eprintln!(
        "strict consumer: {} scenarios, {total} messages in {:?}, {wraps} wraps ({drained} after a full drain), {small} small-after-failed-large",
        all.len(),
        started.elapsed()
    );
    assert!(
        wraps > 1000 && drained > 100,
        "the sizes exercised too few wraps"
    );
}

#[test]
fn the_strict_rule_accepts_a_shrunk_wrapped_reservation_and_rejects_a_needless_wrap() {
    // 300 B, a full drain, then 800 B reserved (it wraps to 0) and shrunk
    // to 10 B, which fit at 300: the producer moves them there (SPEC 7).
    // The same 10 B at 0 would be refused, which shows the strict consumer
    // above is strict.
    let region = RawRegion::new(4, 1024, 64);
    // SAFETY: the raw region outlives the queue and is mapped in this process.
    let mapped = unsafe { MappedRegion::from_descriptor(&region.descriptor()) }.expect("mapped");
    let mut q = L3Queue::create(
        mapped,
        &region.descriptor(),
        QueueConfig {
            depth: 4,
            input_arena_bytes: 1024,
            output_arena_bytes: 64,
        },
    )
    .expect("queue");
    let mut l2 = RawConsumer::input(&region, 0);
    q.try_send(Opcode::Data, &[1; 300]).unwrap();
    let (first, _) = l2.expect();
    l2.release_all();
    let r = q.try_reserve(800).unwrap();
    q.write_reserved(&r, 0, &[2; 10]).unwrap();
    q.publish(&r, Opcode::Data, 10).unwrap();
    let (shrunk, bytes) = l2.expect();
    let base = region.layout.input_arena_offset;
    let mut cursor = Cursor::default();
    cursor.follow(1024, 300, first.payload_offset - base, true, "first");
    assert_eq!(
        (shrunk.payload_offset, bytes),
        (base + 300, vec![2; 10]),
        "the shrunk reservation moved back before the wrap"
    );
    let needless = cursor.try_follow(1024, 10, 0, true, "needless wrap");
    assert!(
        needless.as_ref().is_err_and(|e| e.contains("fit at 300")),
        "{needless:?}"
    );
    cursor.follow(1024, 10, 300, true, "shrunk wrap");
    assert_eq!(cursor.wraps, 0);
}
