//! A raw view of a queue region for tests that play the peer by hand:
//! they write slots, payload bytes and counters exactly as docs/SPEC.md says,
//! without going through the library's protocol core, so the core is
//! checked against the wire format rather than against itself.

#![allow(dead_code)]

use std::alloc::{Layout as AllocLayout, alloc_zeroed, dealloc};
use std::sync::atomic::{AtomicU32, Ordering};

use l3l2q::abi::*;
use l3l2q::layout::pack_magic_version;

/// Payload and counter memory of one queue, heap-allocated and zeroed.
pub struct RawRegion {
    payload: *mut u8,
    payload_alloc: AllocLayout,
    /// Bytes before the payload base inside the allocation (to test
    /// unaligned payload bases).
    skew: usize,
    counters: *mut u8,
    counters_alloc: AllocLayout,
    /// The layout of the queue.
    pub layout: Layout,
    /// Region id written into the descriptor.
    pub region_id: u64,
}

// SAFETY: tests share the region between threads exactly as two agents share
// device memory; counters are only accessed atomically.
unsafe impl Send for RawRegion {}
// SAFETY: as above.
unsafe impl Sync for RawRegion {}

impl RawRegion {
    /// A zeroed region for the given queue shape.
    pub fn new(depth: u64, input_arena: u64, output_arena: u64) -> RawRegion {
        Self::with_skew(depth, input_arena, output_arena, 0)
    }

    /// As [`RawRegion::new`] with the payload base `skew` bytes past a
    /// page boundary (the spec gives payload_base no alignment).
    pub fn with_skew(depth: u64, input_arena: u64, output_arena: u64, skew: usize) -> RawRegion {
        let layout = Layout::compute(depth, input_arena, output_arena).expect("valid layout");
        let payload_alloc =
            AllocLayout::from_size_align(layout.payload_bytes as usize + skew, 4096).unwrap();
        let counters_alloc =
            AllocLayout::from_size_align(L3L2Q_COUNTER_BYTES as usize, 4096).unwrap();
        // SAFETY: both layouts have non-zero size.
        let (payload, counters) =
            unsafe { (alloc_zeroed(payload_alloc), alloc_zeroed(counters_alloc)) };
        assert!(!payload.is_null() && !counters.is_null());
        RawRegion {
            payload,
            payload_alloc,
            skew,
            counters,
            counters_alloc,
            layout,
            region_id: 0x5eed,
        }
    }

    /// The descriptor of this region (this process's addresses).
    pub fn descriptor(&self) -> RegionDescriptor {
        RegionDescriptor {
            magic_version: pack_magic_version(
                L3L2Q_REGION_MAGIC,
                L3L2Q_REGION_ABI_MAJOR,
                L3L2Q_REGION_ABI_MINOR,
            ),
            region_id: self.region_id,
            payload_base: self.payload_base() as u64,
            payload_bytes: self.layout.payload_bytes,
            counter_base: self.counters as u64,
            counter_bytes: L3L2Q_COUNTER_BYTES,
        }
    }

    /// The queue arguments.
    pub fn args(&self) -> QueueArgs {
        self.layout.queue_args()
    }

    /// The twelve task scalars.
    pub fn scalars(&self) -> TaskScalars {
        TaskScalars::encode(&self.descriptor(), &self.args())
    }

    /// Address of payload offset 0.
    pub fn payload_base(&self) -> *mut u8 {
        // SAFETY: skew is inside the allocation.
        unsafe { self.payload.add(self.skew) }
    }

    fn counter_ref(&self, offset: u64) -> &AtomicU32 {
        assert!(offset % 4 == 0 && offset + 4 <= L3L2Q_COUNTER_BYTES);
        // SAFETY: in range and 4-byte aligned (the allocation is page aligned).
        unsafe { AtomicU32::from_ptr(self.counters.add(offset as usize).cast()) }
    }

