//! A raw view of a queue region for tests that play the peer by hand:
//! payload and counter memory they write and read exactly as docs/SPEC.md lays
//! it out, without going through the library's protocol core, so the core
//! is checked against the wire format rather than against itself.

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
