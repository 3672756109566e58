//! Payload and counter memory fenced by inaccessible guard pages, and a
//! raw, bounds-checked view of it for test peers and adversaries.
//!
//! The mapping is `[guard][payload pages][guard][counter page][guard]`,
//! where every guard page is `PROT_NONE`. A queue's payload range is placed
//! flush against the guard after it or the guard before it (alternately),
//! and so is its counter range, so a single byte read or written outside
//! either range by the library faults at once and kills the test.

use std::sync::atomic::{AtomicU32, Ordering};

use l3l2q::abi::*;
use l3l2q::layout::pack_magic_version;

/// One mapping holding a payload area and a counter page between guards.
pub struct Guarded {
    map: *mut u8,
    map_len: usize,
    page: usize,
    payload_area: *mut u8,
    payload_area_len: usize,
    counter_area: *mut u8,
}

// SAFETY: the mapping is plain memory; tests that share it between threads
// do so exactly as two agents share device memory.
unsafe impl Send for Guarded {}
// SAFETY: as above.
unsafe impl Sync for Guarded {}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    assert!(page > 0);
    page as usize
}

impl Guarded {
    /// A mapping whose payload area holds at least `max_payload` bytes.
    pub fn new(max_payload: usize) -> Guarded {
        let page = page_size();
        let payload_pages = max_payload.div_ceil(page).max(1);
        let map_len = page * (payload_pages + 4);
        // SAFETY: an anonymous private mapping with no address hint.
        let map = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                map_len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED, "mmap of the guarded region failed");
        let map = map.cast::<u8>();
        // SAFETY: both sub-ranges lie inside the mapping just created.
        let (payload_area, counter_area) =
            unsafe { (map.add(page), map.add(page * (payload_pages + 2))) };
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: page-aligned sub-ranges of our own mapping.
        unsafe {
            assert_eq!(
                libc::mprotect(payload_area.cast(), payload_pages * page, rw),
                0
            );
            assert_eq!(libc::mprotect(counter_area.cast(), page, rw), 0);
        }
        Guarded {
            map,
            map_len,
            page,
            payload_area,
            payload_area_len: payload_pages * page,
            counter_area,
        }
    }

    /// Places and zeroes a payload range of `payload_bytes` and a counter
    /// range of [`L3L2Q_COUNTER_BYTES`]. With `payload_at_end` the payload
    /// range ends exactly at the guard page after it (its base is then
    /// unaligned in general, which the spec allows); otherwise it starts
    /// exactly after the guard page before it. Likewise for the counters
    /// (`4096 - 384` is a multiple of 64, so both placements are aligned).
    pub fn place(&self, payload_bytes: u64, payload_at_end: bool, counters_at_end: bool) -> Mem {
        let len = payload_bytes as usize;
        assert!(
            len > 0 && len <= self.payload_area_len,
            "payload range does not fit the guarded mapping"
        );
        let payload_off = if payload_at_end {
            self.payload_area_len - len
        } else {
            0
        };
        let counter_bytes = L3L2Q_COUNTER_BYTES as usize;
        let counter_off = if counters_at_end {
            self.page - counter_bytes
        } else {
            0
        };
        // SAFETY: the offsets keep both ranges inside their read-write areas.
        let (payload, counters) = unsafe {
            (
                self.payload_area.add(payload_off),
                self.counter_area.add(counter_off),
            )
        };
        // SAFETY: whole read-write areas of our own mapping.
        unsafe {
            core::ptr::write_bytes(self.payload_area, 0, self.payload_area_len);
            core::ptr::write_bytes(self.counter_area, 0, self.page);
        }
        Mem {
            payload,
            payload_bytes,
            counters,
            counter_bytes: L3L2Q_COUNTER_BYTES,
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: the mapping created in `new`, unmapped once.
        unsafe { libc::munmap(self.map.cast(), self.map_len) };
    }
}

/// A raw view of one queue's payload and counter ranges. Every access is
/// bounds-checked: test code that plays a peer or an adversary may compute
/// nonsense, but it must never be the one that touches a guard page.
#[derive(Debug, Clone, Copy)]
pub struct Mem {
    /// Payload base.
    pub payload: *mut u8,
    /// Payload range length.
    pub payload_bytes: u64,
    /// Counter base (64-byte aligned).
    pub counters: *mut u8,
    /// Counter range length.
    pub counter_bytes: u64,
}

// SAFETY: see `Guarded`.
unsafe impl Send for Mem {}
// SAFETY: see `Guarded`.
unsafe impl Sync for Mem {}

