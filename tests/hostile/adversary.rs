//! The hostile peer: a source of choices (a seeded PRNG for the test, the
//! fuzzer's input bytes for the fuzz target) and an adversary that rewrites
//! counters, descriptor slots and payload bytes of a region between the
//! victim's steps, at random and with targeted values (SPEC section 10).
//!
//! Shared by tests/hostile/main.rs and fuzz/fuzz_targets/hostile_peer.rs, which
//! both include it with `#[path]` as the crate-level module `adversary`.

use l3l2q::abi::*;

use crate::guarded::Mem;

/// Where choices come from. `bits(n)` yields `n` (1..=64) fresh bits.
pub trait Source {
    /// `n` bits, `1 <= n <= 64`.
    fn bits(&mut self, n: u32) -> u64;

    /// Whether the source has run dry (a fuzz input consumed). A PRNG never does.
    fn done(&self) -> bool {
        false
    }

    /// Nearly uniform in `0..n` (0 when `n <= 1`): 8 spare bits keep the
    /// modulo bias below 1/256.
    fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let bits = (64 - (n - 1).leading_zeros() + 8).min(64);
        self.bits(bits) % n
    }

    /// `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A full 64-bit value.
    fn word(&mut self) -> u64 {
        self.bits(64)
    }
}

/// Strikes from another thread until `stop` is set, pausing a random
/// while between strikes, so rewrites land in the middle of the victim's
/// calls (SPEC section 10: a slot is copied once, then validated).
pub fn strike_concurrently(
    adversary: Adversary,
    seed: u64,
    stop: &std::sync::atomic::AtomicBool,
) -> u64 {
    let mut s = XorShift::new(seed);
    let mut strikes = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        adversary.strike(&mut s);
        strikes += 1;
        for _ in 0..s.below(4096) {
            core::hint::spin_loop();
        }
    }
    strikes
}

/// Picks one element.
pub fn pick<S: Source + ?Sized, T: Copy>(s: &mut S, items: &[T]) -> T {
    items[s.below(items.len() as u64) as usize]
}

/// xorshift64* (Vigna): small, fast, reproducible; no crates needed.
#[derive(Debug, Clone)]
pub struct XorShift {
    state: u64,
}

