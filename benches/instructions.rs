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
//!
//! The L2's own per-message cost (issue 19), one thread, cache-warm: per
//! input peek, read 64 B, release, reserve, write 64 B, publish, through
//! the Rust API (`l2-rust`) or the C API of this build's `libl3l2q.so`
//! (`l2-c`, loaded with `dlopen`). Count only that work with
//! `valgrind --tool=callgrind --toggle-collect='*l2_round*' <bin> l2-c 160000`
//! (divide the total by `n`); without valgrind they print the time per
//! message.
//!
//! The C-API forms of the two-thread contenders, as the ratio table's C
//! program runs them, through the same `dlopen`ed library: `c`, `c-batch`,
//! `c-consume`, `c-4k`, `c-rt`, `c-l3`, `c-l3-batch` (count them like `ours`: `n` minus 0).
//! Each moves `n` messages in rounds of 16: produce 16, then consume 16.
//! Run with `n` and with 0 and subtract to get the per-message cost.

mod common;

use std::ffi::c_void;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use common::capi::{CPair, Loaded};
use common::shape::*;
use common::*;
use l3l2q::abi::L3L2Q_OPCODE_DATA;
use l3l2q::ffi::ByteSlice;
use l3l2q::{L2Endpoint, Message, Opcode, Reservation};

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

/// The L2's own work for one round of [`ROUND`] inputs through the Rust
/// API: per input peek, read the 64 B in place, release, reserve 64 B,
/// write 64 B, publish. Its own function, never inlined, so callgrind can
/// count it alone (`--toggle-collect='*l2_round_rust*'`).
#[inline(never)]
fn l2_round_rust(l2: &mut L2Endpoint, reply: &[u8; 64], acc: &mut u64) {
    for _ in 0..ROUND {
        let m = l2.try_peek().unwrap();
        *acc = acc.wrapping_add(touch(l2.payload(&m)));
        l2.release(&m).unwrap();
        let r = l2.try_reserve(64).unwrap();
        l2.reserved_mut(&r).copy_from_slice(reply);
        l2.publish(&r, l3l2q::Opcode::Data, 64).unwrap();
    }
}

/// As [`l2_round_rust`] through the C API of `libl3l2q.so`, as a C caller
/// writes it: the payload read at `data`, the reply written at the
/// reservation's `data`.
#[inline(never)]
fn l2_round_c(lib: &Loaded, ep: *mut c_void, reply: &[u8; 64], acc: &mut u64) {
    for _ in 0..ROUND {
        let mut m = MaybeUninit::<Message>::uninit();
        // SAFETY: `ep` is a live endpoint of `lib`; `m` is writable.
        assert_eq!(unsafe { (lib.l2_try_peek)(ep, m.as_mut_ptr()) }, 0);
        // SAFETY: written by the successful peek. Borrowed in place, as C reads it: a copy would reload the
        // library's 8-byte stores with 16-byte loads, which cannot be forwarded.
        let m = unsafe { m.assume_init_ref() };
        // SAFETY: a held input's `data` points at its `payload_nbytes` bytes in place until the release below.
        let payload = unsafe { std::slice::from_raw_parts(m.data, m.payload_nbytes as usize) };
        *acc = acc.wrapping_add(touch(payload));
        // SAFETY: as above; `m` is readable.
        assert_eq!(unsafe { (lib.l2_release)(ep, m) }, 0);
        let mut r = MaybeUninit::<Reservation>::uninit();
        // SAFETY: as above; `r` is writable.
        assert_eq!(unsafe { (lib.l2_try_reserve)(ep, 64, r.as_mut_ptr()) }, 0);
        // SAFETY: written by the successful reserve; borrowed in place as above.
        let r = unsafe { r.assume_init_ref() };
        // SAFETY: a 64-byte reservation's `data` is writable for 64 bytes until it is published.
        unsafe { std::ptr::copy_nonoverlapping(reply.as_ptr(), r.data, 64) };
        // SAFETY: as above; `r` is readable.
        assert_eq!(unsafe { (lib.l2_publish)(ep, r, L3L2Q_OPCODE_DATA, 64) }, 0);
    }
}

/// The time an empty `Instant` pair takes, to subtract from each timed round.
fn instant_overhead() -> Duration {
    let t = Instant::now();
    for _ in 0..1000 {
        black_box(Instant::now().elapsed());
    }
    t.elapsed() / 1000
}

/// Prints the L2's time per message (outside valgrind: one thread, every
/// line in cache).
fn report_l2(api: &str, n: u64, timed: Duration) {
    if n > 0 {
        eprintln!(
            "L2 through the {api} API: {:.1} ns per message (peek, read 64 B, release, reserve, write 64 B, publish; one thread, cache-warm)",
            timed.as_secs_f64() * 1e9 / n as f64
        );
    }
}

