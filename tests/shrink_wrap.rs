//! Issue 14, point 4: shrinking a reservation across a wrap (SPEC section
//! 7). A reservation that wrapped to the arena start and is published with
//! `m` bytes that would have fit at the position before the wrap must be
//! published at that position, with its bytes moved there and the padding
//! dropped, so that a strict consumer (one that accepts the arena start
//! only when the payload cannot fit before the arena end) accepts it.
//!
//! Both producers are checked (L3 `commit`/`commit_deferred`, L2
//! `publish`/`publish_deferred`), through the Rust API and the C API, over
//! mapped memory and over copy callbacks, against a raw peer
//! (tests/support/peer.rs) read by the strict placement rule below.

#[path = "support"]
mod support {
    #[allow(
        dead_code,
        reason = "the raw peer is a kit; each test binary drives part of it"
    )]
    pub mod faulty;
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
}

use std::mem::MaybeUninit;

use l3l2q::abi::*;
use l3l2q::ffi::{l2 as c2, l3 as c3};
use l3l2q::region::{CallbackRegion, MappedRegion, Region};
use l3l2q::*;
use support::faulty::{CallKind, FaultyCallbacks};
use support::peer::RawConsumer;
use support::region::RawRegion;

const DATA: Opcode = Opcode::Data;
const ERROR: Opcode = Opcode::Error;

/// The placement rule of a strict consumer (the other implementation of
/// the format): a payload of `n > 0` bytes sits at the next position
/// `cursor % arena`, or at 0 only when it cannot fit before the arena end.
#[derive(Debug, Default, Clone, Copy)]
struct Strict {
    cursor: u64,
}

impl Strict {
    /// Follows a payload at arena-relative `rel`, or says why a strict
    /// consumer rejects it.
    fn follow(&mut self, arena: u64, n: u64, rel: u64) -> Result<(), String> {
        if n == 0 {
            return if rel == 0 {
                Ok(())
            } else {
                Err(format!("zero bytes at {rel}"))
            };
        }
        let pos = self.cursor % arena;
        let expected = if pos + n <= arena { pos } else { 0 };
        if rel != expected {
            return Err(format!(
                "payload replay offset mismatch: {n} bytes at {rel}, expected {expected}"
            ));
        }
        self.cursor = if expected == pos {
            self.cursor + n
        } else {
            self.cursor - pos + arena + n
        };
        Ok(())
    }

    /// Follows every slot in `slots`, whose payload offsets are relative to
    /// the payload base with the arena at `arena_offset`; panics with the
    /// strict consumer's complaint.
    #[track_caller]
    fn accept(&mut self, arena_offset: u64, arena: u64, slots: &[DescriptorSlot]) {
        for s in slots {
            let rel = if s.payload_nbytes == 0 {
                s.payload_offset
            } else {
                s.payload_offset - arena_offset
            };
            if let Err(e) = self.follow(arena, s.payload_nbytes, rel) {
                panic!("seq {}: {e}", s.seq);
            }
        }
    }
}

/// `n` distinguishable bytes (no period short enough to hide a misplaced chunk).
fn bytes(n: usize, tag: u8) -> Vec<u8> {
    (0..n)
        .map(|i| tag.wrapping_add((i as u8).wrapping_mul(7)) ^ ((i >> 8) as u8).wrapping_mul(13))
        .collect()
}

fn mapped(region: &RawRegion) -> MappedRegion {
    // SAFETY: every test declares the raw region before anything built on this, so it outlives it.
    unsafe { MappedRegion::from_descriptor(&region.descriptor()) }.expect("mapped")
}

fn l3_over<R: Region>(backend: R, region: &RawRegion) -> L3Queue<R> {
    let l = region.layout;
    L3Queue::create(
        backend,
        &region.descriptor(),
        l3l2q::QueueConfig {
            depth: l.depth,
            input_arena_bytes: l.input_arena_bytes,
            output_arena_bytes: l.output_arena_bytes,
        },
    )
    .expect("queue")
}

fn l2_over<R: Region>(backend: R, region: &RawRegion) -> L2Endpoint<R> {
    L2Endpoint::with_region(backend, &region.descriptor(), &region.args(), 1, 0).expect("endpoint")
}