impl XorShift {
    /// A generator from any seed (0 included).
    pub fn new(seed: u64) -> XorShift {
        let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
        if state == 0 {
            state = 0x2545_F491_4F6C_DD1D;
        }
        XorShift { state }
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Source for XorShift {
    fn bits(&mut self, n: u32) -> u64 {
        self.next_u64() >> (64 - n)
    }
}

/// The fuzzer's input read as a stream of choices; zeros once it runs dry.
#[derive(Debug)]
pub struct ByteSource<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> ByteSource<'a> {
    /// Choices from `data`.
    pub fn new(data: &'a [u8]) -> ByteSource<'a> {
        ByteSource { data, pos: 0 }
    }
}

impl Source for ByteSource<'_> {
    fn bits(&mut self, n: u32) -> u64 {
        let mut v = 0u64;
        for i in 0..n.div_ceil(8) {
            let b = self.data.get(self.pos).copied().unwrap_or(0);
            self.pos += 1;
            v |= (b as u64) << (8 * i);
        }
        if n == 64 { v } else { v & ((1 << n) - 1) }
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// The end of the queue under attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Victim {
    /// An L2 endpoint: reads the input tail and output head, writes the L2 flag.
    L2,
    /// An L3 queue: reads the input head and output tail, writes the L3 flag.
    L3,
}

impl Victim {
    /// Counter offset of the victim's own abort flag (the adversary never
    /// writes it, so the harness can check it equals "poisoned").
    pub fn own_flag(self) -> u64 {
        match self {
            Victim::L2 => L3L2Q_L2_ABORT_FLAG_OFFSET,
            Victim::L3 => L3L2Q_L3_ABORT_FLAG_OFFSET,
        }
    }

    /// Counter offset of the peer's abort flag.
    pub fn peer_flag(self) -> u64 {
        match self {
            Victim::L2 => L3L2Q_L3_ABORT_FLAG_OFFSET,
            Victim::L3 => L3L2Q_L2_ABORT_FLAG_OFFSET,
        }
    }

    /// The ring counters only the peer writes.
    pub fn peer_counters(self) -> [u64; 2] {
        match self {
            Victim::L2 => [L3L2Q_INPUT_DESC_TAIL_OFFSET, L3L2Q_OUTPUT_DESC_HEAD_OFFSET],
            Victim::L3 => [L3L2Q_INPUT_DESC_HEAD_OFFSET, L3L2Q_OUTPUT_DESC_TAIL_OFFSET],
        }
    }

    /// The counters only the victim writes (unchanged by a poisoned call).
    pub fn own_counters(self) -> [u64; 2] {
        match self {
            Victim::L2 => [L3L2Q_INPUT_DESC_HEAD_OFFSET, L3L2Q_OUTPUT_DESC_TAIL_OFFSET],
            Victim::L3 => [L3L2Q_INPUT_DESC_TAIL_OFFSET, L3L2Q_OUTPUT_DESC_HEAD_OFFSET],
        }
    }
}

/// One ring as the adversary sees it.
#[derive(Debug, Clone, Copy)]
struct Ring {
    ring: u64,
    arena: u64,
    arena_bytes: u64,
    tail: u64,
    head: u64,
    /// Whether STOP is legal here.
    input: bool,
}

/// The adversary: knows the layout and which end is the victim, and
/// rewrites shared memory through the bounds-checked [`Mem`] only.
#[derive(Debug, Clone, Copy)]
pub struct Adversary {
    /// The region's raw view.
    pub mem: Mem,
    /// The agreed layout.
    pub layout: Layout,
    /// The ring counters' starting value.
    pub initial: u64,
    /// Who is attacked.
    pub victim: Victim,
    /// Leave the victim's own counters alone (when striking concurrently,
    /// so the harness can still check a poisoned victim writes nothing).
    pub spare_own: bool,
}

const RING_COUNTERS: [u64; 4] = [
    L3L2Q_INPUT_DESC_TAIL_OFFSET,
    L3L2Q_INPUT_DESC_HEAD_OFFSET,
    L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
    L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
];

impl Adversary {
    fn input(&self) -> Ring {
        let l = &self.layout;
        Ring {
            ring: l.input_desc_offset,
            arena: l.input_arena_offset,
            arena_bytes: l.input_arena_bytes,
            tail: L3L2Q_INPUT_DESC_TAIL_OFFSET,
            head: L3L2Q_INPUT_DESC_HEAD_OFFSET,
            input: true,
        }
    }

    fn output(&self) -> Ring {
        let l = &self.layout;
        Ring {
            ring: l.output_desc_offset,
            arena: l.output_arena_offset,
            arena_bytes: l.output_arena_bytes,
            tail: L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
            head: L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
            input: false,
        }
    }

    /// The ring the victim consumes (its peer produces) and the one it produces.
    fn rings(&self) -> (Ring, Ring) {
        match self.victim {
            Victim::L2 => (self.input(), self.output()),
            Victim::L3 => (self.output(), self.input()),
        }
    }

    /// The u64 count a low-32 counter stands for, assuming it is less than
    /// 2^32 past the initial value.
    fn full(&self, offset: u64) -> u64 {
        let low = self.mem.load(offset);
        self.initial
            .wrapping_add(low.wrapping_sub(self.initial as u32) as u64)
    }

    fn slot_offset(&self, ring: &Ring, index: u64) -> u64 {
        ring.ring + (index & (self.layout.depth - 1)) * L3L2Q_SLOT_BYTES
    }

    /// A payload offset chosen to sit on or just past an arena edge for `n` bytes.
    fn edge_offset<S: Source + ?Sized>(&self, s: &mut S, ring: &Ring, n: u64) -> u64 {
        let other = if ring.input {
            self.output()
        } else {
            self.input()
        };
        let end = ring.arena + ring.arena_bytes;
        match s.below(14) {
            0 => ring.arena,
            1 => end.wrapping_sub(n),
            2 => end.wrapping_sub(n).wrapping_add(1),
            3 => end,
            4 => ring.arena.wrapping_sub(1),
            5 => ring.arena.wrapping_sub(64),
            6 => other.arena,
            7 => self.slot_offset(ring, s.word()),
            8 => self.layout.payload_bytes.wrapping_sub(n),
            9 => self.layout.payload_bytes,
            10 => u64::MAX - s.below(4),
            11 => u64::MAX.wrapping_sub(n).wrapping_add(1 + s.below(2)),
            12 => ring.arena + 64 * s.below(ring.arena_bytes / 64),
            _ => s.word(),
        }
    }

    fn edge_nbytes<S: Source + ?Sized>(&self, s: &mut S, ring: &Ring) -> u64 {
        match s.below(10) {
            0 => 0,
            1 => 1,
            2 => ring.arena_bytes,
            3 => ring.arena_bytes + 1,
            4 => u64::MAX,
            5 => 1 << 63,
            6 => self.layout.payload_bytes,
            7 => 64 * s.range(1, 4),
            8 => s.word() >> s.below(64),
            _ => s.range(1, ring.arena_bytes),
        }
    }

    fn nudge<S: Source + ?Sized>(&self, s: &mut S, value: u32) -> u32 {
        let depth = self.layout.depth as u32;
        match s.below(10) {
            0 => value.wrapping_add(1),
            1 => value.wrapping_sub(1),
            2 => value.wrapping_add(depth),
            3 => value.wrapping_add(depth + 1),
            4 => value.wrapping_sub(depth),
            5 => value.wrapping_add(1 << 31),
            6 => value.wrapping_add(s.range(1, depth as u64) as u32),
            7 => 0,
            8 => u32::MAX,
            _ => s.bits(32) as u32,
        }
    }

    fn any_counter<S: Source + ?Sized>(&self, s: &mut S) -> u64 {
        if self.spare_own {
            pick(s, &self.victim.peer_counters())
        } else {
            pick(s, &RING_COUNTERS)
        }
    }

    /// One hostile rewrite. Returns what it did, for statistics.
    pub fn strike<S: Source + ?Sized>(&self, s: &mut S) -> &'static str {
        let (consumed, produced) = self.rings();
        match s.below(16) {
            0..=4 => self.forge_next(s, &consumed),
            5 | 6 => self.forge_release(s, &produced),
            7 | 8 => {
                // A ring counter nudged forwards, backwards or far away.
                let offset = self.any_counter(s);
                self.mem.store(offset, self.nudge(s, self.mem.load(offset)));
                "counter nudge"
            }
            9 => {
                let offset = self.any_counter(s);
                self.mem.store(offset, s.bits(32) as u32);
                "counter random"
            }
            10 => {
                self.mem
                    .store(self.victim.peer_flag(), pick(s, &[1, 1, 0, u32::MAX]));
                "peer abort flag"
            }
            11 | 12 => self.slot_field(s),
            13 => {
                // The first word of a slot (its seq) rewritten alone.
                let ring = if s.chance(50) { consumed } else { produced };
                let index = self
                    .full(ring.tail)
                    .wrapping_sub(s.below(self.layout.depth + 1));
                let at = self.slot_offset(&ring, index);
                let seq = self.mem.read_u64(at);
                let w = s.word();
                self.mem.write_u64(
                    at,
                    pick(s, &[seq.wrapping_add(1), seq.wrapping_sub(1), 0, w]),
                );
                "seq rewrite"
            }
            _ => {
                // Payload bytes (rings included) scribbled over.
                let len = s.range(1, 96);
                let at = s.below(self.layout.payload_bytes.saturating_sub(len) + 1);
                let mut bytes = [0u8; 96];
                for b in &mut bytes[..len as usize] {
                    *b = s.bits(8) as u8;
                }
                self.mem.write(at, &bytes[..len as usize]);
                "payload scribble"
            }
        }
    }

    /// Writes a targeted descriptor into the next slot of the ring the
    /// victim consumes and (usually) publishes it by bumping the tail.
    fn forge_next<S: Source + ?Sized>(&self, s: &mut S, ring: &Ring) -> &'static str {
        let index = self.full(ring.tail);
        let mut slot = DescriptorSlot {
            seq: index.wrapping_add(1),
            opcode: L3L2Q_OPCODE_DATA,
            payload_offset: 0,
            payload_nbytes: 0,
        };
        let n = s.range(1, ring.arena_bytes);
        let what = match s.below(12) {
            0 => {
                let w = s.word();
                slot.seq = pick(
                    s,
                    &[
                        slot.seq.wrapping_add(1),
                        slot.seq.wrapping_sub(1),
                        index,
                        0,
                        u64::MAX,
                        w,
                    ],
                );
                slot.payload_offset = ring.arena;
                slot.payload_nbytes = n;
                "seq off by one"
            }
            1 => {
                let w = s.word();
                slot.opcode = pick(s, &[L3L2Q_OPCODE_INVALID, 4, 5, u64::MAX, 1 << 32 | 1, w]);
                "invalid opcode"
            }
            2 => {
                slot.opcode = L3L2Q_OPCODE_STOP;
                slot.payload_nbytes = pick(s, &[1, 64, n, u64::MAX]);
                slot.payload_offset = pick(s, &[0, ring.arena]);
                "STOP with payload"
            }
            3 => {
                // On the output ring STOP is always invalid; on the input
                // ring this is a legal STOP the victim must handle.
                slot.opcode = L3L2Q_OPCODE_STOP;
                if ring.input {
                    "STOP on the input ring"
                } else {
                    "STOP on the output ring"
                }
            }
            4 => {
                let w = self.edge_offset(s, ring, 0);
                slot.payload_offset = pick(s, &[ring.arena, 1, 64, u64::MAX, w]);
                "zero-byte with nonzero offset"
            }
            5 | 6 => {
                slot.payload_nbytes = n;
                slot.payload_offset = self.edge_offset(s, ring, n);
                "offset at or past an arena edge"
            }
            7 => {
                slot.payload_nbytes = self.edge_nbytes(s, ring);
                let w = self.edge_offset(s, ring, slot.payload_nbytes);
                slot.payload_offset = pick(s, &[ring.arena, w]);
                "huge or edge nbytes"
            }
            8 => {
                // Plausible DATA/ERROR at an arbitrary 64-byte position.
                slot.opcode = pick(s, &[L3L2Q_OPCODE_DATA, L3L2Q_OPCODE_ERROR]);
                slot.payload_nbytes = n;
                slot.payload_offset = ring.arena + 64 * s.below(ring.arena_bytes / 64);
                "plausible descriptor"
            }
            9 => {
                slot = DescriptorSlot {
                    seq: s.word(),
                    opcode: s.word(),
                    payload_offset: s.word(),
                    payload_nbytes: s.word(),
                };
                "random descriptor"
            }
            10 => {
                // A zero-byte DATA: valid on either ring.
                slot.opcode = pick(s, &[L3L2Q_OPCODE_DATA, L3L2Q_OPCODE_ERROR]);
                "zero-byte message"
            }
            _ => {
                // Several slots published at once, past depth sometimes.
                let w = s.range(2, 2 * self.layout.depth + 2);
                let jump = pick(s, &[self.layout.depth, self.layout.depth + 1, w]);
                self.mem.store(
                    ring.tail,
                    self.mem.load(ring.tail).wrapping_add(jump as u32),
                );
                return "tail jump";
            }
        };
        self.mem.write_slot(self.slot_offset(ring, index), &slot);
        if s.chance(85) {
            self.mem.store(ring.tail, (index as u32).wrapping_add(1));
        }
        what
    }

