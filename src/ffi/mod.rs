//! The `extern "C"` surface, and nothing else.
//!
//! Conventions (rustls-ffi style):
//! - every function returns [`Status`] (`L3L2Q_STATUS_OK` = 0) and writes
//!   its out-parameters only on success, unless its docs say otherwise;
//! - every body sits inside `ffi_boundary!`, which turns a panic into
//!   `L3L2Q_STATUS_PANIC` (a test checks no exported function lacks it);
//! - pointers are checked for null and alignment before use; codes coming
//!   from C are read as integers, never transmuted into Rust enums.

pub mod common;
pub mod l2;
pub mod l3;
#[cfg(unix)]
pub mod shm;

use crate::error::{Error, Status};
use crate::layout::Violation;

/// Runs a body returning [`Status`], turning a panic into
/// [`Status::Panic`] so no unwind crosses the C boundary.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| -> $crate::error::Status { $($body)* })) {
            Ok(status) => status,
            Err(_) => $crate::error::Status::Panic,
        }
    };
}
pub(crate) use ffi_boundary;

/// Panic injection for the tests of `ffi_boundary!` (debug builds only;
/// not part of the API, not exported to C).
///
/// Exported functions cannot panic on any input we know of, so to prove
/// the boundary turns a panic deep inside an operation into
/// `L3L2Q_STATUS_PANIC` instead of aborting, a test arms this probe and
/// the n-th next region access made by an L3 queue handle on the same
/// thread panics. The state is a const-initialised thread-local `Cell`
/// without a destructor, so it is dlopen/dlclose-safe, and release builds
/// do not contain it at all.
#[cfg(debug_assertions)]
#[doc(hidden)]
pub mod panic_probe {
    use core::cell::Cell;

    std::thread_local! {
        static COUNTDOWN: Cell<u32> = const { Cell::new(0) };
    }

    /// Makes the `n`-th next region access of an L3 queue handle on this
    /// thread panic; `0` disarms.
    pub fn arm(n: u32) {
        COUNTDOWN.with(|c| c.set(n));
    }

    /// Whether an armed probe has not fired yet (and disarms it).
    pub fn disarm() -> bool {
        COUNTDOWN.with(|c| c.replace(0) != 0)
    }

    /// Counts one region access; panics when the countdown reaches it.
    pub(crate) fn tick() {
        COUNTDOWN.with(|c| match c.get() {
            0 => {}
            1 => {
                c.set(0);
                panic!("l3l2q panic probe fired");
            }
            n => c.set(n - 1),
        });
    }
}

/// Unwraps a `Result<T, Status>` inside an FFI body, returning the status.
macro_rules! check {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}
pub(crate) use check;

/// Borrows `*ptr` after checking it is non-null and aligned.
///
/// # Safety
/// A non-null, aligned `ptr` must point to a valid `T` that is not
/// mutated for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T) -> Result<&'a T, Status> {
    if ptr.is_null() || !ptr.is_aligned() {
        return Err(Status::BadArgument);
    }
    // SAFETY: non-null and aligned (checked); validity is the caller's contract.
    Ok(unsafe { &*ptr })
}

/// Mutably borrows `*ptr` after checking it is non-null and aligned.
///
/// # Safety
/// A non-null, aligned `ptr` must point to a valid `T`, not aliased for `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T) -> Result<&'a mut T, Status> {
    if ptr.is_null() || !ptr.is_aligned() {
        return Err(Status::BadArgument);
    }
    // SAFETY: non-null and aligned (checked); validity and uniqueness are the caller's contract.
    Ok(unsafe { &mut *ptr })
}

/// Borrows `len` bytes at `ptr`; a null pointer is accepted only with
/// `len == 0` (a zero-byte message takes a NULL buffer).
///
/// # Safety
/// A non-null `ptr` must be valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn arg_bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Status> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() || len > isize::MAX as usize {
        return Err(Status::BadArgument);
    }
    // SAFETY: non-null, len within isize::MAX (checked); validity is the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Mutably borrows `len` bytes at `ptr`; null only with `len == 0`.
///
/// # Safety
/// A non-null `ptr` must be valid for writes of `len` bytes for `'a` and
/// not aliased.
pub(crate) unsafe fn arg_bytes_mut<'a>(ptr: *mut u8, len: usize) -> Result<&'a mut [u8], Status> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() || len > isize::MAX as usize {
        return Err(Status::BadArgument);
    }
    // SAFETY: non-null, len within isize::MAX (checked); validity and uniqueness are the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

/// Borrows an array of `len` values at `ptr`; null only with `len == 0`.
///
/// # Safety
/// A non-null, aligned `ptr` must be valid for reads of `len` values of
/// `T` that are not mutated for `'a`.
pub(crate) unsafe fn arg_slice<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], Status> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null()
        || !ptr.is_aligned()
        || len
            .checked_mul(core::mem::size_of::<T>())
            .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(Status::BadArgument);
    }
    // SAFETY: non-null, aligned, size within isize::MAX (checked); validity is the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Mutably borrows an array of `len` values at `ptr`; null only with
