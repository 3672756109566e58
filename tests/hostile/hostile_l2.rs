//! An L2 endpoint (Rust or C API) under attack. The honest peer is the
//! library's own L3 queue on the same guarded memory; the adversary
//! (crate::adversary) plays a hostile L3 between the endpoint's steps.
//!
//! Checked after every call, besides the poison rules of harness::Watch:
//! inputs come with consecutive seq and nothing after STOP; a payload lies
//! inside the input arena and its in-place pointer matches its offset (and
//! all its bytes are read, so a bad one faults on a guard page); a
//! reservation lies inside the output arena and is filled whole; a healthy
//! endpoint's release, publish and flush succeed whatever the peer wrote
//! (they read nothing shared); drained() is true exactly when STOP and
//! everything before it are released; a blocking call that times out says
//! REMOTE_ABORTED exactly when the L3 flag is set. In honest phases every
//! payload is checked byte for byte, in both directions.

use std::collections::VecDeque;

use l3l2q::abi::*;
use l3l2q::region::MappedRegion;
use l3l2q::{Error, L3Queue, Message, QueueConfig, Reservation};

use crate::adversary::{Adversary, Source, Victim, pick};
use crate::guarded::{Guarded, Mem};
use crate::harness::{
    DATA, ERROR, Plan, STOP, Shape, Stats, Watch, fill, is_pattern, lib, named, pattern,
};
use crate::l2_api::Ep;

/// One episode's state.
struct Run<'a, S: Source> {
    s: &'a mut S,
    stats: &'a mut Stats,
    plan: Plan,
    shape: Shape,
    mem: Mem,
    ep: Ep,
    peer: Option<L3Queue<MappedRegion>>,
    peer_stopped: bool,
    /// The peer sends nothing but STOP any more.
    draining: bool,
    adversary: Adversary,
    watch: Watch,
    held: Vec<Message>,
    stop: Option<Message>,
    stop_released: bool,
    reservation: Option<(Reservation, u64)>,
    next_seq: u64,
    tag: u64,
    /// Honest phase: what the peer sent and what the endpoint published.
    checking: bool,
    expect_in: VecDeque<(u64, usize, u64)>,
    expect_out: VecDeque<(u64, usize, u64)>,
}

/// Runs one L2 episode on `guard`.
pub fn episode<S: Source>(s: &mut S, guard: &Guarded, plan: Plan, shape: Shape, stats: &mut Stats) {
    let l = shape.layout;
    let mem = guard.place(l.payload_bytes, shape.payload_at_end, shape.counters_at_end);
    let region_id = 0x1000 + stats.episodes;
    let descriptor = mem.descriptor(region_id);
    // SAFETY: the guarded memory outlives the queue.
    let region = unsafe { MappedRegion::from_descriptor(&descriptor) }.expect("region");
    let peer = L3Queue::create_at(
        region,
        &descriptor,
        QueueConfig {
            depth: l.depth,
            input_arena_bytes: l.input_arena_bytes,
            output_arena_bytes: l.output_arena_bytes,
        },
        shape.initial,
    )
    .expect("peer");
    let ep = Ep::open(&mem, &shape, region_id, plan.ffi);
    let adversary = Adversary {
        mem,
        layout: l,
        initial: shape.initial,
        victim: Victim::L2,
        spare_own: plan.concurrent,
    };
    let mut run = Run {
        s,
        plan,
        shape,
        mem,
        ep,
        adversary,
        peer: Some(peer),
        peer_stopped: false,
        draining: false,
        watch: Watch::new(mem, Victim::L2, region_id),
        held: Vec::new(),
        stop: None,
        stop_released: false,
        reservation: None,
        next_seq: shape.initial.wrapping_add(1),
        tag: region_id << 20,
        checking: true,
        expect_in: VecDeque::new(),
        expect_out: VecDeque::new(),
        stats,
    };
    run.go();
}

