//! Batching: several messages published with one tail store,
//! several releases with one head store, batch peeks on both consumers,
//! and the single-message API unchanged next to them.
//!
//! A counting region wraps the mapped one so the tests can see exactly
//! how many counter stores each call made.

use std::alloc::{Layout as AllocLayout, alloc_zeroed, dealloc};
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use l3l2q::abi::*;
use l3l2q::ffi::ByteSlice;
use l3l2q::region::{Fault, MappedRegion, Region};
use l3l2q::{Error, ErrorKind, L2Endpoint, L3Queue, Message, Opcode, QueueConfig, Status};

/// Zeroed payload and counter memory for one queue.
struct Memory {
    payload: *mut u8,
    payload_alloc: AllocLayout,
    counters: *mut u8,
    counters_alloc: AllocLayout,
    layout: Layout,
}

impl Memory {
    fn new(depth: u64, input_arena: u64, output_arena: u64) -> Memory {
        let layout = Layout::compute(depth, input_arena, output_arena).unwrap();
        let payload_alloc =
            AllocLayout::from_size_align(layout.payload_bytes as usize, 4096).unwrap();
        let counters_alloc =
            AllocLayout::from_size_align(L3L2Q_COUNTER_BYTES as usize, 4096).unwrap();
        // SAFETY: non-zero sizes.
        let (payload, counters) =
            unsafe { (alloc_zeroed(payload_alloc), alloc_zeroed(counters_alloc)) };
        assert!(!payload.is_null() && !counters.is_null());
        Memory {
            payload,
            payload_alloc,
            counters,
            counters_alloc,
            layout,
        }
    }

    fn descriptor(&self) -> RegionDescriptor {
        RegionDescriptor::new(
            7,
            self.payload as u64,
            self.layout.payload_bytes,
            self.counters as u64,
            L3L2Q_COUNTER_BYTES,
        )
    }

    fn mapped(&self) -> MappedRegion {
        // SAFETY: the memory outlives every queue built in a test (tests drop queues first).
        unsafe { MappedRegion::from_descriptor(&self.descriptor()) }.unwrap()
    }

    fn counting(&self) -> Counting {
        Counting {
            inner: self.mapped(),
            stores: Default::default(),
        }
    }

    fn counter(&self, offset: u64) -> u32 {
        // SAFETY: offset is one of the six aligned counters inside the allocation.
        unsafe { AtomicU32::from_ptr(self.counters.add(offset as usize).cast()) }
            .load(Ordering::Acquire)
    }

    /// An L3 queue whose store counts start after creation (which zeroes the counters).
    fn l3(&self, depth: u64) -> L3Queue<Counting> {
        let l3 = L3Queue::create(
            self.counting(),
            &self.descriptor(),
            QueueConfig {
                depth,
                input_arena_bytes: self.layout.input_arena_bytes,
                output_arena_bytes: self.layout.output_arena_bytes,
            },
        )
        .unwrap();
        for cell in &l3.region().stores {
            cell.set(0);
        }
        l3
    }

    fn l2(&self, window: u64) -> L2Endpoint<Counting> {
        L2Endpoint::with_region(
            self.counting(),
            &self.descriptor(),
            &self.layout.queue_args(),
            window,
            0,
        )
        .unwrap()
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with these layouts.
        unsafe {
            dealloc(self.payload, self.payload_alloc);
            dealloc(self.counters, self.counters_alloc);
        }
    }
}

/// A mapped region that counts counter stores per counter line.
struct Counting {
    inner: MappedRegion,
    stores: [Cell<u32>; 6],
}

impl Counting {
    fn stores(&self, offset: u64) -> u32 {
        self.stores[(offset / 64) as usize].get()
    }
}

// SAFETY: `payload_ptr` forwards to the inner `MappedRegion`, and so does every payload copy.
unsafe impl Region for Counting {
    fn read_payload(&self, offset: u64, dst: &mut [u8]) -> Result<(), Fault> {
        self.inner.read_payload(offset, dst)
    }
    fn write_payload(&self, offset: u64, src: &[u8]) -> Result<(), Fault> {
        self.inner.write_payload(offset, src)
    }
    fn load_counter(&self, offset: u64) -> Result<u32, Fault> {
        self.inner.load_counter(offset)
    }
    fn store_counter(&self, offset: u64, value: u32) -> Result<(), Fault> {
        let cell = &self.stores[(offset / 64) as usize];
        cell.set(cell.get() + 1);
        self.inner.store_counter(offset, value)
    }
    fn payload_ptr(&self, offset: u64, len: u64) -> Option<NonNull<u8>> {
        self.inner.payload_ptr(offset, len)
    }
}

const IN_TAIL: u64 = L3L2Q_INPUT_DESC_TAIL_OFFSET;
const IN_HEAD: u64 = L3L2Q_INPUT_DESC_HEAD_OFFSET;
const OUT_TAIL: u64 = L3L2Q_OUTPUT_DESC_TAIL_OFFSET;
const OUT_HEAD: u64 = L3L2Q_OUTPUT_DESC_HEAD_OFFSET;

fn payloads(sizes: &[usize], salt: u8) -> Vec<Vec<u8>> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            (0..n)
                .map(|b| (b as u8).wrapping_mul(31) ^ (i as u8) ^ salt)
                .collect()
        })
        .collect()
}

/// A held input's payload, copied out (the counting region has no in-place view).
fn read(l2: &L2Endpoint<Counting>, m: &Message) -> Vec<u8> {
    let mut buf = vec![0u8; m.payload_nbytes as usize];
    assert_eq!(l2.copy_payload(m, &mut buf), Ok(buf.len()));
    buf
}