    /// Loads a counter (acquire).
    pub fn counter(&self, offset: u64) -> u32 {
        u32::from_le(self.counter_ref(offset).load(Ordering::Acquire))
    }

    /// Stores a counter (release).
    pub fn set_counter(&self, offset: u64, value: u32) {
        self.counter_ref(offset)
            .store(value.to_le(), Ordering::Release);
    }

    /// Copies bytes into the payload range.
    pub fn write(&self, offset: u64, bytes: &[u8]) {
        assert!(offset as usize + bytes.len() <= self.layout.payload_bytes as usize);
        // SAFETY: in range (asserted); the test owns these bytes by protocol.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.payload_base().add(offset as usize),
                bytes.len(),
            )
        };
    }

    /// Copies bytes out of the payload range.
    pub fn read(&self, offset: u64, len: usize) -> Vec<u8> {
        assert!(offset as usize + len <= self.layout.payload_bytes as usize);
        let mut out = vec![0u8; len];
        // SAFETY: in range (asserted).
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.payload_base().add(offset as usize),
                out.as_mut_ptr(),
                len,
            )
        };
        out
    }

    /// Payload offset of slot `index` of the ring at `ring_offset`.
    pub fn slot_offset(&self, ring_offset: u64, index: u64) -> u64 {
        ring_offset + (index & (self.layout.depth - 1)) * L3L2Q_SLOT_BYTES
    }

    /// Writes a whole slot as four little-endian u64.
    pub fn write_slot(&self, ring_offset: u64, index: u64, slot: DescriptorSlot) {
        let mut bytes = Vec::with_capacity(32);
        for word in [
            slot.seq,
            slot.opcode,
            slot.payload_offset,
            slot.payload_nbytes,
        ] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        self.write(self.slot_offset(ring_offset, index), &bytes);
    }

    /// Reads a whole slot.
    pub fn read_slot(&self, ring_offset: u64, index: u64) -> DescriptorSlot {
        let b = self.read(self.slot_offset(ring_offset, index), 32);
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
        DescriptorSlot {
            seq: w(0),
            opcode: w(1),
            payload_offset: w(2),
            payload_nbytes: w(3),
        }
    }

    /// Sets all four ring counters to `value` (to start near 2^31 / 2^32).
    pub fn start_counters_at(&self, value: u64) {
        for off in [
            L3L2Q_INPUT_DESC_TAIL_OFFSET,
            L3L2Q_INPUT_DESC_HEAD_OFFSET,
            L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
            L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
        ] {
            self.set_counter(off, value as u32);
        }
    }
}

impl Drop for RawRegion {
    fn drop(&mut self) {
        // SAFETY: allocated in `with_skew` with these layouts, freed once.
        unsafe {
            dealloc(self.payload, self.payload_alloc);
            dealloc(self.counters, self.counters_alloc);
        }
    }
}

/// A hand-written producer for one direction: the test chooses every
/// offset; this only does the bookkeeping of message numbers.
pub struct RawProducer<'a> {
    /// The region.
    pub region: &'a RawRegion,
    /// Ring offset of the direction.
    pub ring_offset: u64,
    /// Arena offset of the direction.
    pub arena_offset: u64,
    /// Tail counter offset.
    pub tail_counter: u64,
    /// Messages written so far (the next message number).
    pub next: u64,
}

impl<'a> RawProducer<'a> {
    /// The L3 -> L2 direction, starting at message `start`.
    pub fn input(region: &'a RawRegion, start: u64) -> Self {
        RawProducer {
            region,
            ring_offset: region.layout.input_desc_offset,
            arena_offset: region.layout.input_arena_offset,
            tail_counter: L3L2Q_INPUT_DESC_TAIL_OFFSET,
            next: start,
        }
    }

    /// The L2 -> L3 direction, starting at message `start`.
    pub fn output(region: &'a RawRegion, start: u64) -> Self {
        RawProducer {
            region,
            ring_offset: region.layout.output_desc_offset,
            arena_offset: region.layout.output_arena_offset,
            tail_counter: L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
            next: start,
        }
    }