/// The slots and payloads the raw L2 reads from the input ring, released.
fn drain_input(l2: &mut RawConsumer) -> Vec<(DescriptorSlot, Vec<u8>)> {
    let mut all = Vec::new();
    while let Some(m) = l2.take() {
        all.push(m);
    }
    l2.release_all();
    all
}

/// The two ways a producer takes a reservation, publishes it and sends a
/// plain message, so one scenario runs against both producers.
trait Producer {
    fn try_reserve_any(&mut self, n: u64) -> Result<Reservation, Error>;
    fn fill(&mut self, r: &Reservation, at: u64, src: &[u8]);
    fn publish(
        &mut self,
        r: &Reservation,
        opcode: Opcode,
        n: u64,
        deferred: bool,
    ) -> Result<(), Error>;
    fn try_send_any(&mut self, payload: &[u8]) -> Result<(), Error>;
    fn healthy(&self) -> bool;

    fn reserve(&mut self, n: u64) -> Reservation {
        self.try_reserve_any(n).expect("reserve")
    }
    fn send(&mut self, payload: &[u8]) {
        self.try_send_any(payload).expect("send")
    }
}

impl<R: Region> Producer for L3Queue<R> {
    fn try_reserve_any(&mut self, n: u64) -> Result<Reservation, Error> {
        self.try_reserve(n)
    }
    fn fill(&mut self, r: &Reservation, at: u64, src: &[u8]) {
        self.write_reserved(r, at, src).expect("write_reserved")
    }
    fn publish(
        &mut self,
        r: &Reservation,
        opcode: Opcode,
        n: u64,
        deferred: bool,
    ) -> Result<(), Error> {
        if deferred {
            self.publish_deferred(r, opcode, n)?;
            self.flush()
        } else {
            self.publish(r, opcode, n)
        }
    }
    fn try_send_any(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.try_send(Opcode::Data, payload)
    }
    fn healthy(&self) -> bool {
        self.error().is_none()
    }
}

impl<R: Region> Producer for L2Endpoint<R> {
    fn try_reserve_any(&mut self, n: u64) -> Result<Reservation, Error> {
        self.try_reserve(n)
    }
    fn fill(&mut self, r: &Reservation, at: u64, src: &[u8]) {
        self.write_reserved(r, at, src).expect("write_reserved")
    }
    fn publish(
        &mut self,
        r: &Reservation,
        opcode: Opcode,
        n: u64,
        deferred: bool,
    ) -> Result<(), Error> {
        if deferred {
            self.publish_deferred(r, opcode, n)?;
            self.flush()
        } else {
            L2Endpoint::publish(self, r, opcode, n)
        }
    }
    fn try_send_any(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.try_send(Opcode::Data, payload)
    }
    fn healthy(&self) -> bool {
        self.error().is_none()
    }
}

/// Which ring a scenario produces on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ring {
    Input,
    Output,
}

impl Ring {
    fn arena(self, region: &RawRegion) -> (u64, u64) {
        let l = region.layout;
        match self {
            Ring::Input => (l.input_arena_offset, l.input_arena_bytes),
            Ring::Output => (l.output_arena_offset, l.output_arena_bytes),
        }
    }
    fn consumer(self, region: &RawRegion) -> RawConsumer<'_> {
        match self {
            Ring::Input => RawConsumer::input(region, 0),
            Ring::Output => RawConsumer::output(region, 0),
        }
    }
}