fn slices(v: &[Vec<u8>]) -> impl Iterator<Item = &[u8]> {
    v.iter().map(Vec::as_slice)
}

#[test]
fn l3_batch_enqueue_publishes_all_with_one_tail_store() {
    let mem = Memory::new(8, 1024, 1024);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(8);
    let batch = payloads(&[5, 0, 64, 100, 1], 1);
    assert_eq!(l3.try_send_batch(Opcode::Data, slices(&batch)), Ok(5));
    assert_eq!(
        l3.region().stores(IN_TAIL),
        1,
        "one tail store for the batch"
    );
    assert_eq!(mem.counter(IN_TAIL), 5);

    let mut out = [Message::EMPTY; 8];
    assert_eq!(l2.try_peek_batch(&mut out), Ok(5));
    for (i, (m, want)) in out[..5].iter().zip(&batch).enumerate() {
        assert_eq!(m.seq, i as u64 + 1);
        assert_eq!(m.opcode, L3L2Q_OPCODE_DATA);
        assert_eq!(read(&l2, m), want.as_slice());
    }
    l2.release_batch(&out[..5]).unwrap();
    assert_eq!(
        l2.region().stores(IN_HEAD),
        1,
        "one head store for the batch"
    );
    assert_eq!(mem.counter(IN_HEAD), 5);
}

#[test]
fn l3_batch_stops_at_a_full_ring_and_resumes() {
    let mem = Memory::new(4, 1024, 64);
    let mut l3 = mem.l3(4);
    let mut l2 = mem.l2(4);
    let batch = payloads(&[8; 6], 2);
    assert_eq!(l3.try_send_batch(Opcode::Data, slices(&batch)), Ok(4));
    assert_eq!(mem.counter(IN_TAIL), 4);
    assert_eq!(
        l3.try_send_batch(Opcode::Data, slices(&batch[4..])),
        Err(Error::NoProgress)
    );
    let a = l2.try_peek().unwrap();
    let b = l2.try_peek().unwrap();
    l2.release_batch(&[a, b]).unwrap();
    assert_eq!(l3.try_send_batch(Opcode::Error, slices(&batch[4..])), Ok(2));
    assert_eq!(mem.counter(IN_TAIL), 6);
    let mut out = [Message::EMPTY; 4];
    assert_eq!(l2.try_peek_batch(&mut out), Ok(4));
    assert_eq!(out.map(|m| m.seq), [3, 4, 5, 6]);
    assert_eq!(out.map(|m| m.opcode), [1, 1, 3, 3]);
    assert_eq!(read(&l2, &out[3]), batch[5].as_slice());
}

#[test]
fn l3_batch_stops_at_a_full_arena() {
    let mem = Memory::new(16, 256, 64);
    let mut l3 = mem.l3(16);
    let batch = payloads(&[100, 100, 100], 3);
    assert_eq!(l3.try_send_batch(Opcode::Data, slices(&batch)), Ok(2));
    assert_eq!(mem.counter(IN_TAIL), 2);
    assert_eq!(l3.region().stores(IN_TAIL), 1);
}

#[test]
fn l3_batch_argument_errors() {
    let mem = Memory::new(8, 256, 64);
    let mut l3 = mem.l3(8);
    let ok = payloads(&[4], 0);
    let too_big = payloads(&[257], 0);
    assert_eq!(
        l3.try_send_batch(Opcode::Stop, slices(&ok)),
        Err(Error::BadArgument)
    );
    assert_eq!(
        l3.try_send_batch(Opcode::Data, slices(&too_big)),
        Err(Error::BadArgument)
    );
    assert_eq!(
        l3.try_send_batch(Opcode::Data, std::iter::empty()),
        Err(Error::NoProgress)
    );
    assert_eq!(mem.counter(IN_TAIL), 0);
    assert_eq!(
        l3.region().stores(IN_TAIL),
        0,
        "nothing published, nothing stored"
    );
    // A payload larger than the arena after the first ends the batch; it fails on the next call.
    let mixed = [ok[0].as_slice(), ok[0].as_slice(), too_big[0].as_slice()];
    assert_eq!(l3.try_send_batch(Opcode::Data, mixed), Ok(2));
    assert_eq!(
        l3.try_send_batch(Opcode::Data, mixed[2..].iter().copied()),
        Err(Error::BadArgument)
    );
    assert!(l3.error().is_none(), "caller errors do not poison");
    l3.try_request_stop().unwrap();
    assert_eq!(
        l3.try_send_batch(Opcode::Data, slices(&ok)),
        Err(Error::Stopped)
    );
    assert_eq!(mem.counter(IN_TAIL), 3);
}

