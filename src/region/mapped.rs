//! A region whose payload and counters are addressable in this process:
//! the device view on L2, and shared memory or same-process memory on L3.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use super::{Fault, Region, cache, range_fits, read_slot_bytes, write_slot_bytes};
use crate::abi::{DescriptorSlot, L3L2Q_SLOT_BYTES, RegionDescriptor};
use crate::layout::Violation;

/// Payload and counter ranges reached through pointers.
#[derive(Debug)]
pub struct MappedRegion {
    payload: NonNull<u8>,
    payload_bytes: u64,
    counters: NonNull<u8>,
    counter_bytes: u64,
}

// SAFETY: the region is shared memory by design; every access goes through
// bounds-checked copies or atomics, so moving the handle to another thread
// adds no aliasing the protocol does not already account for.
unsafe impl Send for MappedRegion {}

impl MappedRegion {
    /// Wraps the ranges a descriptor names, after validating it.
    ///
    /// # Safety
    /// `payload_base..+payload_bytes` and `counter_base..+counter_bytes`
    /// must be readable and writable memory of this process for as long as
    /// the region (and anything built on it) lives. Other agents may write
    /// it concurrently; that is what the protocol is for.
    ///
    /// # Errors
    /// The violated descriptor rule.
    pub unsafe fn from_descriptor(
        descriptor: &RegionDescriptor,
    ) -> Result<MappedRegion, Violation> {
        descriptor.validate()?;
        let payload = usize::try_from(descriptor.payload_base)
            .map_err(|_| Violation::PayloadRangeOverflow)?;
        let counters = usize::try_from(descriptor.counter_base)
            .map_err(|_| Violation::CounterRangeOverflow)?;
        usize::try_from(descriptor.payload_bytes).map_err(|_| Violation::PayloadRangeOverflow)?;
        usize::try_from(descriptor.counter_bytes).map_err(|_| Violation::CounterRangeOverflow)?;
        Ok(MappedRegion {
            payload: NonNull::new(payload as *mut u8).ok_or(Violation::PayloadBaseZero)?,
            payload_bytes: descriptor.payload_bytes,
            counters: NonNull::new(counters as *mut u8).ok_or(Violation::CounterBaseZero)?,
            counter_bytes: descriptor.counter_bytes,
        })
    }

    /// Size of the payload range.
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// Size of the counter range.
    pub fn counter_bytes(&self) -> u64 {
        self.counter_bytes
    }

    #[inline(always)]
    fn payload_at(&self, offset: u64, len: u64) -> Option<*mut u8> {
        if !range_fits(offset, len, self.payload_bytes) {
            return None;
        }
        // SAFETY: offset + len <= payload_bytes, which fits in usize (checked at construction), so the
        // result stays inside the mapped payload range.
        Some(unsafe { self.payload.as_ptr().add(offset as usize) })
    }

    fn counter_at(&self, offset: u64) -> Option<&AtomicU32> {
        if offset % 4 != 0 || !range_fits(offset, 4, self.counter_bytes) {
            return None;
        }
        // SAFETY: counter_base is 64-byte aligned (validated) and offset is a multiple of 4 inside the
        // counter range, so the pointer is aligned and valid for the region's lifetime; every access to
        // it, ours and the peer's, is atomic.
        Some(unsafe {
            AtomicU32::from_ptr(self.counters.as_ptr().add(offset as usize).cast::<u32>())
        })
    }
}