    /// Writes `payload` at arena offset `arena_pos` and a slot for it with
    /// the correct seq, without publishing. Zero-byte payloads use offset 0.
    pub fn write(&mut self, opcode: u64, arena_pos: u64, payload: &[u8]) {
        let payload_offset = if payload.is_empty() {
            0
        } else {
            self.arena_offset + arena_pos
        };
        if !payload.is_empty() {
            self.region.write(payload_offset, payload);
        }
        self.write_slot(DescriptorSlot {
            seq: self.next + 1,
            opcode,
            payload_offset,
            payload_nbytes: payload.len() as u64,
        });
    }

    /// Writes an arbitrary slot (possibly invalid) for the next message.
    pub fn write_slot(&mut self, slot: DescriptorSlot) {
        self.region.write_slot(self.ring_offset, self.next, slot);
        self.next += 1;
    }

    /// Publishes everything written (release store of the tail).
    pub fn publish(&self) {
        self.region.set_counter(self.tail_counter, self.next as u32);
    }

    /// Writes and publishes one message.
    pub fn send(&mut self, opcode: u64, arena_pos: u64, payload: &[u8]) {
        self.write(opcode, arena_pos, payload);
        self.publish();
    }
}

/// Extra [`RawConsumer`] helpers for tests that play L2 on the input ring
/// or release selectively.
impl<'a> RawConsumer<'a> {
    /// The L3 -> L2 direction (playing L2), starting at message `start`.
    pub fn input(region: &'a RawRegion, start: u64) -> Self {
        RawConsumer {
            region,
            ring_offset: region.layout.input_desc_offset,
            tail_counter: L3L2Q_INPUT_DESC_TAIL_OFFSET,
            head_counter: L3L2Q_INPUT_DESC_HEAD_OFFSET,
            next: start,
            released: start,
        }
    }

    /// Reads the next published message, panicking when there is none.
    pub fn expect(&mut self) -> (DescriptorSlot, Vec<u8>) {
        self.take().expect("a published message")
    }

    /// Stores the head as `count` messages released (release store).
    pub fn release_to(&mut self, count: u64) {
        self.released = count;
        self.region.set_counter(self.head_counter, count as u32);
    }

    /// Releases everything read so far.
    pub fn release_all(&mut self) {
        self.release_to(self.next);
    }
}

/// Which copy callback a [`FaultyCallbacks`] call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `payload_write`.
    PayloadWrite = 0,
    /// `payload_read`.
    PayloadRead = 1,
    /// `counter_store`.
    CounterStore = 2,
    /// `counter_load`.
    CounterLoad = 3,
}

/// `extern "C"` copy callbacks over a [`RawRegion`], as a host reaching
/// device memory by DMA would supply them, with failure injection: fail the
/// n-th next call of a kind, or every call of a kind from now on. Every
/// call is counted, failed or not.
pub struct FaultyCallbacks<'a> {
    /// The memory the callbacks copy to and from.
    pub region: &'a RawRegion,
    calls: [std::sync::atomic::AtomicU64; 4],
    /// Fail the call whose 1-based count equals this (0: never).
    fail_at: [std::sync::atomic::AtomicU64; 4],
    /// Fail every call whose count is at least this (0: never).
    fail_from: [std::sync::atomic::AtomicU64; 4],
}

impl<'a> FaultyCallbacks<'a> {
    /// Callbacks over `region` that never fail until told to.
    pub fn new(region: &'a RawRegion) -> Self {
        FaultyCallbacks {
            region,
            calls: Default::default(),
            fail_at: Default::default(),
            fail_from: Default::default(),
        }
    }

    /// Calls of `kind` so far.
    pub fn calls(&self, kind: CallKind) -> u64 {
        self.calls[kind as usize].load(Ordering::SeqCst)
    }