/// `len == 0`.
///
/// # Safety
/// A non-null, aligned `ptr` must be valid for reads and writes of `len`
/// values of `T`, not aliased for `'a`.
pub(crate) unsafe fn arg_slice_mut<'a, T>(ptr: *mut T, len: usize) -> Result<&'a mut [T], Status> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null()
        || !ptr.is_aligned()
        || len
            .checked_mul(core::mem::size_of::<T>())
            .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(Status::BadArgument);
    }
    // SAFETY: non-null, aligned, size within isize::MAX (checked); validity and uniqueness are the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

/// A borrowed run of bytes passed from C: `len` bytes at `data`, which may
/// be NULL when `len` is 0. Used by the batch sends.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ByteSlice {
    /// First byte; NULL only when `len` is 0.
    pub data: *const u8,
    /// Number of bytes.
    pub len: usize,
}

/// Checks every entry of a C batch of byte slices (non-null data unless
/// empty, length within `isize::MAX`), so it can then be turned into Rust
/// slices without failing half-way.
///
/// # Safety
/// Every entry's `data` must be valid for reads of its `len` bytes for `'a`.
pub(crate) unsafe fn arg_byte_slices<'a>(
    slices: &'a [ByteSlice],
) -> Result<impl Iterator<Item = &'a [u8]> + 'a, Status> {
    for s in slices {
        // SAFETY: forwarded caller contract; the slice is dropped at once.
        unsafe { arg_bytes(s.data, s.len) }?;
    }
    // Converted without checking again: the loop above refused every entry that could fail.
    Ok(slices.iter().map(|s| {
        if s.len == 0 {
            &[][..]
        } else {
            // SAFETY: non-null with len within isize::MAX (checked above); validity is the caller's contract.
            unsafe { core::slice::from_raw_parts(s.data, s.len) }
        }
    }))
}

/// Checks an optional out-pointer before anything happens: null is
/// accepted (nothing will be written), a misaligned pointer is
/// `L3L2Q_STATUS_BAD_ARGUMENT` like any other misaligned pointer.
pub(crate) fn arg_optional<T>(ptr: *mut T) -> Result<(), Status> {
    if ptr.is_null() || ptr.is_aligned() {
        Ok(())
    } else {
        Err(Status::BadArgument)
    }
}

/// Writes `value` to an optional out-pointer (ignored when null).
///
/// # Safety
/// A non-null `ptr` must be valid for writes of a `T`.
pub(crate) unsafe fn write_optional<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() && ptr.is_aligned() {
        // SAFETY: non-null and aligned (checked); validity is the caller's contract.
        unsafe { ptr.write(value) };
    }
}

/// Turns a Rust result into a status, writing `out` only on success.
pub(crate) fn finish<T>(result: Result<T, Error>, out: &mut T) -> Status {
    match result {
        Ok(v) => {
            *out = v;
            Status::Ok
        }
        Err(e) => e.status(),
    }
}

/// Turns a unit result into a status.
pub(crate) fn status_of(result: Result<(), Error>) -> Status {
    match result {
        Ok(()) => Status::Ok,
        Err(e) => e.status(),
    }
}

/// Moves a value into a new heap handle and stores it in `*out`.
pub(crate) fn emit_handle<T>(value: T, out: &mut *mut T) -> Status {
    *out = Box::into_raw(Box::new(value));
    Status::Ok
}

/// Ends a create call: on success the handle goes to `*out`; either way
/// `*out_violation` (when not null) names the descriptor rule the failure
/// broke, or VALID.
///
/// One match, with the error looked at only on its own arm: the two
/// separate matches this replaces compiled (release, x86-64) to a test of
/// the error's discriminant before the test of whether there was an
/// error. For an `Ok` those bytes are the never-written payload of the
/// endpoint's absent error record, so valgrind's memcheck reported a
/// conditional jump on uninitialised memory although the outcome was then
/// discarded (docs/RELIABILITY.md, "Memcheck and release builds").
///
/// # Safety
/// A non-null `out_violation` must be valid for writes of a [`Violation`].
pub(crate) unsafe fn emit_created<T>(
    created: Result<T, Error>,
    out: &mut *mut T,
    out_violation: *mut Violation,
) -> Status {
    match created {
        Ok(handle) => {
            // SAFETY: caller contract on `out_violation`.
            unsafe { write_optional(out_violation, Violation::Valid) };
            emit_handle(handle, out)
        }
        Err(e) => {
            let violation = match e {
                Error::BadDescriptor(v) => v,
                _ => Violation::Valid,
            };
            // SAFETY: caller contract on `out_violation`.
            unsafe { write_optional(out_violation, violation) };
            e.status()
        }
    }
}

/// Frees the handle `*slot` points at and sets `*slot` to null, so a
/// second free through the same variable is a harmless no-op.
///
/// # Safety
/// `slot` must be null or valid; `*slot` must be null or a handle from
/// [`emit_handle`] of the same type not freed through another copy.
pub(crate) unsafe fn free_handle<T>(slot: *mut *mut T) -> Status {
    // SAFETY: forwarded contract on `slot`.
    let slot = check!(unsafe { arg_mut(slot) });
    if slot.is_null() {
        return Status::Ok;
    }
    if !slot.is_aligned() {
        // Not a handle of ours: refuse without writing anything.
        return Status::BadArgument;
    }
    let handle = core::mem::replace(slot, core::ptr::null_mut());
    // SAFETY: per the contract, `handle` came from Box::into_raw in emit_handle and is freed once.
    drop(unsafe { Box::from_raw(handle) });
    Status::Ok
}