// SAFETY: `payload_ptr` returns `payload_base + offset` only for ranges inside the payload range, which the
// constructor's contract keeps mapped, readable and writable for the region's lifetime; the copies use the same
// address arithmetic, and the region hands out no references.
unsafe impl Region for MappedRegion {
    fn read_payload(&self, offset: u64, dst: &mut [u8]) -> Result<(), Fault> {
        let src = self
            .payload_at(offset, dst.len() as u64)
            .ok_or(Fault::Read)?;
        cache::invalidate(src, dst.len());
        // SAFETY: src..src+len is inside the payload range (checked above) and cannot overlap `dst`, a
        // Rust-owned buffer. The bytes are protocol-owned by this side while it reads them; a hostile peer
        // rewriting them can only change the copied values, which are validated before use.
        unsafe { core::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    fn write_payload(&self, offset: u64, src: &[u8]) -> Result<(), Fault> {
        let dst = self
            .payload_at(offset, src.len() as u64)
            .ok_or(Fault::Write)?;
        // SAFETY: dst..dst+len is inside the payload range (checked above), which no Rust reference
        // aliases; `src` is a Rust-owned buffer that cannot overlap it.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        cache::clean(dst, src.len());
        Ok(())
    }

    /// Four field loads straight into the copy (no staging buffer): the
    /// consumer's hot path is bound by how many stores it makes, not loads.
    #[inline(always)]
    fn read_slot(&self, offset: u64) -> Result<DescriptorSlot, Fault> {
        let src = self
            .payload_at(offset, L3L2Q_SLOT_BYTES)
            .ok_or(Fault::Read)?;
        if src.align_offset(8) != 0 {
            // SPEC sets no alignment for the payload base: copy the bytes as they lie.
            return read_slot_bytes(self, offset);
        }
        cache::invalidate(src, L3L2Q_SLOT_BYTES as usize);
        let words = src.cast::<u64>().cast_const();
        // SAFETY: the four aligned words lie inside the payload range (checked above). Volatile reads each field
        // exactly once into this copy, which the caller validates: the compiler may not go back to shared memory
        // for a field later, when a hostile peer may have rewritten it.
        let field = |i: usize| u64::from_le(unsafe { words.add(i).read_volatile() });
        Ok(DescriptorSlot {
            seq: field(0),
            opcode: field(1),
            payload_offset: field(2),
            payload_nbytes: field(3),
        })
    }

    /// Four field stores, `seq` last, straight from the values (no staging
    /// buffer): every store counts on the producer's hot path.
    #[inline(always)]
    fn write_slot(&self, offset: u64, slot: &DescriptorSlot) -> Result<(), Fault> {
        let dst = self
            .payload_at(offset, L3L2Q_SLOT_BYTES)
            .ok_or(Fault::Write)?;
        if dst.align_offset(8) != 0 {
            return write_slot_bytes(self, offset, slot);
        }
        let words = dst.cast::<u64>();
        // SAFETY: the four aligned words lie inside the payload range (checked above), which no Rust
        // reference aliases. Volatile keeps the stores in program order, so seq is written last.
        unsafe {
            words.add(1).write_volatile(slot.opcode.to_le());
            words.add(2).write_volatile(slot.payload_offset.to_le());
            words.add(3).write_volatile(slot.payload_nbytes.to_le());
            words.write_volatile(slot.seq.to_le());
        }
        cache::clean(dst, L3L2Q_SLOT_BYTES as usize);
        Ok(())
    }

    fn load_counter(&self, offset: u64) -> Result<u32, Fault> {
        let counter = self.counter_at(offset).ok_or(Fault::Read)?;
        cache::invalidate(counter.as_ptr().cast::<u8>(), 4);
        // Acquire pairs with the peer's release store of the same counter: every payload and slot
        // write it made before publishing is visible once we see the new value.
        Ok(u32::from_le(counter.load(Ordering::Acquire)))
    }

    fn store_counter(&self, offset: u64, value: u32) -> Result<(), Fault> {
        let counter = self.counter_at(offset).ok_or(Fault::Write)?;
        // Release orders every earlier payload/slot write (or read, for a head) before the store, so
        // a peer that acquires the value sees them complete.
        counter.store(value.to_le(), Ordering::Release);
        cache::clean(counter.as_ptr().cast::<u8>(), 4);
        Ok(())
    }

    fn move_payload(&self, from: u64, to: u64, len: u64) -> Result<(), Fault> {
        let src = self.payload_at(from, len).ok_or(Fault::Read)?;
        let dst = self.payload_at(to, len).ok_or(Fault::Write)?;
        // SAFETY: both ranges lie inside the payload range (checked above), which no Rust reference aliases;
        // `copy` is memmove, correct for overlapping ranges. The caller owns both ranges by protocol.
        unsafe { core::ptr::copy(src, dst, len as usize) };
        cache::clean(dst, len as usize);
        Ok(())
    }

    fn payload_ptr(&self, offset: u64, len: u64) -> Option<NonNull<u8>> {
        self.payload_at(offset, len).and_then(NonNull::new)
    }

    fn flush_written(&self, offset: u64, len: u64) {
        if let Some(ptr) = self.payload_at(offset, len) {
            cache::clean(ptr, len as usize);
        }
    }

    fn refresh_for_read(&self, offset: u64, len: u64) {
        if let Some(ptr) = self.payload_at(offset, len) {
            cache::invalidate(ptr, len as usize);
        }
    }

    #[inline]
    fn prefetch_read(&self, offset: u64) {
        if offset < self.payload_bytes {
            prefetch::read(self.payload.as_ptr().wrapping_add(offset as usize));
        }
    }
}

/// Cache prefetch hints. A prefetch instruction never faults, not even on
/// an unmapped address, and changes no state any agent can observe except
/// timing; callers still only pass addresses inside the mapped payload.
mod prefetch {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    #[inline(always)]
    pub fn read(ptr: *const u8) {
        // SAFETY: PREFETCHT0 is a pure hint (see the module docs).
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(ptr.cast())
        }
    }

    #[cfg(all(target_arch = "aarch64", not(miri)))]
    #[inline(always)]
    pub fn read(ptr: *const u8) {
        // SAFETY: PRFM is a pure hint (see the module docs).
        unsafe {
            core::arch::asm!("prfm pldl1keep, [{}]", in(reg) ptr, options(nostack, preserves_flags, readonly))
        }
    }

    // Miri cannot run inline assembly; a hint may be dropped anywhere.
    #[cfg(any(miri, not(any(target_arch = "x86_64", target_arch = "aarch64"))))]
    #[inline(always)]
    pub fn read(_ptr: *const u8) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counter range: SPEC wants its base 64-byte aligned.
    #[repr(C, align(64))]
    struct Counters([u64; 48]);

    /// A region over `buf` with its payload starting `skew` bytes in.
    fn region(buf: &mut [u64; 16], skew: usize, counters: &mut Counters) -> MappedRegion {
        let base = buf.as_mut_ptr().cast::<u8>() as u64 + skew as u64;
        let descriptor = RegionDescriptor::new(7, base, 96, counters.0.as_mut_ptr() as u64, 384);
        // SAFETY: both ranges lie inside the two local buffers, which outlive the region in every test.
        unsafe { MappedRegion::from_descriptor(&descriptor) }.unwrap()
    }

    #[test]
    fn slots_round_trip_in_wire_order_at_aligned_and_unaligned_bases() {
        for skew in [0, 3, 8] {
            let mut buf = [0u64; 16];
            let mut counters = Counters([0; 48]);
            let r = region(&mut buf, skew, &mut counters);
            let slot = DescriptorSlot {
                seq: 0x1122_3344_5566_7788,
                opcode: 3,
                payload_offset: 64,
                payload_nbytes: 17,
            };
            r.write_slot(32, &slot).unwrap();
            assert_eq!(r.read_slot(32), Ok(slot), "skew {skew}");
            let mut bytes = [0u8; 32];
            r.read_payload(32, &mut bytes).unwrap();
            assert_eq!(
                bytes,
                slot.to_bytes(),
                "little-endian fields in SPEC order, skew {skew}"
            );
        }
    }

    #[test]
    fn slots_outside_the_payload_fault_without_touching_it() {
        let mut buf = [0u64; 16];
        let mut counters = Counters([0; 48]);
        let r = region(&mut buf, 3, &mut counters);
        let slot = DescriptorSlot {
            seq: 1,
            opcode: 1,
            payload_offset: 0,
            payload_nbytes: 0,
        };
        assert_eq!(r.write_slot(65, &slot), Err(Fault::Write));
        assert_eq!(r.write_slot(u64::MAX - 8, &slot), Err(Fault::Write));
        assert_eq!(r.read_slot(65), Err(Fault::Read));
        assert_eq!(r.read_slot(u64::MAX), Err(Fault::Read));
        assert_eq!(buf, [0u64; 16]);
    }
}