impl<S: Source> Run<'_, S> {
    fn go(&mut self) {
        self.stats.episodes += 1;
        crate::harness::honest_phase(self);
        if self.plan.drain && !self.s.done() {
            self.drain();
        }
        self.watch.attacked = true;
        self.checking = false;
        crate::harness::attack_phase(self);
    }

    /// The honest L3 peer does one thing. In honest phases it must never
    /// fail; under attack it may poison itself, and is then dropped.
    fn peer_step(&mut self) {
        let Some(peer) = self.peer.as_mut() else {
            return;
        };
        let arena = self.shape.layout.input_arena_bytes as usize;
        let result = match self.s.below(10) {
            0..=4 if !self.peer_stopped && !self.draining => {
                let opcode = if self.s.chance(80) { DATA } else { ERROR };
                let len = match self.s.below(4) {
                    0 => 0,
                    1 => arena,
                    _ => self.s.below(arena as u64 + 1) as usize,
                };
                self.tag += 1;
                let payload = pattern(self.tag, len);
                let r = lib("L3 peer try_enqueue", || {
                    peer.try_send(named(opcode), &payload)
                });
                if r.is_ok() {
                    self.expect_in.push_back((opcode, len, self.tag));
                }
                r
            }
            9 if !self.peer_stopped && self.s.chance(3) => {
                let r = lib("L3 peer try_request_stop", || peer.try_request_stop());
                if r.is_ok() {
                    self.peer_stopped = true;
                    self.expect_in.push_back((STOP, 0, 0));
                }
                r
            }
            _ => {
                let mut buf = [0u8; 1024];
                match lib("L3 peer try_dequeue_into", || {
                    peer.try_dequeue_into(&mut buf)
                }) {
                    Ok((opcode, n)) => {
                        if self.checking {
                            let (op, len, tag) = self
                                .expect_out
                                .pop_front()
                                .expect("the peer got an output nobody published");
                            assert_eq!((u64::from(opcode), n), (op, len), "output opcode/length");
                            assert!(is_pattern(&buf[..n], tag), "output payload corrupted");
                            self.stats.verified_messages += 1;
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(()) | Err(Error::NoProgress) => {}
            Err(e) if self.checking => panic!("honest L3 peer failed: {e:?} {:?}", peer.error()),
            Err(Error::Poisoned(_)) => self.peer = None,
            Err(_) => {}
        }
    }

    /// Judges a victim call and returns its result.
    fn judge<T>(&mut self, what: &str, before: [u32; 2], r: Result<T, Error>) -> Result<T, Error> {
        let record = self.ep.record();
        self.watch.judge(what, &r, record, before);
        if r.is_ok() && self.watch.attacked {
            self.stats.ok_under_attack += 1;
        }
        if let Err(e) = &r {
            assert!(
                !matches!(
                    e,
                    Error::CallbackFailed | Error::BadDescriptor(_) | Error::Stopped
                ),
                "{what}: unexpected {e:?}"
            );
        }
        r
    }

    /// One victim call, chosen at random.
    fn step(&mut self) {
        self.stats.ffi_steps += self.plan.ffi as u64;
        let before = self.watch.before();
        let poisoned = self.watch.poisoned();
        let op = self.s.below(100);
        match op {
            0..=21 => self.peek(before, op % 4),
            22..=37 => self.release(before),
            38..=51 if self.reservation.is_none() || poisoned => self.reserve(before, None),
            52..=65 if self.reservation.is_some() || poisoned => self.publish(before),
            66..=69 => {
                let r = self.ep.flush();
                let r = self.judge("flush", before, r);
                assert!(poisoned || r.is_ok(), "a healthy flush failed: {r:?}");
            }
            70..=79 if self.reservation.is_none() || poisoned => self.send(before),
            80..=87 => self.read_held(),
            88..=90 => self.check_drained(),
            91 => self.consume(before),
            92 | 93 => {
                // Caller errors that must not poison: publishing more than
                // reserved, and empty batches.
                if let Some((r, _)) = self.reservation {
                    let res = self.ep.publish(&r, Opcode::Data, r.capacity + 1, false);
                    let res = self.judge("publish past capacity", before, res);
                    assert!(poisoned || res == Err(Error::BadArgument), "{res:?}");
                } else {
                    let res = self.ep.peek_batch(&mut []);
                    let res = self.judge("empty peek batch", before, res);
                    assert!(poisoned || res == Err(Error::NoProgress), "{res:?}");
                    let res = self.ep.send(Opcode::Data, &[]);
                    let res = self.judge("empty send batch", self.watch.before(), res);
                    assert!(poisoned || res == Err(Error::NoProgress), "{res:?}");
                }
            }
            94 | 95 => self.peek(before, 4),
            96 => self.consume(before),
            97..=99 if self.reservation.is_none() || poisoned => {
                let t = pick(self.s, &[1_000, 20_000]);
                self.reserve(before, Some(t))
            }
            _ => self.peek(before, 0),
        }
    }

    fn timed_out(&mut self, what: &str, e: &Error) {
        if self.plan.concurrent {
            return; // the flag may have changed since the endpoint sampled it
        }
        if matches!(e, Error::RemoteAborted) && !self.watch.just_terminated {
            return; // a remote abort recorded earlier: the flag may have been cleared since
        }
        let flag = self.mem.load(L3L2Q_L3_ABORT_FLAG_OFFSET);
        match e {
            Error::Timeout => assert_eq!(flag, 0, "{what}: TIMEOUT with the L3 abort flag set"),
            Error::RemoteAborted => {
                assert_ne!(
                    flag, 0,
                    "{what}: REMOTE_ABORTED with the L3 abort flag clear"
                );
                self.stats.remote_aborted += 1;
            }
            _ => {}
        }
    }

    fn peek(&mut self, before: [u32; 2], how: u64) {
        // With window 1, a second peek before release is an ownership
        // error: an honest caller does not do it.
        if !self.watch.poisoned() && self.shape.window == 1 && !self.held.is_empty() {
            return;
        }
        if how == 3 {
            let mut out = [Message::EMPTY; 4];
            let cap = self.s.range(1, 4) as usize;
            let r = self.ep.peek_batch(&mut out[..cap]);
            if let Ok(n) = self.judge("peek batch", before, r) {
                assert!((1..=cap).contains(&n), "peek batch returned {n} of {cap}");
                for (i, m) in out[..n].iter().enumerate() {
                    assert!(
                        m.opcode != STOP || i + 1 == n,
                        "STOP is not the last of a batch"
                    );
                    self.on_message(*m);
                }
            }
            return;
        }
        let timeout = match how {
            4 => Some(pick(self.s, &[1_000, 20_000])),
            1 => Some(0),
            _ => None,
        };
        let r = self.ep.peek(timeout);
        match self.judge("peek", before, r) {
            Ok(m) => self.on_message(m),
            Err(e) => self.timed_out("peek", &e),
        }
    }

    /// Checks an acquired input and takes it into the held set.
    fn on_message(&mut self, m: Message) {
        let bytes: &[u8] = if m.payload_nbytes == 0 {
            &[]
        } else {
            self.check_place(&m);
            // SAFETY: check_place checked it lies inside the input arena; the message is held.
            unsafe { core::slice::from_raw_parts(m.data, m.payload_nbytes as usize) }
        };
        let sum = bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)); // touch every byte
        core::hint::black_box(sum);
        self.check_input(&m, bytes);
        if m.opcode == STOP {
            self.stop = Some(m);
        } else {
            self.held.push(m);
            assert!(
                self.held.len() as u64 <= self.shape.window,
                "window overrun"
            );
        }
        if let Ep::Rust(ep) = &self.ep {
            assert!(ep.holds(&m), "holds() denies an acquired input");
        }
    }

    /// A non-empty input's payload lies inside the input arena and its
    /// in-place pointer matches its offset.
    fn check_place(&self, m: &Message) {
        let l = self.shape.layout;
        let arena = l.input_arena_offset..l.input_arena_offset + l.input_arena_bytes;
        assert!(
            arena.contains(&m.payload_offset) && m.payload_nbytes <= arena.end - m.payload_offset,
            "payload outside the input arena: {m:?}"
        );
        assert_eq!(
            m.data as usize,
            self.mem.payload as usize + m.payload_offset as usize,
            "data pointer does not match the offset"
        );
    }

    /// The rules every acquired input follows, whichever call took it:
    /// consecutive seq, nothing after STOP, a valid opcode, an empty
    /// message at offset 0 with no pointer, and in honest phases exactly
    /// what the peer sent.
    fn check_input(&mut self, m: &Message, bytes: &[u8]) {
        assert!(
            self.stop.is_none(),
            "an input was acquired after STOP: {m:?}"
        );
        assert_eq!(m.seq, self.next_seq, "inputs out of sequence");
        self.next_seq = self.next_seq.wrapping_add(1);
        match m.opcode {
            STOP => assert!(
                m.payload_nbytes == 0 && m.payload_offset == 0 && m.data.is_null(),
                "bad STOP {m:?}"
            ),
            DATA | ERROR => {}
            other => panic!("acquired opcode {other}"),
        }
        if m.payload_nbytes == 0 {
            assert!(
                m.payload_offset == 0 && m.data.is_null(),
                "zero-byte input {m:?}"
            );
        }
        assert_eq!(bytes.len() as u64, m.payload_nbytes, "payload length");
        if self.checking {
            let (op, len, tag) = self
                .expect_in
                .pop_front()
                .expect("an input the peer never sent");
            assert_eq!(
                (m.opcode, m.payload_nbytes),
                (op, len as u64),
                "input opcode/length"
            );
            assert!(is_pattern(bytes, tag), "input payload corrupted");
            self.stats.verified_messages += 1;
        }
    }

    /// `try_consume`: every input it visits is checked (its bytes as they
    /// were while held) and is released by the time it returns.
    fn consume(&mut self, before: [u32; 2]) {
        let max = self.s.range(1, 6) as usize;
        let mut seen = Vec::new();
        let r = self.ep.consume(max, &mut seen);
        let r = self.judge("consume", before, r);
        if let Ok(n) = r {
            assert!(
                (1..=max).contains(&n) && n == seen.len(),
                "consume reported {n} of {max}, visited {}",
                seen.len()
            );
        }
        for (i, (m, bytes)) in seen.iter().enumerate() {
            assert!(
                m.opcode != STOP || i + 1 == seen.len(),
                "STOP is not the last of a consume batch"
            );
            if m.payload_nbytes != 0 {
                self.check_place(m);
            }
            self.check_input(m, bytes);
            if m.opcode == STOP {
                self.stop = Some(*m);
                self.stop_released = true;
            }
            if let Ep::Rust(ep) = &self.ep {
                assert!(!ep.holds(m), "holds() a consumed input");
            }
        }
    }

    fn release(&mut self, before: [u32; 2]) {
        let mut pool: Vec<Message> = self.held.clone();
        if let Some(stop) = self.stop.filter(|_| !self.stop_released) {
            pool.push(stop);
        }
        if pool.is_empty() {
            return;
        }
        let k = if self.s.chance(70) {
            1
        } else {
            self.s.range(1, pool.len() as u64) as usize
        };
        let mut chosen = Vec::with_capacity(k);
        for _ in 0..k {
            chosen.push(pool.swap_remove(self.s.below(pool.len() as u64) as usize));
        }
        let poisoned = self.watch.poisoned();
        let r = self.ep.release(&chosen);
        let r = self.judge("release", before, r);
        if poisoned {
            return;
        }
        assert!(
            r.is_ok(),
            "a healthy endpoint refused to release held inputs: {r:?}"
        );
        for m in &chosen {
            if m.opcode == STOP {
                self.stop_released = true;
            } else {
                self.held.retain(|h| h.seq != m.seq);
            }
            if let Ep::Rust(ep) = &self.ep {
                assert!(!ep.holds(m), "holds() after release");
            }
        }
    }

    fn reserve(&mut self, before: [u32; 2], timeout: Option<u64>) {
        let arena = self.shape.layout.output_arena_bytes;
        let n = match self.s.below(6) {
            0 => 0,
            1 => arena,
            2 => arena + 1,
            _ => self.s.range(1, arena),
        };
        let r = self.ep.reserve(n, timeout);
        let r = match self.judge("reserve", before, r) {
            Ok(r) => r,
            Err(e) => {
                assert!(
                    n <= arena || e != Error::Timeout || timeout.is_some(),
                    "{e:?}"
                );
                return self.timed_out("reserve", &e);
            }
        };
        assert!(n <= arena, "reserved more than the arena holds");
        assert_eq!(r.capacity, n);
        let l = self.shape.layout;
        if n == 0 {
            assert!(
                r.payload_offset == 0 && r.data.is_null(),
                "empty reservation {r:?}"
            );
        } else {
            let out = l.output_arena_offset..l.output_arena_offset + l.output_arena_bytes;
            assert!(
                out.contains(&r.payload_offset) && n <= out.end - r.payload_offset,
                "reservation outside the output arena: {r:?}"
            );
            assert_eq!(
                r.data as usize,
                self.mem.payload as usize + r.payload_offset as usize
            );
        }
        self.tag += 1;
        let tag = self.tag;
        let bytes = self.ep.reserved(&r);
        assert_eq!(bytes.len() as u64, n, "in-place view of a reservation");
        fill(bytes, tag);
        self.reservation = Some((r, tag));
    }

    fn publish(&mut self, before: [u32; 2]) {
        let poisoned = self.watch.poisoned();
        let (r, tag) = self.reservation.unwrap_or((
            Reservation {
                token: 7,
                seq: 0,
                payload_offset: 0,
                capacity: 0,
                data: core::ptr::null_mut(),
            },
            0,
        ));
        let n = match self.s.below(3) {
            0 => r.capacity,
            1 => 0,
            _ => self.s.below(r.capacity + 1),
        };
        let opcode = if self.s.chance(80) { DATA } else { ERROR };
        let res = self.ep.publish(&r, opcode, n, self.s.chance(30));
        let res = self.judge("publish", before, res);
        if poisoned {
            return;
        }
        assert!(
            res.is_ok(),
            "a healthy endpoint refused to publish its reservation: {res:?}"
        );
        self.reservation = None;
        self.expect_out.push_back((opcode, n as usize, tag));
    }

    fn send(&mut self, before: [u32; 2]) {
        let arena = self.shape.layout.output_arena_bytes;
        let k = if self.s.chance(50) {
            1
        } else {
            self.s.range(1, 4)
        };
        let mut payloads = Vec::new();
        for _ in 0..k {
            self.tag += 1;
            let len = if self.s.chance(20) {
                0
            } else {
                self.s.range(1, arena.min(300))
            };
            payloads.push((self.tag, pattern(self.tag, len as usize)));
        }
        let opcode = if self.s.chance(80) { DATA } else { ERROR };
        let bytes: Vec<Vec<u8>> = payloads.iter().map(|(_, p)| p.clone()).collect();
        let r = self.ep.send(opcode, &bytes);
        if let Ok(n) = self.judge("send", before, r) {
            assert!(
                (1..=payloads.len()).contains(&n),
                "sent {n} of {}",
                payloads.len()
            );
            for (tag, p) in &payloads[..n] {
                self.expect_out.push_back((opcode, p.len(), *tag));
            }
        }
    }

    /// Reads a held input again: through copy_payload and payload() on the
    /// Rust API, which must agree with the in-place bytes.
    fn read_held(&mut self) {
        let Some(&m) = self.held.get(self.s.below(self.held.len() as u64) as usize) else {
            return;
        };
        let Ep::Rust(ep) = &self.ep else { return };
        let mut buf = vec![0u8; m.payload_nbytes as usize + 8];
        let r = lib("L2 copy_payload", || ep.copy_payload(&m, &mut buf));
        if self.watch.poisoned() {
            assert!(
                matches!(r, Err(Error::Poisoned(_) | Error::RemoteAborted)),
                "copy_payload on a poisoned endpoint: {r:?}"
            );
            return;
        }
        assert_eq!(r, Ok(m.payload_nbytes as usize));
        if !self.plan.concurrent {
            assert_eq!(
                ep.payload(&m),
                &buf[..m.payload_nbytes as usize],
                "copy and in-place view differ"
            );
        }
        if m.payload_nbytes > 0 {
            let r = lib("L2 copy_payload", || {
                ep.copy_payload(&m, &mut buf[..m.payload_nbytes as usize - 1])
            });
            assert_eq!(r, Err(Error::BufferTooSmall));
        }
    }

    fn check_drained(&mut self) {
        let drained = self.ep.drained();
        let expected = self.stop_released && self.held.is_empty();
        assert_eq!(
            drained,
            expected,
            "drained() with STOP released {} and {} held",
            self.stop_released,
            self.held.len()
        );
    }

    /// Ends an honest phase: STOP, then everything peeked and released,
    /// until the endpoint reports drained. Every input must have arrived.
    fn drain(&mut self) {
        self.draining = true;
        let limit = 8 * self.shape.layout.depth + 64;
        for _ in 0..limit {
            if let Some(peer) = self.peer.as_mut() {
                if !self.peer_stopped
                    && lib("L3 peer try_request_stop", || peer.try_request_stop()).is_ok()
                {
                    self.peer_stopped = true;
                    self.expect_in.push_back((STOP, 0, 0));
                }
            }
            if let Some((r, _)) = self.reservation {
                let res = self.ep.publish(&r, Opcode::Data, 0, false);
                self.judge("publish", self.watch.before(), res)
                    .expect("publish while draining");
                self.reservation = None;
                self.expect_out.push_back((DATA, 0, 0));
            }
            let mut all = std::mem::take(&mut self.held);
            all.extend(self.stop.filter(|_| !self.stop_released));
            if !all.is_empty() {
                let r = self.ep.release(&all);
                self.judge("release", self.watch.before(), r)
                    .expect("release while draining");
                self.stop_released |= self.stop.is_some();
            }
            let r = self.ep.peek(None);
            if let Ok(m) = self.judge("peek", self.watch.before(), r) {
                self.on_message(m);
            }
            self.peer_step();
            if self.ep.drained() {
                assert!(
                    self.expect_in.is_empty(),
                    "drained with {} inputs missing",
                    self.expect_in.len()
                );
                return self.check_drained();
            }
        }
        let endpoint = match &self.ep {
            Ep::Rust(ep) => format!("{ep:?}"),
            Ep::Ffi(_) => "(C API handle)".to_string(),
        };
        let counters: Vec<u32> = (0..6).map(|i| self.mem.load(i * 64)).collect();
        let last = self.ep.peek(None);
        panic!(
            "the endpoint did not drain within {limit} rounds (counters {counters:?}, peek now {last:?}): {} held, STOP {:?} released {}, peer stopped {}, {} inputs expected; {endpoint}; peer {:?}",
            self.held.len(),
            self.stop.map(|m| m.seq),
            self.stop_released,
            self.peer_stopped,
            self.expect_in.len(),
            self.peer,
        );
    }
}

impl<S: Source> crate::harness::Episode for Run<'_, S> {
    type Script = S;

    fn parts(&mut self) -> (&mut S, &Plan, &mut Stats, &Watch, Adversary) {
        (
            &mut *self.s,
            &self.plan,
            &mut *self.stats,
            &self.watch,
            self.adversary,
        )
    }

    fn step(&mut self) {
        Run::step(self);
    }

    fn peer_step(&mut self) {
        Run::peer_step(self);
    }
}
