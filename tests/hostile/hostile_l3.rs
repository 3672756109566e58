//! An L3 queue (Rust or C API) under attack. The honest peer is the
//! library's own L2 endpoint on the same guarded memory; the adversary
//! (crate::adversary) plays a hostile L2 between the queue's steps.
//!
//! Checked after every call, besides the poison rules of harness::Watch:
//! outputs come with consecutive seq, DATA or ERROR only, inside the output
//! arena with a matching in-place pointer (every byte read); a repeated
//! peek returns the held message unchanged; read_into agrees with the
//! in-place bytes; a healthy queue's release, commit and flush succeed
//! whatever the peer wrote; input reservations lie inside the input arena;
//! after STOP the input side says STOPPED without poison; a blocking call
//! that times out says REMOTE_ABORTED exactly when the L2 flag is set. In
//! honest phases every payload is checked byte for byte, both directions.

use std::collections::VecDeque;

use l3l2q::abi::*;
use l3l2q::{Error, L2Endpoint, Message, Reservation};

use crate::adversary::{Adversary, Source, Victim, pick};
use crate::guarded::{Guarded, Mem};
use crate::harness::{
    DATA, ERROR, Plan, Shape, Stats, Watch, fill, is_pattern, lib, named, pattern,
};
use crate::l3_api::{NO_RESERVATION, Q};

/// One episode's state.
struct Run<'a, S: Source> {
    s: &'a mut S,
    stats: &'a mut Stats,
    plan: Plan,
    shape: Shape,
    mem: Mem,
    q: Q,
    peer: Option<L2Endpoint>,
    peer_held: Vec<Message>,
    adversary: Adversary,
    watch: Watch,
    /// Outputs held, oldest first.
    held: VecDeque<Message>,
    reservation: Option<(Reservation, u64)>,
    stopped: bool,
    next_seq: u64,
    tag: u64,
    checking: bool,
    expect_in: VecDeque<(u64, usize, u64)>,
    expect_out: VecDeque<(u64, usize, u64)>,
}

