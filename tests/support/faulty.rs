//! Region callbacks with failure injection over a [`RawRegion`], for the
//! callback (DMA-style) region backend.

use std::sync::atomic::Ordering;

use l3l2q::abi::*;

use super::region::RawRegion;

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