/// The L2's own per-message cost through the Rust API: L3 enqueues a
/// round of inputs and drains the round's outputs outside the counted
/// function.
fn l2_rust(n: u64) {
    let q = Ours::new(SMALL_DEPTH, SMALL_ARENA, SMALL_ARENA, WINDOW);
    let (mut l3, mut l2) = q.pair();
    let (src, reply, mut dst) = ([0x5au8; 64], [0xa5u8; 64], [0u8; 64]);
    let (mut acc, mut timed, overhead) = (0u64, Duration::ZERO, instant_overhead());
    for _ in 0..n / ROUND as u64 {
        assert_eq!(
            l3.try_send_batch(l3l2q::Opcode::Data, std::iter::repeat_n(&src[..], ROUND)),
            Ok(ROUND)
        );
        let t = Instant::now();
        l2_round_rust(&mut l2, &reply, &mut acc);
        timed += t.elapsed().saturating_sub(overhead);
        for _ in 0..ROUND {
            assert_eq!(l3.try_dequeue_into(&mut dst), Ok((Opcode::Data, 64)));
        }
    }
    black_box((acc, dst));
    report_l2("Rust", n, timed);
}

/// As [`l2_rust`] with both ends created and driven through the C API of
/// this build's `libl3l2q.so`.
fn l2_c(n: u64) {
    let lib = Loaded::load();
    let q = Ours::new(SMALL_DEPTH, SMALL_ARENA, SMALL_ARENA, WINDOW);
    let pair = CPair::new(&lib, &q, WINDOW);
    let (src, reply, mut dst) = ([0x5au8; 64], [0xa5u8; 64], [0u8; 64]);
    let (mut acc, mut timed, overhead) = (0u64, Duration::ZERO, instant_overhead());
    for _ in 0..n / ROUND as u64 {
        c_enqueue_round(&pair, &src);
        let t = Instant::now();
        l2_round_c(&lib, pair.l2, &reply, &mut acc);
        timed += t.elapsed().saturating_sub(overhead);
        for _ in 0..ROUND {
            let (mut opcode, mut len) = (0u64, 0usize);
            // SAFETY: live queue; `dst` writable for its length; out-pointers to locals.
            let status = unsafe {
                (lib.l3_try_dequeue_into)(
                    pair.l3,
                    dst.as_mut_ptr(),
                    dst.len(),
                    &mut opcode,
                    &mut len,
                )
            };
            assert_eq!((status, opcode, len), (0, L3L2Q_OPCODE_DATA, 64));
        }
    }
    black_box((acc, dst));
    report_l2("C", n, timed);
}

/// L3 enqueues one round of `src` with one batch call through the C API.
fn c_enqueue_round(pair: &CPair<'_>, src: &[u8]) {
    let batch = [ByteSlice {
        data: src.as_ptr(),
        len: src.len(),
    }; ROUND];
    let mut sent = 0;
    // SAFETY: live queue; `batch` entries point at `src`; `sent` writable.
    let status = unsafe {
        (pair.lib.l3_try_enqueue_batch)(
            pair.l3,
            L3L2Q_OPCODE_DATA,
            batch.as_ptr(),
            ROUND,
            &mut sent,
        )
    };
    assert_eq!((status, sent), (0, ROUND));
}

/// The C-API forms of `ours`, `ours-batch`, `ours-consume`, `ours-4k`
/// (`c`, `c-batch`, `c-consume`, `c-4k`): the same work as the ratio
/// table's C program, both ends on this thread.
fn c_api(size: usize, n: u64, how: &str) {
    let lib = Loaded::load();
    let (depth, arena) = if size > 64 {
        (PAGE_DEPTH, PAGE_ARENA)
    } else {
        (SMALL_DEPTH, SMALL_ARENA)
    };
    let q = Ours::new(depth, arena, 64, WINDOW);
    let pair = CPair::new(&lib, &q, WINDOW);
    let src = vec![0x5au8; size];
    let mut out = [Message::EMPTY; ROUND];
    let mut acc = 0u64;
    unsafe extern "C" fn visit(ctx: *mut c_void, m: *const Message) {
        // SAFETY: `ctx` is the caller's `acc`; `m` and its bytes are valid during the call.
        unsafe {
            let payload = std::slice::from_raw_parts((*m).data, (*m).payload_nbytes as usize);
            *ctx.cast::<u64>() = (*ctx.cast::<u64>()).wrapping_add(touch(payload));
        }
    }
    for _ in 0..n / ROUND as u64 {
        // SAFETY (whole block): live handles of `lib`; every pointer is to a local of the right size, and payloads
        // are read through `data` only while held.
        unsafe {
            if how == "single" {
                for _ in 0..ROUND {
                    assert_eq!(
                        (lib.l3_try_enqueue)(
                            pair.l3,
                            L3L2Q_OPCODE_DATA,
                            black_box(src.as_ptr()),
                            size
                        ),
                        0
                    );
                }
                for _ in 0..ROUND {
                    let mut m = MaybeUninit::<Message>::uninit();
                    assert_eq!((lib.l2_try_peek)(pair.l2, m.as_mut_ptr()), 0);
                    let m = m.assume_init_ref();
                    acc = acc.wrapping_add(touch(std::slice::from_raw_parts(
                        m.data,
                        m.payload_nbytes as usize,
                    )));
                    assert_eq!((lib.l2_release)(pair.l2, m), 0);
                }
                continue;
            }
            c_enqueue_round(&pair, &src);
            let mut k = 0;
            if how == "batch" {
                assert_eq!(
                    (lib.l2_try_peek_batch)(pair.l2, out.as_mut_ptr(), ROUND, &mut k),
                    0
                );
                for m in &out[..k] {
                    acc = acc.wrapping_add(touch(std::slice::from_raw_parts(
                        m.data,
                        m.payload_nbytes as usize,
                    )));
                }
                assert_eq!((lib.l2_release_batch)(pair.l2, out.as_ptr(), k), 0);
            } else {
                let ctx = (&raw mut acc).cast::<c_void>();
                assert_eq!(
                    (lib.l2_try_consume)(pair.l2, ROUND, Some(visit), ctx, &mut k),
                    0
                );
            }
            assert_eq!(k, ROUND);
        }
    }
    black_box(acc);
}