/// Runs one L3 episode on `guard`.
pub fn episode<S: Source>(s: &mut S, guard: &Guarded, plan: Plan, shape: Shape, stats: &mut Stats) {
    let l = shape.layout;
    let mem = guard.place(l.payload_bytes, shape.payload_at_end, shape.counters_at_end);
    let region_id = 0x3000 + stats.episodes;
    let descriptor = mem.descriptor(region_id);
    let q = Q::open(&mem, &shape, region_id, plan.ffi);
    // The queue zeroed the counters; now the honest L2 peer.
    // SAFETY: the guarded memory outlives the endpoint.
    let peer = unsafe {
        L2Endpoint::from_descriptor(&descriptor, &l.queue_args(), shape.window, shape.initial)
    }
    .expect("peer");
    let mut run = Run {
        s,
        plan,
        shape,
        mem,
        q,
        peer: Some(peer),
        peer_held: Vec::new(),
        adversary: Adversary {
            mem,
            layout: l,
            initial: shape.initial,
            victim: Victim::L3,
            spare_own: plan.concurrent,
        },
        watch: Watch::new(mem, Victim::L3, region_id),
        held: VecDeque::new(),
        reservation: None,
        stopped: false,
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
        self.watch.attacked = true;
        self.checking = false;
        crate::harness::attack_phase(self);
    }

    /// The honest L2 peer does one thing; it must not fail in honest phases.
    fn peer_step(&mut self) {
        let Some(peer) = self.peer.as_mut() else {
            return;
        };
        let result = match self.s.below(10) {
            0..=3 if self.shape.window > 1 || self.peer_held.is_empty() => {
                match lib("L2 peer try_peek", || peer.try_peek()) {
                    Ok(m) => {
                        if self.checking {
                            let (op, len, tag) = self
                                .expect_in
                                .pop_front()
                                .expect("an input the queue never sent");
                            assert_eq!(
                                (m.opcode, m.payload_nbytes),
                                (op, len as u64),
                                "input opcode/length"
                            );
                            assert!(is_pattern(peer.payload(&m), tag), "input payload corrupted");
                            self.stats.verified_messages += 1;
                        }
                        self.peer_held.push(m);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            4..=6 if !self.peer_held.is_empty() => {
                let m = self
                    .peer_held
                    .swap_remove(self.s.below(self.peer_held.len() as u64) as usize);
                lib("L2 peer release", || peer.release(&m))
            }
            _ => {
                let arena = self.shape.layout.output_arena_bytes as usize;
                let len = match self.s.below(4) {
                    0 => 0,
                    1 => arena,
                    _ => self.s.below(arena as u64 + 1) as usize,
                };
                let opcode = if self.s.chance(80) { DATA } else { ERROR };
                self.tag += 1;
                let r = lib("L2 peer try_send", || {
                    peer.try_send(named(opcode), &pattern(self.tag, len))
                });
                if r.is_ok() {
                    self.expect_out.push_back((opcode, len, self.tag));
                }
                r
            }
        };
        match result {
            Ok(()) | Err(Error::NoProgress) => {}
            Err(e) if self.checking => panic!("honest L2 peer failed: {e:?} {:?}", peer.error()),
            Err(Error::Poisoned(_)) => self.peer = None,
            Err(_) => {}
        }
    }

    fn judge<T>(&mut self, what: &str, before: [u32; 2], r: Result<T, Error>) -> Result<T, Error> {
        let record = self.q.record();
        self.watch.judge(what, &r, record, before);
        if r.is_ok() && self.watch.attacked {
            self.stats.ok_under_attack += 1;
        }
        if let Err(e) = &r {
            assert!(
                !matches!(e, Error::CallbackFailed | Error::BadDescriptor(_)),
                "{what}: unexpected {e:?}"
            );
            let flag = self.mem.load(L3L2Q_L2_ABORT_FLAG_OFFSET);
            match e {
                // A concurrent adversary may have changed the flag since the queue sampled it.
                Error::Timeout | Error::RemoteAborted if self.plan.concurrent => {}
                // A remote abort recorded earlier: the flag may have been cleared since.
                Error::RemoteAborted if !self.watch.just_terminated => {}
                Error::Timeout => assert_eq!(flag, 0, "{what}: TIMEOUT with the L2 abort flag set"),
                Error::RemoteAborted => {
                    assert_ne!(
                        flag, 0,
                        "{what}: REMOTE_ABORTED with the L2 abort flag clear"
                    );
                    self.stats.remote_aborted += 1;
                }
                Error::Stopped => {
                    assert!(self.stopped, "{what}: STOPPED before STOP was published")
                }
                _ => {}
            }
        }
        r
    }

    fn timeout(&mut self) -> Option<u64> {
        match self.s.below(8) {
            0 => Some(0),
            1 => Some(pick(self.s, &[1_000, 20_000])),
            _ => None,
        }
    }

    /// One queue call, chosen at random.
    fn step(&mut self) {
        self.stats.ffi_steps += self.plan.ffi as u64;
        let before = self.watch.before();
        let poisoned = self.watch.poisoned();
        let free = self.reservation.is_none() || poisoned;
        match self.s.below(100) {
            0..=13 if free => self.enqueue(before),
            14..=19 if free => self.enqueue_batch(before),
            20..=29 if free => self.reserve(before),
            30..=39 if !free || poisoned => self.commit(before),
            40..=42 => {
                let r = self.q.flush();
                let r = self.judge("flush", before, r);
                assert!(poisoned || r.is_ok(), "a healthy flush failed: {r:?}");
            }
            43 | 44 => self.stop(before),
            45..=59 => self.peek(before),
            60..=65 => self.peek_batch(before),
            66..=73 => self.read_held(before),
            74..=85 => self.release(before),
            _ => self.dequeue(before),
        }
    }

    fn payload(&mut self, len: usize) -> (u64, Vec<u8>) {
        self.tag += 1;
        (self.tag, pattern(self.tag, len))
    }

    fn input_len(&mut self) -> usize {
        let arena = self.shape.layout.input_arena_bytes;
        (match self.s.below(8) {
            0 => 0,
            1 => arena,
            2 => arena + 1, // BAD_ARGUMENT: can never fit
            _ => self.s.range(1, arena),
        }) as usize
    }

    fn enqueue(&mut self, before: [u32; 2]) {
        let len = self.input_len();
        let (tag, p) = self.payload(len);
        let opcode = if self.s.chance(80) { DATA } else { ERROR };
        let timeout = self.timeout();
        let r = self.q.send(opcode, &p, timeout);
        let r = self.judge("enqueue", before, r);
        if len as u64 > self.shape.layout.input_arena_bytes
            && !self.watch.poisoned()
            && !self.stopped
        {
            assert_eq!(r, Err(Error::BadArgument), "an oversized enqueue");
        }
        if r.is_ok() {
            assert!(!self.stopped, "enqueue succeeded after STOP");
            self.expect_in.push_back((opcode, len, tag));
        }
    }

    fn enqueue_batch(&mut self, before: [u32; 2]) {
        let k = self.s.range(1, 4);
        let mut batch = Vec::new();
        for _ in 0..k {
            let len = self
                .s
                .below(self.shape.layout.input_arena_bytes.min(256) + 1)
                as usize;
            batch.push(self.payload(len));
        }
        let opcode = if self.s.chance(80) { DATA } else { ERROR };
        let bytes: Vec<Vec<u8>> = batch.iter().map(|(_, p)| p.clone()).collect();
        let r = self.q.send_batch(opcode, &bytes);
        if let Ok(n) = self.judge("enqueue batch", before, r) {
            assert!(
                (1..=batch.len()).contains(&n),
                "sent {n} of {}",
                batch.len()
            );
            for (tag, p) in &batch[..n] {
                self.expect_in.push_back((opcode, p.len(), *tag));
            }
        }
    }

    fn reserve(&mut self, before: [u32; 2]) {
        let n = self.input_len() as u64;
        let r = self.q.reserve(n);
        let Ok(r) = self.judge("reserve", before, r) else {
            return;
        };
        let l = self.shape.layout;
        assert!(
            n <= l.input_arena_bytes && r.capacity == n,
            "reservation {r:?} for {n}"
        );
        if n == 0 {
            assert!(
                r.payload_offset == 0 && r.data.is_null(),
                "empty reservation {r:?}"
            );
        } else {
            let arena = l.input_arena_offset..l.input_arena_offset + l.input_arena_bytes;
            assert!(
                arena.contains(&r.payload_offset) && n <= arena.end - r.payload_offset,
                "reservation outside the input arena: {r:?}"
            );
            assert_eq!(
                r.data as usize,
                self.mem.payload as usize + r.payload_offset as usize
            );
        }
        let (tag, p) = self.payload(n as usize);
        if n > 0 && self.s.chance(50) {
            // Fill through the copy call, in two pieces.
            let cut = self.s.below(n + 1);
            let a = self.q.write_reserved(&r, 0, &p[..cut as usize]);
            self.judge("write_reserved", self.watch.before(), a)
                .expect("write into a live reservation");
            let b = self.q.write_reserved(&r, cut, &p[cut as usize..]);
            self.judge("write_reserved", self.watch.before(), b)
                .expect("write into a live reservation");
            let c = self.q.write_reserved(&r, 1, &p);
            assert_eq!(
                self.judge("write_reserved", self.watch.before(), c),
                Err(Error::BadArgument),
                "a write past the reservation"
            );
        } else if n > 0 {
            // SAFETY: checked above to be `n` bytes of the input arena, reserved for us.
            fill(
                unsafe { core::slice::from_raw_parts_mut(r.data, n as usize) },
                tag,
            );
        }
        self.reservation = Some((r, tag));
    }

    fn commit(&mut self, before: [u32; 2]) {
        let poisoned = self.watch.poisoned();
        let (r, tag) = self.reservation.unwrap_or((NO_RESERVATION, 0));
        let n = match self.s.below(3) {
            0 => r.capacity,
            1 => 0,
            _ => self.s.below(r.capacity + 1),
        };
        let opcode = if self.s.chance(80) { DATA } else { ERROR };
        let res = self.q.publish(&r, opcode, n, self.s.chance(30));
        let res = self.judge("commit", before, res);
        if poisoned {
            return;
        }
        assert!(
            res.is_ok(),
            "a healthy queue refused to commit its reservation: {res:?}"
        );
        self.reservation = None;
        self.expect_in.push_back((opcode, n as usize, tag));
    }

    fn stop(&mut self, before: [u32; 2]) {
        let timeout = self.timeout();
        let r = self.q.request_stop(timeout);
        let r = self.judge("request_stop", before, r);
        if self.watch.poisoned() {
            return;
        }
        match r {
            Ok(()) => {
                assert!(
                    !self.stopped && self.reservation.is_none(),
                    "STOP published twice or over a reservation"
                );
                self.stopped = true;
                self.expect_in.push_back((L3L2Q_OPCODE_STOP, 0, 0));
            }
            Err(Error::BadArgument) => assert!(
                self.reservation.is_some(),
                "request_stop refused without a reservation"
            ),
            Err(Error::Stopped) => assert!(self.stopped),
            Err(_) => {}
        }
    }

    /// Checks a newly acquired output; it becomes the youngest held one.
    fn on_output(&mut self, m: Message) {
        assert_eq!(m.seq, self.next_seq, "outputs out of sequence");
        self.next_seq = self.next_seq.wrapping_add(1);
        assert!(
            m.opcode == DATA || m.opcode == ERROR,
            "acquired output opcode {}",
            m.opcode
        );
        let l = self.shape.layout;
        let bytes: &[u8] = if m.payload_nbytes == 0 {
            assert!(
                m.payload_offset == 0 && m.data.is_null(),
                "zero-byte output {m:?}"
            );
            &[]
        } else {
            let arena = l.output_arena_offset..l.output_arena_offset + l.output_arena_bytes;
            assert!(
                arena.contains(&m.payload_offset)
                    && m.payload_nbytes <= arena.end - m.payload_offset,
                "payload outside the output arena: {m:?}"
            );
            assert_eq!(
                m.data as usize,
                self.mem.payload as usize + m.payload_offset as usize,
                "data pointer does not match the offset"
            );
            // SAFETY: just checked to lie inside the output arena; the message is held.
            unsafe { core::slice::from_raw_parts(m.data, m.payload_nbytes as usize) }
        };
        core::hint::black_box(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)));
        if self.checking {
            let (op, len, tag) = self.expect_out.pop_front().expect("an output nobody sent");
            assert_eq!(
                (m.opcode, m.payload_nbytes),
                (op, len as u64),
                "output opcode/length"
            );
            assert!(is_pattern(bytes, tag), "output payload corrupted");
            self.stats.verified_messages += 1;
        }
        self.held.push_back(m);
        assert!(
            self.held.len() as u64 <= self.shape.layout.depth.min(256),
            "held more outputs than allowed"
        );
    }

    fn peek(&mut self, before: [u32; 2]) {
        let timeout = self.timeout();
        let r = self.q.peek(timeout);
        if let Ok(m) = self.judge("peek", before, r) {
            match self.held.front() {
                Some(h) => assert_eq!(*h, m, "a repeated peek returned another message"),
                None => self.on_output(m),
            }
        }
    }

    fn peek_batch(&mut self, before: [u32; 2]) {
        let mut out = [Message::EMPTY; 6];
        let cap = self.s.below(7) as usize;
        let r = self.q.peek_batch(&mut out[..cap]);
        match self.judge("peek batch", before, r) {
            Ok(n) => {
                assert!(n >= 1 && n <= cap, "peek batch returned {n} of {cap}");
                let known = self.held.len().min(n);
                assert!(
                    self.held.iter().take(known).eq(out[..known].iter()),
                    "peek batch did not repeat the held outputs first"
                );
                for m in &out[known..n] {
                    self.on_output(*m);
                }
            }
            Err(e) => assert!(
                self.watch.poisoned()
                    || (cap == 0 && e == Error::NoProgress)
                    || self.held.is_empty(),
                "{e:?}"
            ),
        }
    }

    fn read_held(&mut self, before: [u32; 2]) {
        let Some(&m) = self.held.get(self.s.below(self.held.len() as u64) as usize) else {
            return;
        };
        let n = m.payload_nbytes as usize;
        let mut buf = vec![0u8; n + 8];
        let short = n > 0 && self.s.chance(20);
        let r = self
            .q
            .read_into(&m, if short { &mut buf[..n - 1] } else { &mut buf });
        let r = self.judge("read_into", before, r);
        if self.watch.poisoned() {
            return;
        }
        if short {
            assert_eq!(r, Err(Error::BufferTooSmall));
        } else {
            assert_eq!(r, Ok(n), "read_into of a held output");
            if self.plan.concurrent {
                return; // the adversary may rewrite the bytes meanwhile
            }
            // SAFETY: checked at acquisition to be `n` bytes of the output arena; still held.
            let in_place = if n == 0 {
                &[][..]
            } else {
                unsafe { core::slice::from_raw_parts(m.data, n) }
            };
            assert_eq!(
                &buf[..n],
                in_place,
                "read_into and the in-place bytes differ"
            );
        }
    }

    fn release(&mut self, before: [u32; 2]) {
        if self.held.is_empty() {
            return;
        }
        let k = if self.s.chance(70) {
            1
        } else {
            self.s.range(1, self.held.len() as u64) as usize
        };
        let batch: Vec<Message> = self.held.iter().take(k).copied().collect();
        let poisoned = self.watch.poisoned();
        let r = self.q.release(&batch);
        let r = self.judge("release", before, r);
        if !poisoned {
            assert!(
                r.is_ok(),
                "a healthy queue refused to release its oldest outputs: {r:?}"
            );
            self.held.drain(..k);
        }
    }

    fn dequeue(&mut self, before: [u32; 2]) {
        let cap = self.shape.layout.output_arena_bytes as usize;
        let cap = if self.s.chance(10) {
            self.s.below(cap as u64) as usize
        } else {
            cap
        };
        let mut buf = vec![0u8; cap];
        let timeout = self.timeout();
        let r = self.q.dequeue(&mut buf, timeout);
        let r = self.judge("dequeue", before, r);
        let held_before = self.held.len();
        match r {
            Ok((opcode, n)) => {
                if held_before == 0 {
                    // Acquired and released in one call: check it as new.
                    let m = Message {
                        seq: self.next_seq,
                        opcode,
                        payload_offset: 0,
                        payload_nbytes: n as u64,
                        data: core::ptr::null(),
                    };
                    self.next_seq = self.next_seq.wrapping_add(1);
                    assert!(
                        opcode == DATA || opcode == ERROR,
                        "dequeued opcode {opcode}"
                    );
                    if self.checking {
                        let (op, len, tag) =
                            self.expect_out.pop_front().expect("an output nobody sent");
                        assert_eq!((m.opcode, n), (op, len), "output opcode/length");
                        assert!(is_pattern(&buf[..n], tag), "output payload corrupted");
                        self.stats.verified_messages += 1;
                    }
                } else {
                    let h = self.held.pop_front().unwrap();
                    assert_eq!(
                        (h.opcode, h.payload_nbytes),
                        (opcode, n as u64),
                        "dequeue did not take the held output"
                    );
                }
            }
            Err(Error::BufferTooSmall) if held_before == 0 => {
                // The output was acquired and stays held: learn it by peeking.
                let r = self.q.peek(None);
                let m = self
                    .judge("peek", self.watch.before(), r)
                    .expect("the output kept by a short dequeue");
                self.on_output(m);
            }
            Err(_) => {}
        }
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