#[test]
fn deferred_commits_are_invisible_until_flush() {
    let mem = Memory::new(8, 1024, 1024);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(8);
    for i in 0..3u8 {
        let r = l3.try_reserve(16).unwrap();
        l3.write_reserved(&r, 0, &[i; 16]).unwrap();
        l3.publish_deferred(&r, Opcode::Data, 16).unwrap();
    }
    assert_eq!(mem.counter(IN_TAIL), 0);
    assert_eq!(
        l2.try_peek(),
        Err(Error::NoProgress),
        "not visible before flush"
    );
    l3.flush().unwrap();
    assert_eq!(mem.counter(IN_TAIL), 3);
    assert_eq!(l3.region().stores(IN_TAIL), 1);
    l3.flush().unwrap();
    assert_eq!(
        l3.region().stores(IN_TAIL),
        1,
        "flush with nothing pending stores nothing"
    );
    let mut out = [Message::EMPTY; 8];
    assert_eq!(l2.try_peek_batch(&mut out), Ok(3));
    for (i, m) in out[..3].iter().enumerate() {
        assert_eq!(read(&l2, m), &[i as u8; 16]);
    }
    // A single commit after deferred ones publishes them all.
    let r = l3.try_reserve(1).unwrap();
    l3.publish_deferred(&r, Opcode::Data, 1).unwrap();
    let r = l3.try_reserve(1).unwrap();
    l3.publish(&r, Opcode::Data, 1).unwrap();
    assert_eq!(mem.counter(IN_TAIL), 5);
}

#[test]
fn a_full_ring_flushes_deferred_messages_so_they_cannot_block_themselves() {
    let mem = Memory::new(2, 1024, 1024);
    let mut l3 = mem.l3(2);
    let mut l2 = mem.l2(2);
    for _ in 0..2 {
        let r = l3.try_reserve(8).unwrap();
        l3.publish_deferred(&r, Opcode::Data, 8).unwrap();
    }
    assert_eq!(mem.counter(IN_TAIL), 0);
    assert_eq!(l3.try_reserve(8), Err(Error::NoProgress));
    assert_eq!(
        mem.counter(IN_TAIL),
        2,
        "no room: the pending tail was stored"
    );
    let m = l2.try_peek().unwrap();
    l2.release(&m).unwrap();
    assert!(l3.try_reserve(8).is_ok());

    // Same on the L2 output side.
    for _ in 0..2 {
        let r = l2.try_reserve(8).unwrap();
        l2.publish_deferred(&r, Opcode::Data, 8).unwrap();
    }
    assert_eq!(mem.counter(OUT_TAIL), 0);
    assert_eq!(l2.try_reserve(8), Err(Error::NoProgress));
    assert_eq!(mem.counter(OUT_TAIL), 2);
}

#[test]
fn stop_after_deferred_commits_publishes_them_first() {
    let mem = Memory::new(8, 1024, 1024);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(8);
    let r = l3.try_reserve(3).unwrap();
    l3.write_reserved(&r, 0, b"abc").unwrap();
    l3.publish_deferred(&r, Opcode::Data, 3).unwrap();
    l3.try_request_stop().unwrap();
    assert_eq!(mem.counter(IN_TAIL), 2);
    l3.flush().unwrap();
    let mut out = [Message::EMPTY; 8];
    assert_eq!(l2.try_peek_batch(&mut out), Ok(2));
    assert_eq!(out[1].opcode, L3L2Q_OPCODE_STOP);
    assert_eq!(read(&l2, &out[0]), b"abc");
    l2.release_batch(&out[..2]).unwrap();
    assert!(l2.drained());
}

#[test]
fn l2_batch_peek_respects_the_window() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(3);
    let batch = payloads(&[10; 5], 4);
    assert_eq!(l3.try_send_batch(Opcode::Data, slices(&batch)), Ok(5));
    let mut out = [Message::EMPTY; 8];
    assert_eq!(l2.try_peek_batch(&mut out), Ok(3), "window of 3");
    assert_eq!(
        l2.try_peek_batch(&mut out[3..]),
        Err(Error::NoProgress),
        "window full is no-progress"
    );
    assert!(l2.error().is_none());
    l2.release_batch(&out[..3]).unwrap();
    assert_eq!(mem.counter(IN_HEAD), 3);
    assert_eq!(l2.try_peek_batch(&mut out), Ok(2));
    assert_eq!([out[0].seq, out[1].seq], [4, 5]);
    assert_eq!(
        l2.try_peek_batch(&mut out[2..]),
        Err(Error::NoProgress),
        "nothing more published"
    );
    assert_eq!(l2.try_peek_batch(&mut []), Err(Error::NoProgress));
}

#[test]
fn l2_window_one_batch_takes_one_and_a_second_batch_is_an_ownership_error() {
    let mem = Memory::new(4, 256, 64);
    let mut l3 = mem.l3(4);
    let mut l2 = mem.l2(1);
    let batch = payloads(&[1, 2], 5);
    assert_eq!(l3.try_send_batch(Opcode::Data, slices(&batch)), Ok(2));
    let mut out = [Message::EMPTY; 4];
    assert_eq!(l2.try_peek_batch(&mut out), Ok(1));
    assert_eq!(
        l2.try_peek_batch(&mut out[1..]),
        Err(Error::Poisoned(ErrorKind::Ownership)),
        "as a second try_peek with window 1"
    );
    assert_eq!(mem.counter(L3L2Q_L2_ABORT_FLAG_OFFSET), 1);
}

#[test]
fn l2_release_batch_advances_only_the_completed_prefix() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(8);
    let batch = payloads(&[3; 4], 6);
    l3.try_send_batch(Opcode::Data, slices(&batch)).unwrap();
    let mut out = [Message::EMPTY; 4];
    assert_eq!(l2.try_peek_batch(&mut out), Ok(4));
    l2.release_batch(&[out[3], out[1]]).unwrap();
    assert_eq!(mem.counter(IN_HEAD), 0, "#1 is not released: nothing frees");
    assert_eq!(l2.region().stores(IN_HEAD), 0);
    l2.release_batch(&[out[0]]).unwrap();
    assert_eq!(mem.counter(IN_HEAD), 2, "#1 and #2 now form the prefix");
    l2.release(&out[2]).unwrap();
    assert_eq!(mem.counter(IN_HEAD), 4);
    assert_eq!(l2.region().stores(IN_HEAD), 2);
    l2.release_batch(&[]).unwrap();
    assert_eq!(
        l2.region().stores(IN_HEAD),
        2,
        "an empty batch stores nothing"
    );
}

