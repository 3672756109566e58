//! The per-message instruction path of each contender, on one thread, for
//! counting with `valgrind --tool=callgrind` (instruction counts do not
//! depend on machine load, unlike the two-thread timings):
//!
//! ```text
//! cargo bench --bench instructions --no-run
//! valgrind --tool=callgrind target/release/deps/instructions-* ours 100000
//! ```
//!
//! Contenders: `ours`, `ours-batch`, `ours-consume` (L3 batch enqueue, L2
//! `try_consume`), `rtrb-framed`, `ours-4k`, `rtrb-framed-4k`, one round trip
//! at a time: `ours-rt`, `rtrb-rt`; and the L3 side alone (a head store
//! stands in for the consumer): `ours-l3`, `ours-l3-batch`.
//! Each moves `n` messages in rounds of 16: produce 16, then consume 16.
//! Run with `n` and with 0 and subtract to get the per-message cost.

mod common;

use std::hint::black_box;

use common::shape::*;
use common::*;
use l3l2q::Message;
use l3l2q::Opcode;

const ROUND: usize = 16;

/// L3 batch enqueue, L2 `try_consume`.
fn ours_consume(n: u64) {
    let q = Ours::new(SMALL_DEPTH, SMALL_ARENA, 64, WINDOW);
    let (mut l3, mut l2) = q.pair();
    let src = vec![0x5au8; 64];
    let mut acc = 0u64;
    for _ in 0..n / ROUND as u64 {
        assert_eq!(
            l3.try_send_batch(Opcode::Data, std::iter::repeat_n(src.as_slice(), ROUND)),
            Ok(ROUND)
        );
        assert_eq!(
            l2.try_consume(ROUND, |_, p| acc = acc.wrapping_add(touch(p))),
            Ok(ROUND)
        );
    }
    black_box(acc);
}

fn ours(size: usize, n: u64, batch: bool) {
    let arena = if size > 64 { PAGE_ARENA } else { SMALL_ARENA };
    let depth = if size > 64 { PAGE_DEPTH } else { SMALL_DEPTH };
    let q = Ours::new(depth, arena, 64, WINDOW);
    let (mut l3, mut l2) = q.pair();
    let src = vec![0x5au8; size];
    let mut out = [Message::EMPTY; ROUND];
    let mut acc = 0u64;
    for _ in 0..n / ROUND as u64 {
        if batch {
            assert_eq!(
                l3.try_send_batch(Opcode::Data, std::iter::repeat_n(src.as_slice(), ROUND)),
                Ok(ROUND)
            );
            assert_eq!(l2.try_peek_batch(&mut out), Ok(ROUND));
            for m in &out {
                acc = acc.wrapping_add(touch(l2.payload(m)));
            }
            l2.release_batch(&out).unwrap();
        } else {
            for _ in 0..ROUND {
                l3.try_send(Opcode::Data, black_box(&src)).unwrap();
            }
            for _ in 0..ROUND {
                let m = l2.try_peek().unwrap();
                acc = acc.wrapping_add(touch(l2.payload(&m)));
                l2.release(&m).unwrap();
            }
        }
    }
    black_box(acc);
}

/// One round trip at a time, both ends on this thread: L3 enqueues, L2
/// echoes in place (reserve, copy, publish, release), L3 peeks, copies
/// out and releases.
fn ours_round_trip(n: u64) {
    let q = Ours::new(SMALL_DEPTH, SMALL_ARENA, SMALL_ARENA, WINDOW);
    let (mut l3, mut l2) = q.pair();
    let src = [0x5au8; 64];
    let mut dst = [0u8; 64];
    for _ in 0..n {
        l3.try_send(Opcode::Data, black_box(&src)).unwrap();
        let m = l2.try_peek().unwrap();
        let r = l2.try_reserve(m.payload_nbytes).unwrap();
        let input = l2.payload(&m).as_ptr();
        // SAFETY: the held input's bytes, disjoint from the output reservation, held until the release below.
        l2.reserved_mut(&r)
            .copy_from_slice(unsafe { std::slice::from_raw_parts(input, 64) });
        l2.publish(&r, Opcode::Data, 64).unwrap();
        l2.release(&m).unwrap();
        let m = l3.try_peek().unwrap();
        l3.read_into(&m, &mut dst).unwrap();
        l3.release(&m).unwrap();
    }
    black_box(dst);
}

fn rtrb_round_trip(n: u64) {
    let (mut tx, mut rx_peer) = rtrb::RingBuffer::<u8>::new(SMALL_ARENA as usize);
    let (mut tx_peer, mut rx) = rtrb::RingBuffer::<u8>::new(SMALL_ARENA as usize);
    let src = [0x5au8; 64];
    let mut dst = [0u8; 64];
    for _ in 0..n {
        assert!(common::push_frame(&mut tx, black_box(&src)));
        assert!(
            common::pop_frame(&mut rx_peer, |a, b| common::push_frame_parts(
                &mut tx_peer,
                a,
                b
            ))
            .unwrap()
        );
        common::pop_frame(&mut rx, |a, b| {
            dst[..a.len()].copy_from_slice(a);
            dst[a.len()..a.len() + b.len()].copy_from_slice(b);
        })
        .unwrap();
    }
    black_box(dst);
}

fn rtrb_framed(size: usize, n: u64) {
    let ring = if size > 64 { PAGE_ARENA } else { SMALL_ARENA } as usize;
    let (mut tx, mut rx) = rtrb::RingBuffer::<u8>::new(ring);
    let src = vec![0x5au8; size];
    let mut acc = 0u64;
    for _ in 0..n / ROUND as u64 {
        for _ in 0..ROUND {
            assert!(common::push_frame(&mut tx, black_box(&src)));
        }
        for _ in 0..ROUND {
            acc = acc.wrapping_add(
                common::pop_frame(&mut rx, |a, b| touch(a).wrapping_add(touch(b))).unwrap(),
            );
        }
    }
    black_box(acc);
}

/// The L3 side alone: enqueue 16, then release them as a consumer would
/// (one head store), so the count is the producer's per-message path.
fn ours_l3_only(n: u64, batch: bool) {
    let q = Ours::new(SMALL_DEPTH, SMALL_ARENA, 64, WINDOW);
    let (mut l3, _l2) = q.pair();
    let src = vec![0x5au8; 64];
    for round in 1..=n / ROUND as u64 {
        if batch {
            assert_eq!(
                l3.try_send_batch(Opcode::Data, std::iter::repeat_n(src.as_slice(), ROUND)),
                Ok(ROUND)
            );
        } else {
            for _ in 0..ROUND {
                l3.try_send(Opcode::Data, black_box(&src)).unwrap();
            }
        }
        q.release_input_to(round * ROUND as u64);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("ours", String::as_str);
    let n: u64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(100_000);
    match which {
        "ours" => ours(64, n, false),
        "ours-batch" => ours(64, n, true),
        "ours-consume" => ours_consume(n),
        "ours-l3" => ours_l3_only(n, false),
        "ours-l3-batch" => ours_l3_only(n, true),
        "ours-4k" => ours(4096, n, false),
        "rtrb-framed" => rtrb_framed(64, n),
        "rtrb-framed-4k" => rtrb_framed(4096, n),
        "ours-rt" => ours_round_trip(n),
        "rtrb-rt" => rtrb_round_trip(n),
        // `cargo bench` runs every bench binary with `--bench`: nothing to count then.
        _ => {}
    }
}