impl Mem {
    /// The region descriptor of this memory (this process's addresses).
    pub fn descriptor(&self, region_id: u64) -> RegionDescriptor {
        RegionDescriptor {
            magic_version: pack_magic_version(
                L3L2Q_REGION_MAGIC,
                L3L2Q_REGION_ABI_MAJOR,
                L3L2Q_REGION_ABI_MINOR,
            ),
            region_id,
            payload_base: self.payload as u64,
            payload_bytes: self.payload_bytes,
            counter_base: self.counters as u64,
            counter_bytes: self.counter_bytes,
        }
    }

    /// Whether `[offset, offset + len)` lies in the payload range.
    pub fn fits(&self, offset: u64, len: u64) -> bool {
        offset
            .checked_add(len)
            .is_some_and(|end| end <= self.payload_bytes)
    }

    fn counter(&self, offset: u64) -> &AtomicU32 {
        assert!(
            offset % 4 == 0 && offset + 4 <= self.counter_bytes,
            "test code asked for counter {offset}"
        );
        // SAFETY: in range and 4-byte aligned (the base is 64-byte aligned).
        unsafe { AtomicU32::from_ptr(self.counters.add(offset as usize).cast()) }
    }

    /// Loads a counter (acquire).
    pub fn load(&self, offset: u64) -> u32 {
        u32::from_le(self.counter(offset).load(Ordering::Acquire))
    }

    /// Stores a counter (release).
    pub fn store(&self, offset: u64, value: u32) {
        self.counter(offset).store(value.to_le(), Ordering::Release);
    }

    /// Copies payload bytes out; `false` (nothing copied) when out of range.
    pub fn read(&self, offset: u64, dst: &mut [u8]) -> bool {
        if !self.fits(offset, dst.len() as u64) {
            return false;
        }
        // SAFETY: in range (checked); dst is a distinct Rust buffer.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.payload.add(offset as usize),
                dst.as_mut_ptr(),
                dst.len(),
            )
        };
        true
    }

    /// Copies payload bytes in; `false` (nothing written) when out of range.
    pub fn write(&self, offset: u64, src: &[u8]) -> bool {
        if !self.fits(offset, src.len() as u64) {
            return false;
        }
        // SAFETY: in range (checked); src is a distinct Rust buffer.
        unsafe {
            core::ptr::copy_nonoverlapping(
                src.as_ptr(),
                self.payload.add(offset as usize),
                src.len(),
            )
        };
        true
    }

    /// Fills payload bytes with `byte`; `false` when out of range.
    #[allow(dead_code, reason = "only tests/stop_rule.rs uses it")]
    pub fn fill(&self, offset: u64, len: u64, byte: u8) -> bool {
        if !self.fits(offset, len) {
            return false;
        }
        // SAFETY: in range (checked).
        unsafe { core::ptr::write_bytes(self.payload.add(offset as usize), byte, len as usize) };
        true
    }

    /// Reads a little-endian u64 (0 when out of range).
    pub fn read_u64(&self, offset: u64) -> u64 {
        let mut b = [0u8; 8];
        if self.read(offset, &mut b) {
            u64::from_le_bytes(b)
        } else {
            0
        }
    }

    /// Writes a little-endian u64 (ignored when out of range).
    pub fn write_u64(&self, offset: u64, value: u64) {
        self.write(offset, &value.to_le_bytes());
    }

    /// Copies `len` bytes at `offset` (for before/after comparisons).
    #[allow(dead_code, reason = "only tests/remote_abort.rs uses it")]
    pub fn snapshot(&self, offset: u64, len: u64, out: &mut Vec<u8>) {
        out.resize(len as usize, 0);
        assert!(self.read(offset, out), "snapshot out of range");
    }

    /// Reads the slot at payload offset `offset`.
    pub fn slot(&self, offset: u64) -> DescriptorSlot {
        DescriptorSlot {
            seq: self.read_u64(offset),
            opcode: self.read_u64(offset + 8),
            payload_offset: self.read_u64(offset + 16),
            payload_nbytes: self.read_u64(offset + 24),
        }
    }

    /// Writes a slot: fields first, `seq` last.
    pub fn write_slot(&self, offset: u64, slot: &DescriptorSlot) {
        self.write_u64(offset + 8, slot.opcode);
        self.write_u64(offset + 16, slot.payload_offset);
        self.write_u64(offset + 24, slot.payload_nbytes);
        self.write_u64(offset, slot.seq);
    }
}