#[test]
fn l2_release_batch_rejects_a_duplicate_inside_the_batch_and_stores_nothing() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(8);
    l3.try_send_batch(Opcode::Data, slices(&payloads(&[3; 2], 7)))
        .unwrap();
    let mut out = [Message::EMPTY; 2];
    assert_eq!(l2.try_peek_batch(&mut out), Ok(2));
    assert_eq!(
        l2.release_batch(&[out[0], out[0]]),
        Err(Error::Poisoned(ErrorKind::Ownership))
    );
    assert_eq!(mem.counter(IN_HEAD), 0);
    assert_eq!(mem.counter(L3L2Q_L2_ABORT_FLAG_OFFSET), 1);
    assert!(l2.error().unwrap().message().contains("twice"));
}

#[test]
fn l2_release_batch_rejects_an_altered_handle() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(8);
    l3.try_send_batch(Opcode::Data, slices(&payloads(&[3; 2], 8)))
        .unwrap();
    let mut out = [Message::EMPTY; 2];
    l2.try_peek_batch(&mut out).unwrap();
    let mut altered = out[1];
    altered.payload_nbytes = 2;
    assert_eq!(
        l2.release_batch(&[out[0], altered]),
        Err(Error::Poisoned(ErrorKind::Ownership))
    );
    assert_eq!(
        mem.counter(IN_HEAD),
        0,
        "the valid first entry is not published either"
    );
}

#[test]
fn l2_batch_peek_ends_at_stop_and_takes_nothing_after() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(4);
    l3.try_send_batch(Opcode::Data, slices(&payloads(&[2; 2], 9)))
        .unwrap();
    l3.try_request_stop().unwrap();
    let mut out = [Message::EMPTY; 8];
    assert_eq!(l2.try_peek_batch(&mut out), Ok(3));
    assert_eq!(out[2].opcode, L3L2Q_OPCODE_STOP);
    assert_eq!(l2.try_peek_batch(&mut out[3..]), Err(Error::NoProgress));
    l2.release_batch(&[out[2], out[1]]).unwrap();
    assert!(!l2.drained(), "STOP waits for #1");
    l2.release_batch(&out[..1]).unwrap();
    assert!(l2.drained());
    assert_eq!(mem.counter(IN_HEAD), 3);
}