/// The issue's case: a 1024 B arena drained at 300, 800 B reserved (it
/// wraps to the arena start) and published with `m` bytes. With `m <= 724`
/// the message must sit at 300 with its bytes intact, a later message
/// follows it at `300 + m`, and the strict consumer accepts all of it.
fn issue_case(p: &mut dyn Producer, region: &RawRegion, ring: Ring, m: u64, deferred: bool) {
    let (base, arena) = ring.arena(region);
    assert_eq!(arena, 1024);
    let mut peer = ring.consumer(region);
    let mut strict = Strict::default();
    let first = bytes(300, 1);
    p.send(&first);
    let got = drain_input(&mut peer);
    assert_eq!(got.len(), 1);
    strict.accept(base, arena, &[got[0].0]);

    let r = p.reserve(800);
    assert_eq!(
        (r.payload_offset, r.capacity),
        (base, 800),
        "800 B wrap to the arena start"
    );
    let payload = bytes(m as usize, 2);
    p.fill(&r, 0, &payload);
    p.publish(&r, Opcode::Data, m, deferred).expect("publish");
    let mut got = Vec::new();
    if m > 724 {
        // A real wrap: its padding counts as used until the message is released.
        got = drain_input(&mut peer);
    }
    p.send(b"after");
    got.extend(drain_input(&mut peer));
    assert_eq!(got.len(), 2);
    let (slot, seen) = &got[0];
    let expected = if m <= 724 { base + 300 } else { base };
    assert_eq!(
        (
            slot.seq,
            slot.opcode,
            slot.payload_offset,
            slot.payload_nbytes
        ),
        (2, u64::from(DATA), expected, m),
        "{ring:?}: {m} B published at {} instead of {expected}",
        slot.payload_offset
    );
    assert!(seen == &payload, "{ring:?}: the moved bytes arrive intact");
    let after = if m <= 724 {
        base + (300 + m) % 1024
    } else {
        base + m
    };
    assert_eq!(
        (got[1].0.payload_offset, &got[1].1[..]),
        (after, &b"after"[..])
    );
    strict.accept(base, arena, &[got[0].0, got[1].0]);
    assert!(
        p.healthy(),
        "{ring:?}: the producer's replay accepts what it published"
    );

    // The producer replays the moved slot when it refreshes: a full-arena message after a drain still fits.
    let big = bytes(1024, 3);
    p.send(&big);
    let got = drain_input(&mut peer);
    assert_eq!((got[0].0.payload_offset, got[0].1 == big), (base, true));
    strict.accept(base, arena, &[got[0].0]);
    assert!(p.healthy());
}

#[test]
fn l3_commit_of_a_shrunk_wrapped_reservation_goes_before_the_wrap() {
    for deferred in [false, true] {
        for m in [1, 100, 300, 500, 724, 725, 800] {
            let region = RawRegion::new(4, 1024, 64);
            let mut q = l3_over(mapped(&region), &region);
            issue_case(&mut q, &region, Ring::Input, m, deferred);
        }
    }
}

#[test]
fn l2_publish_of_a_shrunk_wrapped_reservation_goes_before_the_wrap() {
    for deferred in [false, true] {
        for m in [1, 100, 300, 500, 724, 725, 800] {
            let region = RawRegion::new(4, 64, 1024);
            let mut l2 = l2_over(mapped(&region), &region);
            issue_case(&mut l2, &region, Ring::Output, m, deferred);
        }
    }
}

#[test]
fn l3_commit_over_copy_callbacks_moves_the_bytes_through_the_callbacks() {
    for deferred in [false, true] {
        for m in [100, 299, 300, 301, 700, 724, 725] {
            let region = RawRegion::new(4, 1024, 64);
            let callbacks = FaultyCallbacks::new(&region);
            // SAFETY: `callbacks` outlives the queue (declared before it).
            let mut q = l3_over(unsafe { callbacks.backend() }, &region);
            issue_case(&mut q, &region, Ring::Input, m, deferred);
        }
    }
}

#[test]
fn l2_publish_over_a_copying_region_moves_the_bytes_through_the_copies() {
    for m in [100, 301, 700, 724] {
        let region = RawRegion::new(4, 64, 1024);
        let callbacks = FaultyCallbacks::new(&region);
        // SAFETY: `callbacks` outlives the endpoint (declared before it).
        let mut l2 = l2_over(unsafe { callbacks.backend() }, &region);
        issue_case(&mut l2, &region, Ring::Output, m, false);
    }
}

