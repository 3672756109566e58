//! A region reached only through copy callbacks: a host that sees device
//! memory by DMA or a driver call, never by pointer.

use core::ffi::c_void;

use super::{Fault, Region, range_fits};

/// Copy callbacks supplied by the host. Offsets are relative to the payload
/// base or the counter base. Each returns 0 on success and anything else on
/// failure. `counter_load` must act as an acquire and `counter_store` as a
/// release with respect to the payload copies (a DMA engine that completes
/// copies in order satisfies this).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RegionCallbacks {
    /// Passed back unchanged as the first argument of every callback.
    pub ctx: *mut c_void,
    /// Copies `len` bytes from `src` to payload offset `offset`.
    pub payload_write: Option<
        unsafe extern "C" fn(ctx: *mut c_void, offset: u64, src: *const u8, len: usize) -> i32,
    >,
    /// Copies `len` bytes from payload offset `offset` to `dst`.
    pub payload_read: Option<
        unsafe extern "C" fn(ctx: *mut c_void, offset: u64, dst: *mut u8, len: usize) -> i32,
    >,
    /// Stores a 32-bit little-endian counter value at counter offset `offset`.
    pub counter_store:
        Option<unsafe extern "C" fn(ctx: *mut c_void, offset: u64, value: u32) -> i32>,
    /// Loads the 32-bit counter at counter offset `offset` into `*value`.
    pub counter_load:
        Option<unsafe extern "C" fn(ctx: *mut c_void, offset: u64, value: *mut u32) -> i32>,
}

/// A [`Region`] over [`RegionCallbacks`], bounds-checked against the sizes
/// the host declared.
#[derive(Debug)]
pub struct CallbackRegion {
    callbacks: RegionCallbacks,
    payload_bytes: u64,
    counter_bytes: u64,
}

// SAFETY: the callbacks and their context are the host's; the C API documents that they may be called
// from whichever thread drives the queue.
unsafe impl Send for CallbackRegion {}

impl CallbackRegion {
    /// Wraps callbacks for a region of the given sizes; `None` when any
    /// callback is missing.
    ///
    /// # Safety
    /// Each callback must be safe to call with `ctx` and any in-range
    /// offset and a valid buffer, for as long as the region lives.
    pub unsafe fn new(
        callbacks: RegionCallbacks,
        payload_bytes: u64,
        counter_bytes: u64,
    ) -> Option<CallbackRegion> {
        let complete = callbacks.payload_write.is_some()
            && callbacks.payload_read.is_some()
            && callbacks.counter_store.is_some()
            && callbacks.counter_load.is_some();
        complete.then_some(CallbackRegion {
            callbacks,
            payload_bytes,
            counter_bytes,
        })
    }
}

// SAFETY: `payload_ptr` keeps its default (`None`): nothing is reached in place.
unsafe impl Region for CallbackRegion {
    fn read_payload(&self, offset: u64, dst: &mut [u8]) -> Result<(), Fault> {
        let read = self.callbacks.payload_read.ok_or(Fault::Read)?;
        if !range_fits(offset, dst.len() as u64, self.payload_bytes) {
            return Err(Fault::Read);
        }
        // SAFETY: the constructor's contract makes the callback safe for in-range offsets and a valid
        // buffer; dst is a live, writable Rust slice of exactly len bytes.
        let rc = unsafe { read(self.callbacks.ctx, offset, dst.as_mut_ptr(), dst.len()) };
        if rc == 0 { Ok(()) } else { Err(Fault::Read) }
    }

    fn write_payload(&self, offset: u64, src: &[u8]) -> Result<(), Fault> {
        let write = self.callbacks.payload_write.ok_or(Fault::Write)?;
        if !range_fits(offset, src.len() as u64, self.payload_bytes) {
            return Err(Fault::Write);
        }
        // SAFETY: as above; src is a live Rust slice of exactly len bytes.
        let rc = unsafe { write(self.callbacks.ctx, offset, src.as_ptr(), src.len()) };
        if rc == 0 { Ok(()) } else { Err(Fault::Write) }
    }

    fn load_counter(&self, offset: u64) -> Result<u32, Fault> {
        let load = self.callbacks.counter_load.ok_or(Fault::Read)?;
        if offset % 4 != 0 || !range_fits(offset, 4, self.counter_bytes) {
            return Err(Fault::Read);
        }
        let mut value = 0u32;
        // SAFETY: as above; &mut value is a valid u32 out-pointer for the call's duration.
        let rc = unsafe { load(self.callbacks.ctx, offset, &mut value) };
        // The callback's load is the acquire point; this fence keeps our later payload reads after it
        // even if the callback itself used only relaxed or plain accesses on coherent memory.
        core::sync::atomic::fence(core::sync::atomic::Ordering::Acquire);
        if rc == 0 { Ok(value) } else { Err(Fault::Read) }
    }

    fn store_counter(&self, offset: u64, value: u32) -> Result<(), Fault> {
        let store = self.callbacks.counter_store.ok_or(Fault::Write)?;
        if offset % 4 != 0 || !range_fits(offset, 4, self.counter_bytes) {
            return Err(Fault::Write);
        }
        // Orders our earlier payload writes before the callback's store (see load_counter).
        core::sync::atomic::fence(core::sync::atomic::Ordering::Release);
        // SAFETY: as above.
        let rc = unsafe { store(self.callbacks.ctx, offset, value) };
        if rc == 0 { Ok(()) } else { Err(Fault::Write) }
    }
}