    /// Calls of every kind so far.
    pub fn total_calls(&self) -> u64 {
        self.calls.iter().map(|c| c.load(Ordering::SeqCst)).sum()
    }

    /// Makes the `n`-th next call of `kind` fail (1: the very next one).
    pub fn fail_nth(&self, kind: CallKind, n: u64) {
        assert!(n >= 1);
        self.fail_at[kind as usize].store(self.calls(kind) + n, Ordering::SeqCst);
    }

    /// Makes every call of `kind` from now on fail.
    pub fn fail_all(&self, kind: CallKind) {
        self.fail_from[kind as usize].store(self.calls(kind) + 1, Ordering::SeqCst);
    }

    /// Clears every injected failure.
    pub fn heal(&self) {
        for i in 0..4 {
            self.fail_at[i].store(0, Ordering::SeqCst);
            self.fail_from[i].store(0, Ordering::SeqCst);
        }
    }

    /// Counts a call and says whether it must fail.
    fn enter(&self, kind: CallKind) -> bool {
        let k = kind as usize;
        let n = self.calls[k].fetch_add(1, Ordering::SeqCst) + 1;
        let at = self.fail_at[k].load(Ordering::SeqCst);
        let from = self.fail_from[k].load(Ordering::SeqCst);
        (at != 0 && n == at) || (from != 0 && n >= from)
    }

    /// The vtable, with `ctx` pointing at `self`.
    pub fn vtable(&self) -> l3l2q::region::RegionCallbacks {
        l3l2q::region::RegionCallbacks {
            ctx: self as *const Self as *mut core::ffi::c_void,
            payload_write: Some(cb_payload_write),
            payload_read: Some(cb_payload_read),
            counter_store: Some(cb_counter_store),
            counter_load: Some(cb_counter_load),
        }
    }

    /// A callback region backend over these callbacks, sized as the raw
    /// region's descriptor says.
    ///
    /// # Safety
    /// `self` must outlive the returned region and everything built on it.
    pub unsafe fn backend(&self) -> l3l2q::region::CallbackRegion {
        let d = self.region.descriptor();
        // SAFETY: the callbacks below are safe for any offset and buffer; `self` outlives the region by contract.
        unsafe {
            l3l2q::region::CallbackRegion::new(self.vtable(), d.payload_bytes, d.counter_bytes)
        }
        .expect("complete vtable")
    }
}