#[test]
fn l2_batch_send_and_deferred_publish_reach_l3_batch_peek() {
    let mem = Memory::new(8, 64, 1024);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(1);
    let batch = payloads(&[7, 0, 33], 10);
    assert_eq!(l2.try_send_batch(Opcode::Data, slices(&batch)), Ok(3));
    assert_eq!(l2.region().stores(OUT_TAIL), 1);
    for i in 0..2u8 {
        let r = l2.try_reserve(4).unwrap();
        l2.write_reserved(&r, 0, &[i + 100; 4]).unwrap();
        l2.publish_deferred(&r, Opcode::Error, 4).unwrap();
    }
    assert_eq!(mem.counter(OUT_TAIL), 3);
    l2.flush().unwrap();
    assert_eq!(mem.counter(OUT_TAIL), 5);
    assert_eq!(l2.region().stores(OUT_TAIL), 2);

    let mut out = [Message::EMPTY; 8];
    assert_eq!(l3.try_peek_batch(&mut out[..2]), Ok(2));
    assert_eq!(
        l3.try_peek_batch(&mut out),
        Ok(5),
        "held ones come back first, then more"
    );
    assert_eq!(
        out[..5].iter().map(|m| m.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        l3.try_peek().unwrap(),
        out[0],
        "try_peek returns the oldest held"
    );
    let mut buf = [0u8; 64];
    // Any held message may be read, in any order.
    assert_eq!(l3.read_into(&out[4], &mut buf), Ok(4));
    assert_eq!(&buf[..4], &[101; 4]);
    assert_eq!(l3.read_into(&out[2], &mut buf), Ok(33));
    assert_eq!(&buf[..33], batch[2].as_slice());
    assert_eq!(out[3].opcode, L3L2Q_OPCODE_ERROR);
    l3.release_batch(&out[..3]).unwrap();
    assert_eq!(mem.counter(OUT_HEAD), 3);
    assert_eq!(l3.region().stores(OUT_HEAD), 1);
    assert_eq!(l3.try_peek().unwrap(), out[3]);
    l3.release(&out[3]).unwrap();
    l3.release(&out[4]).unwrap();
    assert_eq!(mem.counter(OUT_HEAD), 5);
    assert_eq!(l3.try_peek_batch(&mut out), Err(Error::NoProgress));
}

#[test]
fn l3_release_batch_must_follow_fifo_order() {
    let mem = Memory::new(8, 64, 1024);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(1);
    l2.try_send_batch(Opcode::Data, slices(&payloads(&[1; 3], 11)))
        .unwrap();
    let mut out = [Message::EMPTY; 3];
    assert_eq!(l3.try_peek_batch(&mut out), Ok(3));
    assert_eq!(
        l3.release_batch(&[out[0], out[2]]),
        Err(Error::Poisoned(ErrorKind::Ownership))
    );
    assert_eq!(mem.counter(OUT_HEAD), 0, "nothing released");
    assert_eq!(mem.counter(L3L2Q_L3_ABORT_FLAG_OFFSET), 1);
}

#[test]
fn l3_release_of_a_held_but_not_oldest_message_is_an_ownership_error() {
    let mem = Memory::new(8, 64, 1024);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(1);
    l2.try_send_batch(Opcode::Data, slices(&payloads(&[1; 2], 12)))
        .unwrap();
    let mut out = [Message::EMPTY; 2];
    l3.try_peek_batch(&mut out).unwrap();
    assert_eq!(
        l3.release(&out[1]),
        Err(Error::Poisoned(ErrorKind::Ownership))
    );
}

#[test]
fn l3_holds_at_most_max_held_or_depth() {
    let depth = 512;
    let mem = Memory::new(depth, 64, 64 * 1024);
    let mut l3 = mem.l3(depth);
    let mut l2 = mem.l2(1);
    let batch = payloads(&[8; 300], 13);
    assert_eq!(l2.try_send_batch(Opcode::Data, slices(&batch)), Ok(300));
    let mut out = vec![Message::EMPTY; 300];
    assert_eq!(
        l3.try_peek_batch(&mut out),
        Ok(l3l2q::l3::L3L2Q_L3_MAX_HELD as usize)
    );
    l3.release_batch(&out[..10]).unwrap();
    assert_eq!(
        l3.try_peek_batch(&mut out),
        Ok(256),
        "10 freed, 10 more taken"
    );
    assert_eq!(out[0].seq, 11);
    assert_eq!(out[255].seq, 266);

    let small = Memory::new(4, 64, 1024);
    let mut l3 = small.l3(4);
    let mut l2 = small.l2(1);
    l2.try_send_batch(Opcode::Data, slices(&payloads(&[8; 4], 14)))
        .unwrap();
    let mut out = [Message::EMPTY; 8];
    assert_eq!(l3.try_peek_batch(&mut out), Ok(4), "capped by depth");
}

#[test]
fn single_and_batch_calls_interleave() {
    let mem = Memory::new(16, 4096, 4096);
    let mut l3 = mem.l3(16);
    let mut l2 = mem.l2(4);
    let mut sent = 0u64;
    let mut got = 0u64;
    for round in 0..50u64 {
        if round % 2 == 0 {
            l3.try_send(Opcode::Data, &round.to_le_bytes()).unwrap();
            sent += 1;
        } else {
            let b = [round.to_le_bytes(), (round + 1000).to_le_bytes()];
            assert_eq!(
                l3.try_send_batch(Opcode::Data, b.iter().map(|x| x.as_slice())),
                Ok(2)
            );
            sent += 2;
        }
        while got < sent {
            let mut out = [Message::EMPTY; 4];
            let n = if got % 3 == 0 {
                out[0] = l2.try_peek().unwrap();
                1
            } else {
                l2.try_peek_batch(&mut out).unwrap()
            };
            for m in &out[..n] {
                got += 1;
                assert_eq!(m.seq, got);
                let v = u64::from_le_bytes(read(&l2, m).try_into().unwrap());
                assert!(v == round || v == round + 1000);
                let echo = v.to_le_bytes();
                l2.try_send_batch(Opcode::Data, [echo.as_slice()]).unwrap();
            }
            if n == 1 {
                l2.release(&out[0]).unwrap()
            } else {
                l2.release_batch(&out[..n]).unwrap()
            }
            let mut back = [Message::EMPTY; 4];
            let k = l3.try_peek_batch(&mut back).unwrap();
            let mut buf = [0u8; 8];
            for m in &back[..k] {
                assert_eq!(l3.read_into(m, &mut buf), Ok(8));
            }
            l3.release_batch(&back[..k]).unwrap();
        }
    }
    assert_eq!(mem.counter(IN_HEAD) as u64, sent);
    assert_eq!(mem.counter(OUT_HEAD) as u64, sent);
}

#[test]
fn two_threads_stream_batches_in_order() {
    const N: u64 = 200_000;
    let mem = Memory::new(64, 4096, 4096);
    let descriptor = mem.descriptor();
    let args = mem.layout.queue_args();
    let mut l3 = L3Queue::create(
        mem.mapped(),
        &descriptor,
        QueueConfig {
            depth: 64,
            input_arena_bytes: 4096,
            output_arena_bytes: 4096,
        },
    )
    .unwrap();
    // SAFETY: the memory outlives both threads (joined below).
    let mut l2 = unsafe { L2Endpoint::from_descriptor(&descriptor, &args, 16, 0) }.unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut next = 0u64;
            let mut out = [Message::EMPTY; 16];
            while next < N {
                let n = match l2.try_peek_batch(&mut out) {
                    Ok(n) => n,
                    Err(Error::NoProgress) => continue,
                    Err(e) => panic!("{e:?}"),
                };
                for m in &out[..n] {
                    assert_eq!(m.seq, next + 1);
                    let p = l2.payload(m);
                    let len = (next % 97) as usize + 8;
                    assert_eq!(p.len(), len);
                    assert_eq!(u64::from_le_bytes(p[..8].try_into().unwrap()), next);
                    assert!(p[8..].iter().all(|&b| b == next as u8));
                    next += 1;
                }
                l2.release_batch(&out[..n]).unwrap();
            }
        });
        let mut next = 0u64;
        let mut bufs = vec![Vec::new(); 13];
        while next < N {
            let k = ((next % 13) as usize + 1).min((N - next) as usize);
            for (j, buf) in bufs[..k].iter_mut().enumerate() {
                let i = next + j as u64;
                buf.clear();
                buf.extend_from_slice(&i.to_le_bytes());
                buf.resize((i % 97) as usize + 8, i as u8);
            }
            match l3.try_send_batch(Opcode::Data, bufs[..k].iter().map(Vec::as_slice)) {
                Ok(n) => next += n as u64,
                Err(Error::NoProgress) => std::hint::spin_loop(),
                Err(e) => panic!("{e:?}"),
            }
        }
    });
    assert_eq!(mem.counter(IN_HEAD) as u64, N);
}