#[test]
fn a_shrunk_wrap_with_live_bytes_moves_back_without_touching_them() {
    // Live bytes [900, 1000) held by the consumer; 100 B reserved wrap to 0 (they fit before 900) and are
    // shrunk to 24, which fit at 1000 up to the arena end.
    let region = RawRegion::new(8, 1024, 64);
    let mut q = l3_over(mapped(&region), &region);
    let mut peer = RawConsumer::input(&region, 0);
    let base = region.layout.input_arena_offset;
    q.try_send(Opcode::Data, &bytes(900, 1)).unwrap();
    drain_input(&mut peer);
    let held = bytes(100, 2);
    q.try_send(Opcode::Data, &held).unwrap();
    let (held_slot, _) = peer.expect();
    assert_eq!(held_slot.payload_offset, base + 900);
    let r = q.try_reserve(100).unwrap();
    assert_eq!(r.payload_offset, base, "wrapped");
    q.write_reserved(&r, 0, &bytes(24, 3)).unwrap();
    q.publish(&r, Opcode::Error, 24).unwrap();
    let (slot, seen) = peer.expect();
    assert_eq!(
        (slot.opcode, slot.payload_offset, seen),
        (u64::from(ERROR), base + 1000, bytes(24, 3))
    );
    assert_eq!(
        region.read(base + 900, 100),
        held,
        "the held message is untouched"
    );
    let mut strict = Strict { cursor: 900 };
    strict.accept(base, 1024, &[held_slot, slot]);
    peer.release_all();
    // Nothing is left live and the cursor is at the arena end: the next message starts at 0 without a wrap.
    q.try_send(Opcode::Data, &bytes(1024, 4)).unwrap();
    let (next, _) = peer.expect();
    strict.accept(base, 1024, &[next]);
    assert!(q.error().is_none());
}

#[test]
fn a_failed_move_poisons_instead_of_publishing_at_the_wrong_place() {
    for kind in [CallKind::PayloadRead, CallKind::PayloadWrite] {
        let region = RawRegion::new(4, 1024, 64);
        let callbacks = FaultyCallbacks::new(&region);
        // SAFETY: `callbacks` outlives the queue (declared before it).
        let mut q: L3Queue<CallbackRegion> = l3_over(unsafe { callbacks.backend() }, &region);
        let mut peer = RawConsumer::input(&region, 0);
        q.try_send(Opcode::Data, &bytes(300, 1)).unwrap();
        drain_input(&mut peer);
        let r = q.try_reserve(800).unwrap();
        q.write_reserved(&r, 0, &bytes(500, 2)).unwrap();
        callbacks.fail_nth(kind, 1);
        let tail = region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET);
        assert_eq!(
            q.publish(&r, Opcode::Data, 500),
            Err(Error::Poisoned(ErrorKind::EndpointError)),
            "{kind:?}"
        );
        let info = *q.error().expect("poisoned");
        assert_eq!(
            (info.kind(), info.operation),
            (ErrorKind::EndpointError, Operation::Publish as u32)
        );
        assert_eq!(
            region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET),
            tail,
            "nothing published"
        );
        assert_eq!(
            region.counter(L3L2Q_L3_ABORT_FLAG_OFFSET),
            1,
            "the peer is told"
        );
        assert!(peer.take().is_none());
    }
}

// ------------------------------------------------------------- the C API

fn zeroed_reservation() -> MaybeUninit<Reservation> {
    MaybeUninit::zeroed()
}