/// Recovers the callbacks from `ctx`.
///
/// # Safety
/// `ctx` must come from [`FaultyCallbacks::vtable`] of a live value.
unsafe fn faulty<'b>(ctx: *mut core::ffi::c_void) -> &'b FaultyCallbacks<'b> {
    // SAFETY: caller contract.
    unsafe { &*(ctx as *const FaultyCallbacks<'b>) }
}

fn payload_range_ok(region: &RawRegion, offset: u64, len: usize) -> bool {
    offset
        .checked_add(len as u64)
        .is_some_and(|end| end <= region.layout.payload_bytes)
}

unsafe extern "C" fn cb_payload_write(
    ctx: *mut core::ffi::c_void,
    offset: u64,
    src: *const u8,
    len: usize,
) -> i32 {
    // SAFETY: the library passes back the ctx of our vtable.
    let cb = unsafe { faulty(ctx) };
    if cb.enter(CallKind::PayloadWrite)
        || !payload_range_ok(cb.region, offset, len)
        || (src.is_null() && len != 0)
    {
        return -1;
    }
    if len != 0 {
        // SAFETY: range checked against the payload; src valid for len by the callback contract.
        unsafe {
            std::ptr::copy_nonoverlapping(src, cb.region.payload_base().add(offset as usize), len)
        };
    }
    0
}

unsafe extern "C" fn cb_payload_read(
    ctx: *mut core::ffi::c_void,
    offset: u64,
    dst: *mut u8,
    len: usize,
) -> i32 {
    // SAFETY: as above.
    let cb = unsafe { faulty(ctx) };
    if cb.enter(CallKind::PayloadRead)
        || !payload_range_ok(cb.region, offset, len)
        || (dst.is_null() && len != 0)
    {
        return -1;
    }
    if len != 0 {
        // SAFETY: range checked; dst valid for len by the callback contract.
        unsafe {
            std::ptr::copy_nonoverlapping(cb.region.payload_base().add(offset as usize), dst, len)
        };
    }
    0
}

unsafe extern "C" fn cb_counter_store(ctx: *mut core::ffi::c_void, offset: u64, value: u32) -> i32 {
    // SAFETY: as above.
    let cb = unsafe { faulty(ctx) };
    if cb.enter(CallKind::CounterStore)
        || offset % 4 != 0
        || offset
            .checked_add(4)
            .is_none_or(|end| end > L3L2Q_COUNTER_BYTES)
    {
        return -1;
    }
    cb.region.set_counter(offset, value);
    0
}

unsafe extern "C" fn cb_counter_load(
    ctx: *mut core::ffi::c_void,
    offset: u64,
    value: *mut u32,
) -> i32 {
    // SAFETY: as above.
    let cb = unsafe { faulty(ctx) };
    if cb.enter(CallKind::CounterLoad)
        || offset % 4 != 0
        || offset
            .checked_add(4)
            .is_none_or(|end| end > L3L2Q_COUNTER_BYTES)
        || value.is_null()
    {
        return -1;
    }
    // SAFETY: value is a valid out-pointer by the callback contract.
    unsafe { value.write(cb.region.counter(offset)) };
    0
}

/// A hand-written consumer for one direction, as a raw L3 reads the
/// output ring: it reads slots and payload bytes in place and stores the
/// head counter itself. It checks nothing; tests assert on what it returns.
pub struct RawConsumer<'a> {
    /// The region.
    pub region: &'a RawRegion,
    /// Ring offset of the direction.
    pub ring_offset: u64,
    /// Tail counter offset (producer-written).
    pub tail_counter: u64,
    /// Head counter offset (written here).
    pub head_counter: u64,
    /// Next message number to read.
    pub next: u64,
    /// Messages released (the value whose low 32 bits the head holds).
    pub released: u64,
}

impl<'a> RawConsumer<'a> {
    /// The L2 -> L3 direction, starting at message `start`.
    pub fn output(region: &'a RawRegion, start: u64) -> Self {
        RawConsumer {
            region,
            ring_offset: region.layout.output_desc_offset,
            tail_counter: L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
            head_counter: L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
            next: start,
            released: start,
        }
    }

    /// Published messages not yet read, from the raw tail (low 32 bits).
    pub fn available(&self) -> u64 {
        u64::from(
            self.region
                .counter(self.tail_counter)
                .wrapping_sub(self.next as u32),
        )
    }

    /// Reads the next published slot and a copy of its payload bytes, or
    /// `None` when the tail shows nothing new.
    pub fn take(&mut self) -> Option<(DescriptorSlot, Vec<u8>)> {
        if self.available() == 0 {
            return None;
        }
        let slot = self.region.read_slot(self.ring_offset, self.next);
        let payload = if slot.payload_nbytes == 0 {
            Vec::new()
        } else {
            self.region
                .read(slot.payload_offset, slot.payload_nbytes as usize)
        };
        self.next += 1;
        Some((slot, payload))
    }

    /// Releases every message read so far (stores the head).
    pub fn release(&mut self) {
        self.released = self.next;
        self.region
            .set_counter(self.head_counter, self.released as u32);
    }

    /// Reads and releases everything published; returns what was read.
    pub fn drain(&mut self) -> Vec<(DescriptorSlot, Vec<u8>)> {
        let mut all = Vec::new();
        while let Some(m) = self.take() {
            all.push(m);
        }
        self.release();
        all
    }
}