#[test]
fn c_api_batch_functions() {
    use l3l2q::ffi::l2::*;
    use l3l2q::ffi::l3::*;
    let mem = Memory::new(8, 1024, 1024);
    let descriptor = mem.descriptor();
    let config = L3Config {
        depth: 8,
        input_arena_bytes: 1024,
        output_arena_bytes: 1024,
        initial_count: 0,
    };
    let mut q: *mut L3QueueHandle = std::ptr::null_mut();
    let mut ep: *mut L2EndpointHandle = std::ptr::null_mut();
    // SAFETY: every pointer below is valid for the access the C API documents; the memory outlives both handles.
    unsafe {
        assert_eq!(
            l3l2q_l3_queue_create_mapped(&descriptor, &config, &mut q, std::ptr::null_mut()),
            Status::Ok
        );
        let mut scalars = [0u64; 12];
        assert_eq!(
            l3l2q_l3_task_scalars(q, scalars.as_mut_ptr(), 12),
            Status::Ok
        );
        let l2config = L2Config {
            max_inflight: 8,
            initial_count: 0,
        };
        assert_eq!(
            l3l2q_l2_endpoint_create(
                scalars.as_ptr(),
                12,
                &l2config,
                &mut ep,
                std::ptr::null_mut()
            ),
            Status::Ok
        );

        let data = [b"one".as_slice(), b"", b"three"];
        let batch: Vec<ByteSlice> = data
            .iter()
            .map(|d| ByteSlice {
                data: if d.is_empty() {
                    std::ptr::null()
                } else {
                    d.as_ptr()
                },
                len: d.len(),
            })
            .collect();
        let mut sent = 99usize;
        let bad = [ByteSlice {
            data: std::ptr::null(),
            len: 1,
        }];
        assert_eq!(
            l3l2q_l3_try_enqueue_batch(q, L3L2Q_OPCODE_DATA, bad.as_ptr(), 1, &mut sent),
            Status::BadArgument
        );
        assert_eq!(
            l3l2q_l3_try_enqueue_batch(q, L3L2Q_OPCODE_DATA, std::ptr::null(), 3, &mut sent),
            Status::BadArgument
        );
        assert_eq!(
            l3l2q_l3_try_enqueue_batch(
                q,
                L3L2Q_OPCODE_DATA,
                batch.as_ptr(),
                3,
                std::ptr::null_mut()
            ),
            Status::BadArgument
        );
        assert_eq!(sent, 99, "out-parameter untouched on failure");
        assert_eq!(mem.counter(IN_TAIL), 0);
        assert_eq!(
            l3l2q_l3_try_enqueue_batch(q, L3L2Q_OPCODE_DATA, batch.as_ptr(), 3, &mut sent),
            Status::Ok
        );
        assert_eq!(sent, 3);

        let mut out = [Message::EMPTY; 4];
        let mut count = 0usize;
        assert_eq!(
            l3l2q_l2_try_peek_batch(ep, out.as_mut_ptr(), 4, &mut count),
            Status::Ok
        );
        assert_eq!(count, 3);
        assert_eq!(out[2].payload(), b"three");
        assert_eq!(
            l3l2q_l2_try_peek_batch(ep, out.as_mut_ptr(), 0, &mut count),
            Status::NoProgress
        );
        assert_eq!(l3l2q_l2_release_batch(ep, out.as_ptr(), 3), Status::Ok);
        assert_eq!(mem.counter(IN_HEAD), 3);

        assert_eq!(
            l3l2q_l2_try_send_batch(ep, L3L2Q_OPCODE_DATA, batch.as_ptr(), 3, &mut sent),
            Status::Ok
        );
        let mut r = std::mem::zeroed();
        assert_eq!(l3l2q_l2_try_reserve(ep, 2, &mut r), Status::Ok);
        assert_eq!(
            l3l2q_l2_publish_deferred(ep, &r, L3L2Q_OPCODE_DATA, 2),
            Status::Ok
        );
        assert_eq!(mem.counter(OUT_TAIL), 3);
        assert_eq!(l3l2q_l2_flush(ep), Status::Ok);
        assert_eq!(mem.counter(OUT_TAIL), 4);

        assert_eq!(
            l3l2q_l3_try_peek_batch(q, out.as_mut_ptr(), 4, &mut count),
            Status::Ok
        );
        assert_eq!(count, 4);
        assert_eq!(l3l2q_l3_release_batch(q, out.as_ptr(), 4), Status::Ok);
        assert_eq!(mem.counter(OUT_HEAD), 4);

        let mut r = std::mem::zeroed();
        assert_eq!(l3l2q_l3_try_reserve(q, 1, &mut r), Status::Ok);
        assert_eq!(
            l3l2q_l3_commit_deferred(q, &r, L3L2Q_OPCODE_DATA, 1),
            Status::Ok
        );
        assert_eq!(mem.counter(IN_TAIL), 3);
        assert_eq!(l3l2q_l3_flush(q), Status::Ok);
        assert_eq!(mem.counter(IN_TAIL), 4);
        assert_eq!(
            l3l2q_l3_release_batch(q, std::ptr::null(), 1),
            Status::BadArgument
        );
        assert_eq!(l3l2q_l2_release_batch(ep, std::ptr::null(), 0), Status::Ok);

        assert_eq!(l3l2q_l2_endpoint_free(&mut ep), Status::Ok);
        assert_eq!(l3l2q_l3_queue_free(&mut q), Status::Ok);
    }
}

