//! How payload bytes and counters are reached.
//!
//! The protocol core never touches memory directly; it asks a [`Region`].
//! Offsets are relative to the payload or counter base and are checked by
//! every backend, so even a core bug cannot reach outside the region.

mod cache;
pub mod callbacks;
pub mod mapped;
#[cfg(unix)]
pub mod shm;

pub use callbacks::{CallbackRegion, RegionCallbacks};
pub use mapped::MappedRegion;
#[cfg(unix)]
pub use shm::{ShmReadOnly, ShmRegion};

use crate::abi::{DescriptorSlot, L3L2Q_SLOT_BYTES};

/// A payload or counter operation that did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A read failed or was out of range; nothing shared changed.
    Read,
    /// A write or store failed or was out of range.
    Write,
}

/// Access to one region's payload range and counter range.
///
/// Counter loads must have acquire semantics and stores release semantics
/// with respect to payload accesses: the ring protocol relies on "payload and
/// slot written, then tail stored" being observed in that order.
///
/// # Safety
///
/// The endpoints dereference what [`Region::payload_ptr`] returns without
/// further checks (an L2 endpoint resolves each arena once and hands out
/// payload slices inside it), so an implementation that returns `Some(p)`
/// for `payload_ptr(offset, len)` guarantees that:
///
/// - `p..p + len` is valid for reads and writes for as long as the region
///   value lives, and stays at that address (it is not moved or unmapped);
/// - `p + k` is payload byte `offset + k` for every `k < len`, the same
///   byte [`Region::read_payload`] and [`Region::write_payload`] reach;
/// - no Rust reference to those bytes exists outside the endpoint that
///   owns this region (another agent, or raw-pointer access, may write
///   them concurrently: that is what the protocol is for).
///
/// Returning `None` (the default) is always sound; the endpoints then copy
/// through the other methods. Everything else a region returns (counter
/// values, slots, payload bytes) is validated before use, however wrong.
///
/// A safe `impl` does not compile:
///
/// ```compile_fail,E0200
/// use l3l2q::region::{Fault, Region};
/// struct Bogus;
/// impl Region for Bogus {
///     fn read_payload(&self, _: u64, _: &mut [u8]) -> Result<(), Fault> { Err(Fault::Read) }
///     fn write_payload(&self, _: u64, _: &[u8]) -> Result<(), Fault> { Err(Fault::Write) }
///     fn load_counter(&self, _: u64) -> Result<u32, Fault> { Err(Fault::Read) }
///     fn store_counter(&self, _: u64, _: u32) -> Result<(), Fault> { Err(Fault::Write) }
///     fn payload_ptr(&self, _: u64, _: u64) -> Option<core::ptr::NonNull<u8>> {
///         Some(core::ptr::NonNull::dangling())
///     }
/// }
/// ```
pub unsafe trait Region {
    /// Copies `dst.len()` bytes from payload offset `offset`.
    ///
    /// # Errors
    /// [`Fault::Read`] when the range is outside the payload or the copy failed.
    fn read_payload(&self, offset: u64, dst: &mut [u8]) -> Result<(), Fault>;

    /// Copies `src` to payload offset `offset`.
    ///
    /// # Errors
    /// [`Fault::Write`] when the range is outside the payload or the copy failed.
    fn write_payload(&self, offset: u64, src: &[u8]) -> Result<(), Fault>;

    /// Reads the 32-byte descriptor slot at payload offset `offset` once
    /// (SPEC section 4; the caller validates the copy).
    ///
    /// # Errors
    /// [`Fault::Read`] as for [`Region::read_payload`].
    #[inline]
    fn read_slot(&self, offset: u64) -> Result<DescriptorSlot, Fault> {
        read_slot_bytes(self, offset)
    }

    /// Writes the descriptor slot at payload offset `offset`: opcode,
    /// offset and size first, `seq` last (SPEC section 6, step 4).
    ///
    /// # Errors
    /// [`Fault::Write`] as for [`Region::write_payload`]; the slot may then
    /// be half-written.
    #[inline]
    fn write_slot(&self, offset: u64, slot: &DescriptorSlot) -> Result<(), Fault> {
        write_slot_bytes(self, offset, slot)
    }