#[test]
fn c_l3_commit_of_a_shrunk_wrapped_reservation_goes_before_the_wrap() {
    for (callbacks_backend, deferred) in [(false, false), (false, true), (true, false)] {
        let region = RawRegion::new(4, 1024, 64);
        let callbacks = FaultyCallbacks::new(&region);
        let descriptor = region.descriptor();
        let config = c3::L3Config {
            depth: 4,
            input_arena_bytes: 1024,
            output_arena_bytes: 64,
            initial_count: 0,
        };
        let mut h = std::ptr::null_mut();
        // SAFETY: valid pointers; the raw region and the callbacks outlive the handle (freed below).
        let status = unsafe {
            if callbacks_backend {
                c3::l3l2q_l3_queue_create_callbacks(
                    &descriptor,
                    &callbacks.vtable(),
                    &config,
                    &mut h,
                    std::ptr::null_mut(),
                )
            } else {
                c3::l3l2q_l3_queue_create_mapped(&descriptor, &config, &mut h, std::ptr::null_mut())
            }
        };
        assert_eq!(status, Status::Ok);
        let base = region.layout.input_arena_offset;
        let mut peer = RawConsumer::input(&region, 0);
        let first = bytes(300, 1);
        // SAFETY (every call below): `h` is live and every pointer names a live local of the right size.
        unsafe {
            assert_eq!(
                c3::l3l2q_l3_try_enqueue(h, L3L2Q_OPCODE_DATA, first.as_ptr(), first.len()),
                Status::Ok
            );
            drain_input(&mut peer);
            let mut r = zeroed_reservation();
            assert_eq!(c3::l3l2q_l3_try_reserve(h, 800, r.as_mut_ptr()), Status::Ok);
            let r = r.assume_init();
            assert_eq!(r.payload_offset, base, "wrapped");
            let payload = bytes(100, 2);
            if callbacks_backend {
                assert!(r.data.is_null());
                assert_eq!(
                    c3::l3l2q_l3_write_reserved(h, &r, 0, payload.as_ptr(), payload.len()),
                    Status::Ok
                );
            } else {
                // Zero-copy: fill in place.
                std::ptr::copy_nonoverlapping(payload.as_ptr(), r.data, payload.len());
            }
            if deferred {
                assert_eq!(
                    c3::l3l2q_l3_commit_deferred(h, &r, L3L2Q_OPCODE_DATA, 100),
                    Status::Ok
                );
                assert!(peer.take().is_none(), "deferred: not visible yet");
                assert_eq!(c3::l3l2q_l3_flush(h), Status::Ok);
            } else {
                assert_eq!(
                    c3::l3l2q_l3_commit(h, &r, L3L2Q_OPCODE_DATA, 100),
                    Status::Ok
                );
            }
            let (slot, seen) = peer.expect();
            assert_eq!(
                (slot.payload_offset, slot.payload_nbytes),
                (base + 300, 100)
            );
            assert_eq!(seen, payload);
            let mut info = ErrorInfo::none();
            assert_eq!(c3::l3l2q_l3_error(h, &mut info), Status::Ok);
            assert_eq!(info.kind(), ErrorKind::None);
            assert_eq!(c3::l3l2q_l3_queue_free(&mut h), Status::Ok);
        }
    }
}

#[test]
fn c_l2_publish_of_a_shrunk_wrapped_reservation_goes_before_the_wrap() {
    for deferred in [false, true] {
        let region = RawRegion::new(4, 64, 1024);
        let base = region.layout.output_arena_offset;
        let scalars = region.scalars();
        let config = c2::L2Config {
            max_inflight: 1,
            initial_count: 0,
        };
        let mut h = std::ptr::null_mut();
        let mut sink = RawConsumer::output(&region, 0);
        // SAFETY (every call below): `h` is live once created, the raw region outlives it, and every pointer names
        // a live local of the right size.
        unsafe {
            let status = c2::l3l2q_l2_endpoint_create(
                scalars.scalars.as_ptr(),
                12,
                &config,
                &mut h,
                std::ptr::null_mut(),
            );
            assert_eq!(status, Status::Ok);
            let mut r = zeroed_reservation();
            assert_eq!(c2::l3l2q_l2_try_reserve(h, 300, r.as_mut_ptr()), Status::Ok);
            let r = r.assume_init();
            assert_eq!(
                c2::l3l2q_l2_publish(h, &r, L3L2Q_OPCODE_DATA, 300),
                Status::Ok
            );
            sink.drain();
            let mut r = zeroed_reservation();
            assert_eq!(c2::l3l2q_l2_try_reserve(h, 800, r.as_mut_ptr()), Status::Ok);
            let r = r.assume_init();
            assert_eq!(r.payload_offset, base, "wrapped");
            let payload = bytes(100, 2);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), r.data, payload.len());
            if deferred {
                assert_eq!(
                    c2::l3l2q_l2_publish_deferred(h, &r, L3L2Q_OPCODE_DATA, 100),
                    Status::Ok
                );
                assert_eq!(c2::l3l2q_l2_flush(h), Status::Ok);
            } else {
                assert_eq!(
                    c2::l3l2q_l2_publish(h, &r, L3L2Q_OPCODE_DATA, 100),
                    Status::Ok
                );
            }
            let (slot, seen) = sink.take().expect("published");
            assert_eq!(
                (slot.seq, slot.payload_offset, slot.payload_nbytes),
                (2, base + 300, 100)
            );
            assert_eq!(seen, payload);
            let mut info = ErrorInfo::none();
            assert_eq!(c2::l3l2q_l2_error(h, &mut info), Status::Ok);
            assert_eq!(info.kind(), ErrorKind::None);
            assert_eq!(c2::l3l2q_l2_endpoint_free(&mut h), Status::Ok);
        }
    }
}