#[test]
fn queue_and_endpoint_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<L3Queue<MappedRegion>>();
    assert_send::<L2Endpoint>();
}

/// Every visit of a `try_consume` call: seq, opcode and the payload bytes.
type Visits = Vec<(u64, u64, Vec<u8>)>;

fn consume(l2: &mut L2Endpoint<Counting>, max: usize) -> (Result<usize, Error>, Visits) {
    let mut seen = Visits::new();
    let r = l2.try_consume(max, |m, payload| {
        assert_eq!(
            payload.len() as u64,
            m.payload_nbytes,
            "the payload slice is the whole message"
        );
        seen.push((m.seq, m.opcode, payload.to_vec()));
    });
    (r, seen)
}

#[test]
fn l2_consume_visits_in_order_in_place_and_releases_with_one_store() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(2);
    let batch = payloads(&[5, 0, 64, 17, 3], 10);
    assert_eq!(l3.try_send_batch(Opcode::Data, slices(&batch[..3])), Ok(3));
    assert_eq!(l3.try_send_batch(Opcode::Error, slices(&batch[3..])), Ok(2));
    let (r, seen) = consume(&mut l2, 4);
    assert_eq!(
        r,
        Ok(4),
        "the window of 2 does not apply: no handle outlives the call"
    );
    assert_eq!(
        seen.iter().map(|v| (v.0, v.1)).collect::<Vec<_>>(),
        [(1, 1), (2, 1), (3, 1), (4, 3)]
    );
    for (i, v) in seen.iter().enumerate() {
        assert_eq!(v.2, batch[i], "payload {i}");
    }
    assert_eq!(mem.counter(IN_HEAD), 4);
    assert_eq!(
        l2.region().stores(IN_HEAD),
        1,
        "one head store for the batch"
    );
    let (r, seen) = consume(&mut l2, 8);
    assert_eq!((r, seen.len()), (Ok(1), 1));
    assert_eq!(seen[0].2, batch[4]);
    assert_eq!(
        consume(&mut l2, 8).0,
        Err(Error::NoProgress),
        "nothing published"
    );
    assert_eq!(consume(&mut l2, 0).0, Err(Error::NoProgress));
    assert_eq!(l2.region().stores(IN_HEAD), 2, "no-progress stores nothing");
    assert!(l2.error().is_none());
    // The freed space is usable: the arena wraps and consume follows.
    let big = payloads(&[1000], 11);
    assert_eq!(l3.try_send_batch(Opcode::Data, slices(&big)), Ok(1));
    let (r, seen) = consume(&mut l2, 8);
    assert_eq!((r, seen[0].2.as_slice()), (Ok(1), big[0].as_slice()));
}

#[test]
fn l2_consume_ends_after_stop_and_leaves_the_endpoint_drained() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(4);
    l3.try_send_batch(Opcode::Data, slices(&payloads(&[2; 2], 12)))
        .unwrap();
    l3.try_request_stop().unwrap();
    let (r, seen) = consume(&mut l2, 8);
    assert_eq!(r, Ok(3));
    assert_eq!(
        seen[2],
        (3, L3L2Q_OPCODE_STOP, vec![]),
        "STOP is visited last, empty"
    );
    assert!(l2.drained());
    assert_eq!(mem.counter(IN_HEAD), 3, "STOP released with the rest");
    assert_eq!(consume(&mut l2, 8).0, Err(Error::NoProgress));
    assert_eq!(l2.try_peek(), Err(Error::NoProgress));
    // A descriptor published after STOP is still caught.
    let (tail_at, slot) = (
        L3L2Q_INPUT_DESC_TAIL_OFFSET as usize,
        DescriptorSlot {
            seq: 4,
            opcode: L3L2Q_OPCODE_DATA,
            payload_offset: 0,
            payload_nbytes: 0,
        },
    );
    // SAFETY: slot 3 of the input ring and the tail counter lie inside the test's allocations; nothing else runs.
    unsafe {
        mem.payload
            .add(3 * 32)
            .copy_from_nonoverlapping(slot.to_bytes().as_ptr(), 32);
        AtomicU32::from_ptr(mem.counters.add(tail_at).cast()).store(4, Ordering::Release);
    }
    assert_eq!(
        consume(&mut l2, 8).0,
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor))
    );
}

#[test]
fn l2_consume_while_handles_are_held_keeps_the_fifo_rule() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(4);
    let batch = payloads(&[4; 3], 13);
    l3.try_send_batch(Opcode::Data, slices(&batch)).unwrap();
    let held = l2.try_peek().unwrap();
    let (r, seen) = consume(&mut l2, 8);
    assert_eq!(r, Ok(2));
    assert_eq!(
        seen.iter().map(|v| v.2.clone()).collect::<Vec<_>>(),
        batch[1..]
    );
    assert_eq!(
        mem.counter(IN_HEAD),
        0,
        "#1 is still held: nothing after it frees"
    );
    assert!(l2.holds(&held));
    l2.release(&held).unwrap();
    assert_eq!(mem.counter(IN_HEAD), 3);
    assert!(l2.error().is_none());
}