    /// Moves `len` payload bytes from offset `from` to offset `to`, as
    /// `memmove`: the ranges may overlap. A producer uses it to place a
    /// shrunk reservation where a strict consumer expects it (SPEC section
    /// 7). The default copies through [`Region::read_payload`] and
    /// [`Region::write_payload`] in bounded chunks on the stack, in the
    /// order that never overwrites a byte before it is read.
    ///
    /// # Errors
    /// [`Fault::Read`] or [`Fault::Write`] as the copies fail; the
    /// destination may then be partly written.
    fn move_payload(&self, from: u64, to: u64, len: u64) -> Result<(), Fault> {
        move_payload_chunked(self, from, to, len)
    }

    /// Loads the low-32 counter at `offset` with acquire ordering.
    ///
    /// # Errors
    /// [`Fault::Read`] when the offset is invalid or the load failed.
    fn load_counter(&self, offset: u64) -> Result<u32, Fault>;

    /// Stores the low-32 counter at `offset` with release ordering.
    ///
    /// # Errors
    /// [`Fault::Write`] when the offset is invalid or the store failed.
    fn store_counter(&self, offset: u64, value: u32) -> Result<(), Fault>;

    /// A pointer to `len` payload bytes at `offset` when the region is
    /// directly mapped, for zero-copy access; `None` otherwise. The
    /// endpoints trust it: see the trait's safety contract.
    fn payload_ptr(&self, offset: u64, len: u64) -> Option<core::ptr::NonNull<u8>> {
        let _ = (offset, len);
        None
    }

    /// Makes bytes written through [`Region::payload_ptr`] visible to the
    /// peer before they are published (cache clean on non-coherent memory).
    fn flush_written(&self, offset: u64, len: u64) {
        let _ = (offset, len);
    }

    /// Discards stale cached copies of bytes about to be read through
    /// [`Region::payload_ptr`] (cache invalidate on non-coherent memory).
    fn refresh_for_read(&self, offset: u64, len: u64) {
        let _ = (offset, len);
    }

    /// A hint that the cache line holding payload byte `offset` will be
    /// read soon (a prefetch on a mapped region; nothing otherwise). Never
    /// faults and has no effect a peer can observe but timing; an offset
    /// outside the payload is ignored.
    fn prefetch_read(&self, offset: u64) {
        let _ = offset;
    }
}

/// [`Region::read_slot`] through [`Region::read_payload`]: the default,
/// and what a backend with a faster form falls back to where that form
/// does not apply (a mapped region with an unaligned base).
pub(crate) fn read_slot_bytes<R: Region + ?Sized>(
    region: &R,
    offset: u64,
) -> Result<DescriptorSlot, Fault> {
    let mut bytes = [0u8; L3L2Q_SLOT_BYTES as usize];
    region.read_payload(offset, &mut bytes)?;
    Ok(DescriptorSlot::from_bytes(&bytes))
}

/// [`Region::write_slot`] through [`Region::write_payload`], fields first
/// and `seq` last; the default and the fallback, as [`read_slot_bytes`].
pub(crate) fn write_slot_bytes<R: Region + ?Sized>(
    region: &R,
    offset: u64,
    slot: &DescriptorSlot,
) -> Result<(), Fault> {
    let bytes = slot.to_bytes();
    region.write_payload(offset + 8, &bytes[8..])?;
    region.write_payload(offset, &bytes[..8])
}

/// [`Region::move_payload`] through the copy operations, for backends that
/// reach the payload only by copying (callbacks). Each chunk is read whole
/// before it is written; moving towards higher offsets goes from the end
/// down, so a chunk's destination never covers source bytes not yet read.
pub(crate) fn move_payload_chunked<R: Region + ?Sized>(
    region: &R,
    from: u64,
    to: u64,
    len: u64,
) -> Result<(), Fault> {
    const CHUNK: u64 = 256;
    let mut buf = [0u8; CHUNK as usize];
    let mut done = 0u64;
    while done < len {
        let n = CHUNK.min(len - done);
        // Upwards: the last chunk first; downwards (or no overlap): the first chunk first.
        let at = if to > from { len - done - n } else { done };
        let chunk = &mut buf[..n as usize];
        region.read_payload(from.checked_add(at).ok_or(Fault::Read)?, chunk)?;
        region.write_payload(to.checked_add(at).ok_or(Fault::Write)?, chunk)?;
        done += n;
    }
    Ok(())
}

/// Checks `offset..offset + len` lies inside `0..size` without overflow.
pub(crate) fn range_fits(offset: u64, len: u64, size: u64) -> bool {
    matches!(offset.checked_add(len), Some(end) if end <= size)
}