// ------------------------------------------ random use, strict consumer

/// xorshift64*, seeded.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        if n == 0 { 0 } else { x % n }
    }
}

/// Random reserve-and-shrink, copy sends and partial drains on one ring,
/// every payload checked by the strict rule and for its bytes. Returns how
/// many shrunk wrapped reservations were moved back before the wrap.
fn random_strict(p: &mut dyn Producer, region: &RawRegion, ring: Ring, seed: u64) -> u64 {
    let (base, arena) = ring.arena(region);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut peer = ring.consumer(region);
    let mut strict = Strict::default();
    let mut expected = std::collections::VecDeque::new();
    let (mut moved, mut k) = (0u64, 0u8);
    for _ in 0..3000 {
        let cap = 1 + rng.below(arena);
        match rng.below(3) {
            0 => {
                let payload = bytes(rng.below(cap) as usize, k);
                if try_send(p, &payload) {
                    expected.push_back(payload);
                    k = k.wrapping_add(1);
                }
            }
            _ => {
                if let Some(r) = try_reserve(p, cap) {
                    let m = if rng.below(4) == 0 {
                        cap
                    } else {
                        rng.below(cap + 1)
                    };
                    let payload = bytes(m as usize, k);
                    p.fill(&r, 0, &payload);
                    let pos = strict_position(&strict, &expected, arena);
                    if r.payload_offset == base && pos != 0 && m != 0 && pos + m <= arena {
                        moved += 1;
                    }
                    p.publish(&r, Opcode::Data, m, rng.below(2) == 0)
                        .expect("publish");
                    expected.push_back(payload);
                    k = k.wrapping_add(1);
                }
            }
        }
        if rng.below(3) == 0 {
            let mut take = rng.below(4);
            while take > 0 {
                let Some((slot, seen)) = peer.take() else {
                    break;
                };
                let want = expected.pop_front().expect("no extra message");
                strict.accept(base, arena, &[slot]);
                assert!(seen == want, "seq {}: payload differs", slot.seq);
                take -= 1;
            }
            peer.release_to(peer.next);
        }
        assert!(p.healthy());
    }
    moved
}

/// Where the strict consumer will expect the next payload once it has read
/// everything in `pending` (the cursor after them, modulo the arena).
fn strict_position(
    strict: &Strict,
    pending: &std::collections::VecDeque<Vec<u8>>,
    arena: u64,
) -> u64 {
    let mut s = *strict;
    for p in pending {
        let n = p.len() as u64;
        let pos = s.cursor % arena;
        let rel = if n == 0 {
            0
        } else if pos + n <= arena {
            pos
        } else {
            0
        };
        s.follow(arena, n, rel).unwrap();
    }
    s.cursor % arena
}

fn try_send(p: &mut dyn Producer, payload: &[u8]) -> bool {
    match p.try_send_any(payload) {
        Ok(()) => true,
        Err(Error::NoProgress) => false,
        Err(e) => panic!("send: {e:?}"),
    }
}

fn try_reserve(p: &mut dyn Producer, n: u64) -> Option<Reservation> {
    match p.try_reserve_any(n) {
        Ok(r) => Some(r),
        Err(Error::NoProgress) => None,
        Err(e) => panic!("reserve: {e:?}"),
    }
}

