//! The contenders shared by `benches/throughput.rs` (criterion) and
//! `benches/ratios.rs` (the one-table ratio run): l3l2q, rtrb and the
//! hardware floor, each run on two threads pinned to cores 0 and 1.
//!
//! Every contender is a function `fn(n) -> Duration` that moves `n`
//! messages (or round trips) and returns the time from both threads being
//! ready to the last message consumed. Memory is allocated and touched
//! once per [`Bench`], outside the timed part.

#![allow(dead_code)]

pub mod capi;

use std::alloc::{Layout as AllocLayout, alloc_zeroed, dealloc};
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use l3l2q::abi::*;
use l3l2q::region::MappedRegion;
use l3l2q::{Error, L2Endpoint, L3Queue, Message, Opcode, QueueConfig};

/// Bytes of one cache line (and of rtrb's padding).
const LINE: usize = 64;

/// CPUs online (not the calling thread's affinity mask, which pinning narrows).
pub fn cpus_online() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// Pins the calling thread to one CPU; a no-op when the machine has fewer.
pub fn pin(cpu: usize) {
    if cpu >= cpus_online() {
        return;
    }
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write inside it; pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Asks for the SCHED_FIFO real-time policy for this process's threads
/// (inherited by threads created later), so the two pinned benchmark
/// threads are not time-sliced with whatever else runs on a 2-core
/// machine. Linux keeps 5% of each second for other work
/// (`sched_rt_runtime_us`), so the machine stays usable. Returns whether
/// it worked (it needs root or CAP_SYS_NICE); `L3L2Q_BENCH_NO_RT=1` skips it.
pub fn realtime() -> bool {
    if std::env::var_os("L3L2Q_BENCH_NO_RT").is_some() {
        return false;
    }
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: sched_setscheduler on pid 0 changes only the calling thread's policy; `param` is valid.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
}

/// Reads every byte of `bytes` (as little-endian u64 words plus a tail)
/// and folds them, so the consumer's work cannot be optimised away.
#[inline]
pub fn touch(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut acc = 0u64;
    for w in &mut words {
        acc = acc.wrapping_add(u64::from_le_bytes(w.try_into().unwrap()));
    }
    for &b in words.remainder() {
        acc = acc.wrapping_add(b as u64);
    }
    acc
}

/// A zeroed, page-aligned heap buffer, pre-faulted.
pub struct Buffer {
    ptr: *mut u8,
    layout: AllocLayout,
}

// SAFETY: the buffer is plain memory; the benches share it between two threads exactly as two agents share
// device memory, through the queue protocol (or atomics for the floor).
unsafe impl Send for Buffer {}
// SAFETY: as above.
unsafe impl Sync for Buffer {}

impl Buffer {
    pub fn new(bytes: usize) -> Buffer {
        let layout = AllocLayout::from_size_align(bytes.max(1), 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        let buffer = Buffer { ptr, layout };
        for page in (0..bytes).step_by(4096) {
            // SAFETY: inside the allocation; faults the page in now rather than in a timed run.
            unsafe { buffer.ptr.add(page).write_volatile(0) };
        }
        buffer
    }

    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

/// Runs `consumer` on a thread pinned to CPU 1 and `producer` on a thread
/// pinned to CPU 0, and times them from the moment both are ready until
/// both are done.
///
/// Neither runs on the calling thread: whatever the closures capture by
/// reference (sizes, counts, the floor's atomics) lives in the caller's
/// frame, which both threads only read. Run on the calling thread, the
/// producer's own hot stack would sit next to those values, and every read
/// of one by the consumer would pull a line the producer keeps writing.
pub fn two_threads<P, C>(producer: P, consumer: C) -> Duration
where
    P: FnOnce() + Send,
    C: FnOnce() + Send,
{
    #[repr(align(64))]
    struct Flag(AtomicBool);
    let ready = Flag(AtomicBool::new(false));
    let go = Flag(AtomicBool::new(false));
    let done = Flag(AtomicBool::new(false));
    // Create each thread already on its CPU (a thread inherits its
    // creator's affinity): under a real-time policy a thread created on a
    // CPU where another spins would never get to run and move itself.
    std::thread::scope(|s| {
        pin(1);
        let consumer = s.spawn(|| {
            pin(1);
            ready.0.store(true, Ordering::Release);
            while !go.0.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            consumer();
            done.0.store(true, Ordering::Release);
        });
        pin(0);
        let producer = s.spawn(|| {
            pin(0);
            while !ready.0.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            let start = Instant::now();
            go.0.store(true, Ordering::Release);
            producer();
            while !done.0.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            start.elapsed()
        });
        let elapsed = producer.join().expect("producer thread panicked");
        consumer.join().expect("consumer thread panicked");
        elapsed
    })
}

// ---------------------------------------------------------------- l3l2q

/// One l3l2q region: payload and counters, reused across runs.
pub struct Ours {
    payload: Buffer,
    counters: Buffer,
    layout: Layout,
    window: u64,
}

impl Ours {
    pub fn new(depth: u64, input_arena: u64, output_arena: u64, window: u64) -> Ours {
        let layout = Layout::compute(depth, input_arena, output_arena).unwrap();
        Ours {
            payload: Buffer::new(layout.payload_bytes as usize),
            counters: Buffer::new(L3L2Q_COUNTER_BYTES as usize),
            layout,
            window,
        }
    }

    /// Stores the input ring's head as a consumer would after releasing
    /// `count` messages: lets the producer side be counted alone.
    pub fn release_input_to(&self, count: u64) {
        // SAFETY: the counter range is live for `self`'s lifetime; the head counter is 4-byte aligned (line 1).
        let head = unsafe {
            &*(self
                .counters
                .ptr()
                .add(L3L2Q_INPUT_DESC_HEAD_OFFSET as usize)
                as *const std::sync::atomic::AtomicU32)
        };
        head.store(count as u32, Ordering::Release);
    }

    /// The layout the region was sized for.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The region's descriptor (this process's addresses).
    pub fn descriptor(&self) -> RegionDescriptor {
        RegionDescriptor::new(
            1,
            self.payload.addr(),
            self.layout.payload_bytes,
            self.counters.addr(),
            L3L2Q_COUNTER_BYTES,
        )
    }

    /// A fresh L3 queue (counters zeroed) and L2 endpoint over the region.
    pub fn pair(&self) -> (L3Queue<MappedRegion>, L2Endpoint) {
        let descriptor = self.descriptor();
        // SAFETY: the buffers outlive the queue and endpoint: both are dropped inside every run.
        let region = unsafe { MappedRegion::from_descriptor(&descriptor) }.unwrap();
        let l3 = L3Queue::create(
            region,
            &descriptor,
            QueueConfig {
                depth: self.layout.depth,
                input_arena_bytes: self.layout.input_arena_bytes,
                output_arena_bytes: self.layout.output_arena_bytes,
            },
        )
        .unwrap();
        // SAFETY: as above.
        let l2 = unsafe { L2Endpoint::from_task_scalars(&l3.task_scalars(), self.window) }.unwrap();
        (l3, l2)
    }

    /// Streams `n` messages of `size` bytes L3 -> L2 with the
    /// single-message API: L3 copies in (`try_enqueue`), L2 peeks, reads
    /// every byte in place and releases.
    pub fn stream(&self, size: usize, n: u64) -> Duration {
        let (mut l3, mut l2) = self.pair();
        let src = vec![0x5au8; size];
        two_threads(
            || repeat_until(n, "enqueue", || l3.try_send(Opcode::Data, &src).map(|()| 1)),
            || {
                let mut acc = 0u64;
                repeat_until(n, "peek", || {
                    let m = l2.try_peek()?;
                    let p = l2.payload(&m);
                    assert_eq!(p.len(), size);
                    acc = acc.wrapping_add(touch(p));
                    l2.release(&m).unwrap();
                    Ok(1)
                });
                black_box(acc);
            },
        )
    }

    /// As [`Ours::stream`] with the batch API: `try_enqueue_batch` of up
    /// to `batch` messages, `try_peek_batch` and `release_batch`.
    pub fn stream_batched(&self, size: usize, n: u64, batch: usize) -> Duration {
        let (mut l3, mut l2) = self.pair();
        let src = vec![0x5au8; size];
        two_threads(
            || enqueue_batches(&mut l3, &src, n, batch),
            || {
                let mut acc = 0u64;
                let mut out = vec![Message::EMPTY; batch];
                repeat_until(n, "peek", || {
                    let k = l2.try_peek_batch(&mut out)?;
                    for m in &out[..k] {
                        let p = l2.payload(m);
                        assert_eq!(p.len(), size);
                        acc = acc.wrapping_add(touch(p));
                    }
                    l2.release_batch(&out[..k]).unwrap();
                    Ok(k as u64)
                });
                black_box(acc);
            },
        )
    }

    /// As [`Ours::stream_batched`], with L2 taking inputs through
    /// `try_consume` (visit each in place, release the batch on return).
    pub fn stream_consumed(&self, size: usize, n: u64, batch: usize) -> Duration {
        let (mut l3, mut l2) = self.pair();
        let src = vec![0x5au8; size];
        two_threads(
            || enqueue_batches(&mut l3, &src, n, batch),
            || {
                let mut acc = 0u64;
                repeat_until(n, "consume", || {
                    let k = l2.try_consume(batch, |_, payload| {
                        assert_eq!(payload.len(), size);
                        acc = acc.wrapping_add(touch(payload));
                    })?;
                    Ok(k as u64)
                });
                black_box(acc);
            },
        )
    }

    /// `n` round trips of a `size`-byte message: L3 enqueues, L2 peeks,
    /// echoes the payload back (reserve, copy from the input in place,
    /// publish) and releases; L3 peeks, copies out and releases.
    pub fn round_trip(&self, size: usize, n: u64) -> Duration {
        let (mut l3, mut l2) = self.pair();
        let src = vec![0x5au8; size];
        two_threads(
            || {
                let mut dst = vec![0u8; size];
                for _ in 0..n {
                    loop {
                        match l3.try_send(Opcode::Data, &src) {
                            Ok(()) => break,
                            Err(Error::NoProgress) => std::hint::spin_loop(),
                            Err(e) => panic!("enqueue: {e:?}"),
                        }
                    }
                    loop {
                        match l3.try_peek() {
                            Ok(m) => {
                                assert_eq!(l3.read_into(&m, &mut dst), Ok(size));
                                l3.release(&m).unwrap();
                                break;
                            }
                            Err(Error::NoProgress) => std::hint::spin_loop(),
                            Err(e) => panic!("peek: {e:?}"),
                        }
                    }
                }
                black_box(&dst);
            },
            || {
                for _ in 0..n {
                    let m = loop {
                        match l2.try_peek() {
                            Ok(m) => break m,
                            Err(Error::NoProgress) => std::hint::spin_loop(),
                            Err(e) => panic!("peek: {e:?}"),
                        }
                    };
                    let r = l2
                        .try_reserve(m.payload_nbytes)
                        .expect("output has room: one message in flight");
                    let len = m.payload_nbytes;
                    let (input, output) = (l2.payload(&m).as_ptr(), l2.reserved_mut(&r));
                    // SAFETY: `input` points at the held input's `len` bytes, in the input arena, disjoint from
                    // the output reservation; the message stays held until the release below.
                    output.copy_from_slice(unsafe {
                        std::slice::from_raw_parts(input, len as usize)
                    });
                    l2.publish(&r, Opcode::Data, len).unwrap();
                    l2.release(&m).unwrap();
                }
            },
        )
    }
}

/// The L3 side of the batched streams: `n` copies of `src`, enqueued up to
/// `batch` at a time.
fn enqueue_batches(l3: &mut L3Queue<MappedRegion>, src: &[u8], n: u64, batch: usize) {
    let mut sent = 0;
    repeat_until(n, "enqueue", || {
        let k = batch.min((n - sent) as usize);
        let done = l3.try_send_batch(Opcode::Data, std::iter::repeat_n(src, k))? as u64;
        sent += done;
        Ok(done)
    });
}

/// Calls `step` until the messages it reports moving add up to `n`,
/// spinning on no-progress; any other error fails the bench with `what`.
fn repeat_until(n: u64, what: &str, mut step: impl FnMut() -> Result<u64, Error>) {
    let mut moved = 0;
    while moved < n {
        match step() {
            Ok(k) => moved += k,
            Err(Error::NoProgress) => std::hint::spin_loop(),
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
}

// ---------------------------------------------------------------- rtrb

/// Writes `parts` one after the other into a chunk's two slices.
#[inline]
fn scatter(chunk: &mut rtrb::chunks::WriteChunkUninit<'_, u8>, parts: &[&[u8]]) {
    let (a, b) = chunk.as_mut_slices();
    if b.is_empty() {
        // The common case: no wrap inside the frame.
        let mut at = 0;
        for part in parts {
            copy_to_uninit(&mut a[at..at + part.len()], part);
            at += part.len();
        }
        return;
    }
    let mut dst = a.iter_mut().chain(b.iter_mut());
    for part in parts {
        // Source first: zip must not pull a destination byte it cannot fill.
        for (s, d) in part.iter().zip(&mut dst) {
            d.write(*s);
        }
    }
}

fn copy_to_uninit(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    assert_eq!(dst.len(), src.len());
    // SAFETY: same length (checked), distinct buffers; u8 has no invalid bit patterns.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), src.len()) }
}

/// Pushes one frame (4-byte little-endian length, then the payload);
/// `false` when the ring has no room for it.
#[inline]
pub fn push_frame(tx: &mut rtrb::Producer<u8>, payload: &[u8]) -> bool {
    push_frame_parts(tx, payload, &[])
}

/// As [`push_frame`] for a payload given in two parts (a frame read in place).
#[inline]
pub fn push_frame_parts(tx: &mut rtrb::Producer<u8>, a: &[u8], b: &[u8]) -> bool {
    let len = a.len() + b.len();
    let Ok(mut chunk) = tx.write_chunk_uninit(4 + len) else {
        return false;
    };
    scatter(&mut chunk, &[&(len as u32).to_le_bytes(), a, b]);
    // SAFETY: scatter initialised all 4 + len slots of the chunk.
    unsafe { chunk.commit_all() };
    true
}

/// Takes one frame if a whole one is there, passing its payload (in
/// place, as up to two slices) to `f`.
#[inline]
pub fn pop_frame<T>(rx: &mut rtrb::Consumer<u8>, f: impl FnOnce(&[u8], &[u8]) -> T) -> Option<T> {
    let len = {
        let chunk = rx.read_chunk(4).ok()?;
        let (a, b) = chunk.as_slices();
        let mut hdr = [0u8; 4];
        for (d, s) in hdr.iter_mut().zip(a.iter().chain(b)) {
            *d = *s;
        }
        u32::from_le_bytes(hdr) as usize
    };
    let chunk = rx.read_chunk(4 + len).ok()?;
    let (a, b) = chunk.as_slices();
    let out = if a.len() >= 4 {
        f(&a[4..], b)
    } else {
        f(&b[4 - a.len()..], &[])
    };
    chunk.commit_all();
    Some(out)
}

/// rtrb, one u64 per push.
pub fn rtrb_u64(capacity: usize, n: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(capacity);
    two_threads(
        || {
            let mut i = 0;
            while i < n {
                if tx.push(i).is_ok() {
                    i += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
        },
        || {
            let mut got = 0;
            let mut acc = 0u64;
            while got < n {
                match rx.pop() {
                    Ok(v) => {
                        acc = acc.wrapping_add(v);
                        got += 1;
                    }
                    Err(_) => std::hint::spin_loop(),
                }
            }
            black_box(acc);
        },
    )
}

/// rtrb as a byte ring of `ring_bytes`, one framed message per chunk:
/// the producer copies in, the consumer reads every byte in place.
pub fn rtrb_framed(ring_bytes: usize, size: usize, n: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u8>::new(ring_bytes);
    let src = vec![0x5au8; size];
    two_threads(
        || {
            let mut sent = 0;
            while sent < n {
                if push_frame(&mut tx, &src) {
                    sent += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
        },
        || {
            let mut got = 0;
            let mut acc = 0u64;
            while got < n {
                match pop_frame(&mut rx, |a, b| {
                    assert_eq!(a.len() + b.len(), size);
                    touch(a).wrapping_add(touch(b))
                }) {
                    Some(v) => {
                        acc = acc.wrapping_add(v);
                        got += 1;
                    }
                    None => std::hint::spin_loop(),
                }
            }
            black_box(acc);
        },
    )
}

/// rtrb framed, batched: the producer writes up to `batch` frames per
/// chunk (one commit), the consumer takes every whole frame available
/// per chunk (one commit).
pub fn rtrb_framed_batched(ring_bytes: usize, size: usize, n: u64, batch: usize) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u8>::new(ring_bytes);
    let frame = [&(size as u32).to_le_bytes()[..], &vec![0x5au8; size]].concat();
    two_threads(
        || {
            let mut sent = 0;
            while sent < n {
                let k = (batch as u64)
                    .min(n - sent)
                    .min((tx.slots() / frame.len()) as u64) as usize;
                if k == 0 {
                    std::hint::spin_loop();
                    continue;
                }
                let mut chunk = tx.write_chunk_uninit(k * frame.len()).unwrap();
                let (a, b) = chunk.as_mut_slices();
                if b.is_empty() {
                    for f in a.chunks_exact_mut(frame.len()) {
                        copy_to_uninit(f, &frame);
                    }
                } else {
                    let mut dst = a.iter_mut().chain(b.iter_mut());
                    for _ in 0..k {
                        for (s, d) in frame.iter().zip(&mut dst) {
                            d.write(*s);
                        }
                    }
                }
                // SAFETY: all k frames were written.
                unsafe { chunk.commit_all() };
                sent += k as u64;
            }
        },
        || {
            let mut got = 0;
            let mut acc = 0u64;
            while got < n {
                let avail = rx.slots();
                let mut off = 0;
                let Ok(chunk) = rx.read_chunk(avail) else {
                    unreachable!()
                };
                let (a, b) = chunk.as_slices();
                let byte = |i: usize| if i < a.len() { a[i] } else { b[i - a.len()] };
                while off + 4 <= avail {
                    let len = u32::from_le_bytes([
                        byte(off),
                        byte(off + 1),
                        byte(off + 2),
                        byte(off + 3),
                    ]) as usize;
                    if off + 4 + len > avail {
                        break;
                    }
                    let start = off + 4;
                    let end = start + len;
                    let v = if end <= a.len() {
                        touch(&a[start..end])
                    } else if start >= a.len() {
                        touch(&b[start - a.len()..end - a.len()])
                    } else {
                        touch(&a[start..]).wrapping_add(touch(&b[..end - a.len()]))
                    };
                    acc = acc.wrapping_add(v);
                    off = end;
                    got += 1;
                }
                chunk.commit(off);
                if off == 0 {
                    std::hint::spin_loop();
                }
            }
            black_box(acc);
        },
    )
}

/// `n` round trips of a `size`-byte message through two rtrb framed byte
/// rings; the echo copies the payload from one ring into the other.
pub fn rtrb_round_trip(ring_bytes: usize, size: usize, n: u64) -> Duration {
    let (mut tx, mut rx_peer) = rtrb::RingBuffer::<u8>::new(ring_bytes);
    let (mut tx_peer, mut rx) = rtrb::RingBuffer::<u8>::new(ring_bytes);
    let src = vec![0x5au8; size];
    two_threads(
        || {
            let mut dst = vec![0u8; size];
            for _ in 0..n {
                assert!(
                    push_frame(&mut tx, &src),
                    "one message in flight always fits"
                );
                loop {
                    let done = pop_frame(&mut rx, |a, b| {
                        dst[..a.len()].copy_from_slice(a);
                        dst[a.len()..a.len() + b.len()].copy_from_slice(b);
                    });
                    if done.is_some() {
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
            black_box(&dst);
        },
        || {
            for _ in 0..n {
                loop {
                    // The echo copies from the input ring in place straight into the output ring, as ours does.
                    match pop_frame(&mut rx_peer, |a, b| push_frame_parts(&mut tx_peer, a, b)) {
                        Some(pushed) => {
                            assert!(pushed, "one message in flight always fits");
                            break;
                        }
                        None => std::hint::spin_loop(),
                    }
                }
            }
        },
    )
}

// ---------------------------------------------------------------- floor

#[repr(align(64))]
struct Line(AtomicU64);

/// Hardware floor for a round trip: one atomic on its own line, written
/// in turn by both threads.
pub fn floor_one_line(n: u64) -> Duration {
    let line = Line(AtomicU64::new(0));
    two_threads(
        || {
            for i in 0..n {
                line.0.store(2 * i + 1, Ordering::Release);
                while line.0.load(Ordering::Acquire) != 2 * i + 2 {
                    std::hint::spin_loop();
                }
            }
        },
        || {
            for i in 0..n {
                while line.0.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                line.0.store(2 * i + 2, Ordering::Release);
            }
        },
    )
}

/// Hardware floor for a round trip with one writer per line: the
/// producer writes `ping`, the consumer answers on `pong`.
pub fn floor_two_lines(n: u64) -> Duration {
    let ping = Line(AtomicU64::new(0));
    let pong = Line(AtomicU64::new(0));
    two_threads(
        || {
            for i in 1..=n {
                ping.0.store(i, Ordering::Release);
                while pong.0.load(Ordering::Acquire) != i {
                    std::hint::spin_loop();
                }
            }
        },
        || {
            for i in 1..=n {
                while ping.0.load(Ordering::Acquire) != i {
                    std::hint::spin_loop();
                }
                pong.0.store(i, Ordering::Release);
            }
        },
    )
}

/// Hardware floor for big messages: `slots` shared buffers of `size`
/// bytes handed over through two counters (one writer each). The producer
/// copies a private source in; the consumer either copies each buffer out
/// to a private destination (`copy_out`) or reads it in place.
pub fn floor_copy(shared: &Buffer, slots: usize, size: usize, n: u64, copy_out: bool) -> Duration {
    let tail = Line(AtomicU64::new(0));
    let head = Line(AtomicU64::new(0));
    let src = vec![0x5au8; size];
    let base = shared.ptr() as usize;
    two_threads(
        || {
            for i in 0..n {
                while i - head.0.load(Ordering::Acquire) >= slots as u64 {
                    std::hint::spin_loop();
                }
                let slot = (base + (i as usize % slots) * size) as *mut u8;
                // SAFETY: slot i % slots lies inside `shared` and is not read by the consumer until `tail` covers it.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), slot, size) };
                tail.0.store(i + 1, Ordering::Release);
            }
        },
        || {
            let mut dst = vec![0u8; size];
            let mut acc = 0u64;
            for i in 0..n {
                while tail.0.load(Ordering::Acquire) <= i {
                    std::hint::spin_loop();
                }
                let slot = (base + (i as usize % slots) * size) as *const u8;
                // SAFETY: the producer finished writing slot i (acquire above) and will not touch it until `head` passes it.
                let bytes = unsafe { std::slice::from_raw_parts(slot, size) };
                if copy_out {
                    dst.copy_from_slice(bytes);
                } else {
                    acc = acc.wrapping_add(touch(bytes));
                }
                head.0.store(i + 1, Ordering::Release);
            }
            black_box((&dst, acc));
        },
    )
}

// ---------------------------------------------------------------- shapes

/// Queue shapes used by both bench binaries, so the table and criterion
/// measure the same thing.
pub mod shape {
    /// 64 B streaming: arena bytes (= rtrb ring bytes) and depth.
    pub const SMALL_ARENA: u64 = 64 * 1024;
    /// 64 KiB / 64 B.
    pub const SMALL_DEPTH: u64 = 1024;
    /// 4 KiB streaming: arena bytes (= rtrb ring bytes) and depth.
    pub const PAGE_ARENA: u64 = 256 * 1024;
    /// 256 KiB / 4 KiB.
    pub const PAGE_DEPTH: u64 = 64;
    /// 1 MiB messages: arena of four messages (= the floor's four buffers).
    pub const BIG: usize = 1 << 20;
    /// Buffers in flight for 1 MiB messages.
    pub const BIG_SLOTS: u64 = 4;
    /// Messages per batch in the batched runs.
    pub const BATCH: usize = 32;
    /// L2 input window.
    pub const WINDOW: u64 = 64;
}

// ---------------------------------------------------------------- wire floor

/// The least a queue in this wire format can do per message: the producer
/// writes the payload, the 32-byte slot and (every `batch` messages) the
/// tail; the consumer observes the tail, checks seq, reads every payload
/// byte in place and (every `batch` messages) stores the head. No
/// validation beyond seq, no ownership tracking: the floor our protocol's
/// line traffic allows, against which the cost of the rules shows.
pub fn floor_wire(ring_bytes: usize, size: usize, n: u64, batch: u64) -> Duration {
    floor_wire_with_stores(ring_bytes, size, n, batch, 0)
}

/// [`floor_wire`] with `extra_stores` more stores per message by the
/// producer, each to its own private, cache-resident buffer. Alone they
/// would cost a cycle each; what they cost here is what every store on
/// a hot path costs in a two-core stream, where stores retire in order
/// behind the ones waiting for a line the other core holds.
pub fn floor_wire_with_stores(
    ring_bytes: usize,
    size: usize,
    n: u64,
    batch: u64,
    extra_stores: usize,
) -> Duration {
    let depth = (ring_bytes / size.max(64)).next_power_of_two() as u64;
    let slots = Buffer::new(depth as usize * 32);
    let arena = Buffer::new(ring_bytes);
    let tail = Line(AtomicU64::new(0));
    let head = Line(AtomicU64::new(0));
    let src = vec![0x5au8; size];
    let per_arena = (ring_bytes / size) as u64;
    let cap = depth.min(per_arena);
    let (slots_base, arena_base) = (slots.ptr() as usize, arena.ptr() as usize);
    two_threads(
        || {
            let mut released = 0u64;
            let mut i = 0u64;
            let mut private = [0u64; 64];
            while i < n {
                let k = batch.min(n - i);
                if i + k - released > cap {
                    released = head.0.load(Ordering::Acquire);
                    if i + k - released > cap {
                        std::hint::spin_loop();
                        continue;
                    }
                }
                for j in i..i + k {
                    let at = ((j % per_arena) as usize) * size;
                    let slot = (slots_base + ((j & (depth - 1)) as usize) * 32) as *mut u64;
                    // SAFETY: slot j and its arena bytes are free (head covers their previous use) and inside the buffers.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            src.as_ptr(),
                            (arena_base + at) as *mut u8,
                            size,
                        );
                        slot.add(1).write_volatile(1);
                        slot.add(2).write_volatile(at as u64);
                        slot.add(3).write_volatile(size as u64);
                        slot.write_volatile(j + 1);
                    }
                    for q in 0..extra_stores {
                        // SAFETY: inside the local array (index taken modulo its length).
                        unsafe {
                            private
                                .as_mut_ptr()
                                .add((q + j as usize * 8) % private.len())
                                .write_volatile(j)
                        };
                    }
                }
                i += k;
                tail.0.store(i, Ordering::Release);
            }
        },
        || {
            let mut observed = 0u64;
            let mut got = 0u64;
            let mut acc = 0u64;
            while got < n {
                if got == observed {
                    observed = tail.0.load(Ordering::Acquire);
                    if got == observed {
                        std::hint::spin_loop();
                        continue;
                    }
                }
                let end = observed.min(got + batch);
                for j in got..end {
                    let slot = (slots_base + ((j & (depth - 1)) as usize) * 32) as *const u64;
                    // SAFETY: the tail covers slot j, so the producer finished it; inside the buffers.
                    let (seq, at, len) = unsafe {
                        (
                            slot.read_volatile(),
                            slot.add(2).read_volatile(),
                            slot.add(3).read_volatile(),
                        )
                    };
                    assert!(seq == j + 1 && at as usize + len as usize <= ring_bytes);
                    // SAFETY: checked inside the arena just above; the producer does not reuse it before the head passes j.
                    acc = acc.wrapping_add(touch(unsafe {
                        std::slice::from_raw_parts(
                            (arena_base + at as usize) as *const u8,
                            len as usize,
                        )
                    }));
                }
                got = end;
                head.0.store(got, Ordering::Release);
            }
            black_box(acc);
        },
    )
}