#[test]
fn l2_consume_releases_what_it_visited_even_when_the_visitor_panics() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(4);
    l3.try_send_batch(Opcode::Data, slices(&payloads(&[4; 4], 14)))
        .unwrap();
    let mut visited = 0;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = l2.try_consume(8, |_, _| {
            visited += 1;
            if visited == 2 {
                panic!("visitor fails");
            }
        });
    }));
    assert!(unwound.is_err());
    assert_eq!(
        mem.counter(IN_HEAD),
        2,
        "both visited inputs were released on unwind"
    );
    assert!(l2.error().is_none());
    let (r, seen) = consume(&mut l2, 8);
    assert_eq!(
        (r, seen.iter().map(|v| v.0).collect::<Vec<_>>()),
        (Ok(2), vec![3, 4]),
        "the rest follow in order"
    );
    assert_eq!(mem.counter(IN_HEAD), 4);
}

#[test]
fn l2_consume_poisons_at_a_bad_slot_after_releasing_the_good_ones_before_it() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(4);
    l3.try_send_batch(Opcode::Data, slices(&payloads(&[4; 3], 15)))
        .unwrap();
    // SAFETY: byte 0 of slot 2 (its seq) lies inside the input ring; nothing else runs.
    unsafe { *mem.payload.add(2 * 32) ^= 0x40 };
    let (r, seen) = consume(&mut l2, 8);
    assert_eq!(r, Err(Error::Poisoned(ErrorKind::InvalidDescriptor)));
    assert_eq!(seen.len(), 2, "the two valid inputs before it were visited");
    assert_eq!(mem.counter(IN_HEAD), 2, "and released before the poison");
    assert_eq!(mem.counter(L3L2Q_L2_ABORT_FLAG_OFFSET), 1);
    assert_eq!(
        consume(&mut l2, 8).0,
        Err(Error::Poisoned(ErrorKind::InvalidDescriptor)),
        "sticky"
    );
}

#[test]
fn l2_consume_needs_an_in_place_view() {
    /// The counting region without payload pointers, as a callbacks backend.
    struct NoView(Counting);
    // SAFETY: `payload_ptr` keeps its default (`None`), which is the point of this region.
    unsafe impl Region for NoView {
        fn read_payload(&self, offset: u64, dst: &mut [u8]) -> Result<(), Fault> {
            self.0.read_payload(offset, dst)
        }
        fn write_payload(&self, offset: u64, src: &[u8]) -> Result<(), Fault> {
            self.0.write_payload(offset, src)
        }
        fn load_counter(&self, offset: u64) -> Result<u32, Fault> {
            self.0.load_counter(offset)
        }
        fn store_counter(&self, offset: u64, value: u32) -> Result<(), Fault> {
            self.0.store_counter(offset, value)
        }
    }
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = L2Endpoint::with_region(
        NoView(mem.counting()),
        &mem.descriptor(),
        &mem.layout.queue_args(),
        4,
        0,
    )
    .unwrap();
    l3.try_send_batch(Opcode::Data, slices(&payloads(&[4; 1], 16)))
        .unwrap();
    assert_eq!(
        l2.try_consume(8, |_, _| panic!("nothing is visited")),
        Err(Error::BadArgument)
    );
    let m = l2.try_peek().expect("the input is still there");
    let mut buf = [0u8; 4];
    assert_eq!(l2.copy_payload(&m, &mut buf), Ok(4));
}

#[test]
fn l2_consume_behind_a_held_input_respects_the_window_without_poisoning() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(1);
    l3.try_send_batch(Opcode::Data, slices(&payloads(&[4; 2], 17)))
        .unwrap();
    l3.try_request_stop().unwrap();
    let held = l2.try_peek().unwrap();
    let (r, seen) = consume(&mut l2, 8);
    assert_eq!(
        (r, seen.len()),
        (Err(Error::NoProgress), 0),
        "window 1 is full: no-progress, not an ownership error"
    );
    assert!(l2.error().is_none());
    l2.release(&held).unwrap();
    let (r, seen) = consume(&mut l2, 8);
    assert_eq!(r, Ok(2));
    assert_eq!((seen[0].0, seen[1].1), (2, L3L2Q_OPCODE_STOP));
    assert!(l2.drained());
    assert_eq!(mem.counter(IN_HEAD), 3);
}

#[test]
fn l2_consume_behind_a_held_input_releases_what_it_visited_when_the_visitor_panics() {
    let mem = Memory::new(8, 1024, 64);
    let mut l3 = mem.l3(8);
    let mut l2 = mem.l2(4);
    l3.try_send_batch(Opcode::Data, slices(&payloads(&[4; 4], 18)))
        .unwrap();
    let held = l2.try_peek().unwrap();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = l2.try_consume(8, |_, _| panic!("visitor fails"));
    }));
    assert!(unwound.is_err());
    assert!(l2.error().is_none());
    l2.release(&held).unwrap();
    assert_eq!(
        mem.counter(IN_HEAD),
        2,
        "#2, visited when the visitor panicked, was released with it"
    );
    let (r, seen) = consume(&mut l2, 8);
    assert_eq!(
        (r, seen.iter().map(|v| v.0).collect::<Vec<_>>()),
        (Ok(2), vec![3, 4])
    );
    assert_eq!(
        mem.counter(IN_HEAD),
        4,
        "nothing is left holding the head back"
    );
}