#[test]
fn random_reserve_and_shrink_satisfies_a_strict_consumer_in_both_directions() {
    let mut moved = [0u64; 2];
    for seed in 1..=6u64 {
        for arena in [64u64, 320, 1024] {
            let region = RawRegion::new(8, arena, 64);
            let mut q = l3_over(mapped(&region), &region);
            moved[0] += random_strict(&mut q, &region, Ring::Input, seed);
            let region = RawRegion::new(8, 64, arena);
            let mut l2 = l2_over(mapped(&region), &region);
            moved[1] += random_strict(&mut l2, &region, Ring::Output, seed ^ 0xa5);
        }
        let region = RawRegion::new(4, 448, 448);
        let callbacks = FaultyCallbacks::new(&region);
        // SAFETY: `callbacks` outlives the queue (declared before it).
        let mut q = l3_over(unsafe { callbacks.backend() }, &region);
        moved[0] += random_strict(&mut q, &region, Ring::Input, seed ^ 0x3c);
    }
    eprintln!(
        "shrunk wraps moved back: {} on L3 input, {} on L2 output",
        moved[0], moved[1]
    );
    assert!(
        moved[0] > 100 && moved[1] > 100,
        "too few shrunk wraps exercised: {moved:?}"
    );
}

// ------------------------------------------------ no allocation per move

/// Counts the allocations of the current thread, as tests/zero_alloc.rs
/// does, so the move can be shown to allocate nothing.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; the counter is a const-initialised thread-local Cell
// without a destructor, so touching it allocates nothing and cannot recurse.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Drives `rounds` of: 300 B sent, everything released, 800 B reserved
/// (a wrap), `m` B filled and published (moved back to 300); returns the
/// allocations the producer made meanwhile.
fn allocations_of_moves(p: &mut dyn Producer, region: &RawRegion, ring: Ring, m: usize) -> u64 {
    let (tail, head) = match ring {
        Ring::Input => (L3L2Q_INPUT_DESC_TAIL_OFFSET, L3L2Q_INPUT_DESC_HEAD_OFFSET),
        Ring::Output => (L3L2Q_OUTPUT_DESC_TAIL_OFFSET, L3L2Q_OUTPUT_DESC_HEAD_OFFSET),
    };
    let (first, payload) = (bytes(300, 1), bytes(m, 2));
    let mut round = || {
        p.send(&first);
        region.set_counter(head, region.counter(tail));
        let r = p.reserve(800);
        p.fill(&r, 0, &payload);
        p.publish(&r, Opcode::Data, m as u64, false)
            .expect("publish");
        region.set_counter(head, region.counter(tail));
    };
    round(); // warm-up
    let before = ALLOCATIONS.with(std::cell::Cell::get);
    for _ in 0..200 {
        round();
    }
    ALLOCATIONS.with(std::cell::Cell::get) - before
}

#[test]
fn moving_a_shrunk_wrap_back_allocates_nothing() {
    let region = RawRegion::new(4, 1024, 1024);
    let mut q = l3_over(mapped(&region), &region);
    let mut l2 = l2_over(mapped(&region), &region);
    assert_eq!(
        allocations_of_moves(&mut q, &region, Ring::Input, 700),
        0,
        "L3, mapped"
    );
    assert_eq!(
        allocations_of_moves(&mut l2, &region, Ring::Output, 700),
        0,
        "L2, mapped"
    );
    let published = region.counter(L3L2Q_INPUT_DESC_TAIL_OFFSET);
    let region = RawRegion::new(4, 1024, 64);
    let callbacks = FaultyCallbacks::new(&region);
    // SAFETY: `callbacks` outlives the queue (declared before it).
    let mut q = l3_over(unsafe { callbacks.backend() }, &region);
    assert_eq!(
        allocations_of_moves(&mut q, &region, Ring::Input, 700),
        0,
        "L3, callbacks"
    );
    assert!(published > 400, "the rounds ran");
    let last = region.read_slot(region.layout.input_desc_offset, 401);
    assert_eq!(
        last.payload_offset,
        region.layout.input_arena_offset + 300,
        "moved back"
    );
}