/// The C-API forms of `ours-l3` and `ours-l3-batch` (`c-l3`, `c-l3-batch`):
/// the L3 side alone, a head store standing in for the consumer.
fn c_l3_only(n: u64, batch: bool) {
    let lib = Loaded::load();
    let q = Ours::new(SMALL_DEPTH, SMALL_ARENA, 64, WINDOW);
    let pair = CPair::new(&lib, &q, WINDOW);
    let src = vec![0x5au8; 64];
    for round in 1..=n / ROUND as u64 {
        if batch {
            c_enqueue_round(&pair, &src);
        } else {
            for _ in 0..ROUND {
                // SAFETY: live queue; `src` readable for its length.
                let status = unsafe {
                    (lib.l3_try_enqueue)(pair.l3, L3L2Q_OPCODE_DATA, black_box(src.as_ptr()), 64)
                };
                assert_eq!(status, 0);
            }
        }
        q.release_input_to(round * ROUND as u64);
    }
}

/// The C-API form of `ours-rt` (`c-rt`).
fn c_round_trip(n: u64) {
    let lib = Loaded::load();
    let q = Ours::new(SMALL_DEPTH, SMALL_ARENA, SMALL_ARENA, WINDOW);
    let pair = CPair::new(&lib, &q, WINDOW);
    let src = [0x5au8; 64];
    let mut dst = [0u8; 64];
    for _ in 0..n {
        // SAFETY (whole block): as in `c_api`.
        unsafe {
            assert_eq!(
                (lib.l3_try_enqueue)(pair.l3, L3L2Q_OPCODE_DATA, black_box(src.as_ptr()), 64),
                0
            );
            let mut m = MaybeUninit::<Message>::uninit();
            assert_eq!((lib.l2_try_peek)(pair.l2, m.as_mut_ptr()), 0);
            let m = m.assume_init_ref();
            let mut r = MaybeUninit::<Reservation>::uninit();
            assert_eq!(
                (lib.l2_try_reserve)(pair.l2, m.payload_nbytes, r.as_mut_ptr()),
                0
            );
            let r = r.assume_init_ref();
            std::ptr::copy_nonoverlapping(m.data, r.data, m.payload_nbytes as usize);
            assert_eq!(
                (lib.l2_publish)(pair.l2, r, L3L2Q_OPCODE_DATA, m.payload_nbytes),
                0
            );
            assert_eq!((lib.l2_release)(pair.l2, m), 0);
            let mut m = MaybeUninit::<Message>::uninit();
            assert_eq!((lib.l3_try_peek)(pair.l3, m.as_mut_ptr()), 0);
            let m = m.assume_init_ref();
            let mut len = 0;
            assert_eq!(
                (lib.l3_read_into)(pair.l3, m, dst.as_mut_ptr(), dst.len(), &mut len),
                0
            );
            assert_eq!((lib.l3_release)(pair.l3, m), 0);
        }
    }
    black_box(dst);
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
        "l2-rust" => l2_rust(n),
        "l2-c" => l2_c(n),
        "c" => c_api(64, n, "single"),
        "c-batch" => c_api(64, n, "batch"),
        "c-consume" => c_api(64, n, "consume"),
        "c-4k" => c_api(4096, n, "single"),
        "c-rt" => c_round_trip(n),
        "c-l3" => c_l3_only(n, false),
        "c-l3-batch" => c_l3_only(n, true),
        // `cargo bench` runs every bench binary with `--bench`: nothing to count then.
        _ => {}
    }
}