    /// Alters the slot of the next message the victim will see released on
    /// the ring it produces, then (usually) advances the head over it, so
    /// the victim's replay of released descriptors meets the forgery.
    fn forge_release<S: Source + ?Sized>(&self, s: &mut S, ring: &Ring) -> &'static str {
        let index = self.full(ring.head);
        let at = self.slot_offset(ring, index);
        let mut slot = self.mem.slot(at);
        match s.below(6) {
            0 => slot.seq = pick(s, &[slot.seq.wrapping_add(1), slot.seq.wrapping_sub(1), 0]),
            1 => slot.payload_offset = self.edge_offset(s, ring, slot.payload_nbytes),
            2 => slot.payload_nbytes = self.edge_nbytes(s, ring),
            3 => slot.opcode = s.word(),
            4 => {} // unaltered: an early or multiple release
            _ => {
                slot = DescriptorSlot {
                    seq: s.word(),
                    opcode: s.word(),
                    payload_offset: s.word(),
                    payload_nbytes: s.word(),
                }
            }
        }
        self.mem.write_slot(at, &slot);
        if s.chance(85) {
            let by = pick(s, &[1, 1, 2, self.layout.depth, self.layout.depth + 1]);
            self.mem
                .store(ring.head, (index as u32).wrapping_add(by as u32));
        }
        "released slot forged"
    }

    /// One field of a recent slot in either ring set to an edge value.
    fn slot_field<S: Source + ?Sized>(&self, s: &mut S) -> &'static str {
        let ring = if s.chance(50) {
            self.input()
        } else {
            self.output()
        };
        let index = self
            .full(ring.tail)
            .wrapping_sub(s.below(self.layout.depth + 1));
        let at = self.slot_offset(&ring, index);
        let n = self.mem.read_u64(at + 24);
        match s.below(3) {
            0 => {
                let w = s.word();
                self.mem.write_u64(at + 8, pick(s, &[0, 1, 2, 3, 4, w]))
            }
            1 => self.mem.write_u64(at + 16, self.edge_offset(s, &ring, n)),
            _ => self.mem.write_u64(at + 24, self.edge_nbytes(s, &ring)),
        }
        "slot field"
    }
}
