//! C API of the shared-memory region (`crate::region::shm`): create a
//! named object, open it from another process, get this process's
//! descriptor, rebase task scalars, free. A handle is used by one thread
//! at a time; it may move between threads.
//!
//! Typical use. L3 process: `l3l2q_shm_create`, `l3l2q_shm_descriptor`,
//! `l3l2q_l3_queue_create_mapped` with that descriptor, start the L2 side
//! with the object's name. L2 process: `l3l2q_shm_open` by name, then
//! either `l3l2q_shm_descriptor` (descriptor and args from its own mapping)
//! or `l3l2q_shm_rebase_task_scalars` on the twelve scalars L3 handed over
//! (they carry L3's addresses), then `l3l2q_l2_endpoint_create`. Free the
//! queue or endpoint before the shm handle: the handle owns the mapping.

use core::ffi::{CStr, c_char};

use super::common::scalars_mut;
use super::{
    arg_mut, arg_optional, arg_ref, check, emit_handle, ffi_boundary, free_handle, write_optional,
};
use crate::abi::{QueueArgs, RegionDescriptor, TaskScalars};
use crate::error::Status;
use crate::layout::Violation;
use crate::region::shm::{CreateMode, ShmConfig, ShmError, ShmRegion};

/// Opaque handle owning one mapping of a shared-memory object.
pub struct ShmHandle {
    region: ShmRegion,
}

/// Options for creating a shared-memory queue region.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ShmCreateConfig {
    /// Ring capacity per direction: a power of two in `1..=2^30`.
    pub depth: u64,
    /// Input arena bytes: a positive multiple of 64.
    pub input_arena_bytes: u64,
    /// Output arena bytes: a positive multiple of 64.
    pub output_arena_bytes: u64,
    /// Region id carried into every error; 0 picks the process id.
    pub region_id: u64,
    /// When the name exists and the creator recorded in its header no
    /// longer runs, unlink it and create afresh. When false (or the
    /// creator runs), an existing name fails with `L3L2Q_STATUS_EXISTS`.
    pub reclaim_stale: bool,
}

/// Reads a NUL-terminated UTF-8 name.
///
/// # Safety
/// A non-null `name` must point to a NUL-terminated string.
unsafe fn arg_name<'a>(name: *const c_char) -> Result<&'a str, Status> {
    if name.is_null() {
        return Err(Status::BadArgument);
    }
    // SAFETY: non-null (checked) and NUL-terminated by contract.
    unsafe { CStr::from_ptr(name) }
        .to_str()
        .map_err(|_| Status::BadArgument)
}

/// Reports a failure: `*out_errno` (optional) gets the OS error number, or
/// 0 when the failure is not a system call's.
fn failed(error: &ShmError, out_errno: *mut i32) -> Status {
    // SAFETY: the public callers pass their caller's optional out_errno, null or writable by contract.
    unsafe { write_optional(out_errno, error.errno()) };
    error.status()
}

/// Creates the shared-memory object `name` (`"/"` then 1 to 254 bytes
/// without `/`), sized for the queue `config` describes, maps it and
/// writes its header; counters and payload start zeroed. The object is
/// unlinked when the handle is freed. The mapping's addresses are this
/// process's only (see `l3l2q_shm_descriptor`).
///
/// `*out_violation` (optional) names the layout rule a bad `config`
/// breaks, else `L3L2Q_VIOLATION_VALID`; `*out_errno` (optional) receives
/// the OS error on `L3L2Q_STATUS_SYSTEM_ERROR`, else 0.
///
/// # Safety
/// `name` NUL-terminated; `config` readable; `out` writable;
/// `out_violation` and `out_errno` null or writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers, an invalid name or an
/// object too large; `L3L2Q_STATUS_BAD_DESCRIPTOR` for an invalid depth or
/// arena; `L3L2Q_STATUS_EXISTS` when the name is in use (a stale object
/// from a crashed run is reclaimed only with `reclaim_stale`);
/// `L3L2Q_STATUS_SYSTEM_ERROR` when a system call failed. Nothing is
/// created on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_shm_create(
    name: *const c_char,
    config: *const ShmCreateConfig,
    out: *mut *mut ShmHandle,
    out_violation: *mut Violation,
    out_errno: *mut i32,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (name, config, out) = check!(unsafe { Ok((check!(arg_name(name)), check!(arg_ref(config)), check!(arg_mut(out)))) });
        check!(arg_optional(out_violation));
        check!(arg_optional(out_errno));
        let rust_config = ShmConfig {
            depth: config.depth,
            input_arena_bytes: config.input_arena_bytes,
            output_arena_bytes: config.output_arena_bytes,
            region_id: config.region_id,
            mode: if config.reclaim_stale { CreateMode::ReclaimStale } else { CreateMode::Exclusive },
        };
        let created = ShmRegion::create(name, &rust_config);
        let violation = match &created { Err(ShmError::Config(v)) => *v, _ => Violation::Valid };
        // SAFETY: caller contract on `out_violation`.
        unsafe { write_optional(out_violation, violation) };
        match created {
            Ok(region) => {
                // SAFETY: caller contract on `out_errno`.
                unsafe { write_optional(out_errno, 0) };
                emit_handle(ShmHandle { region }, out)
            }
            Err(e) => failed(&e, out_errno),
        }
    }
}

/// Opens the shared-memory object `name` another process created, maps
/// it read-write in this process and validates its header.
///
/// # Safety
/// `name` NUL-terminated; `out` writable; `out_errno` null or writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers or an invalid name;
/// `L3L2Q_STATUS_NOT_FOUND` when no such object exists;
/// `L3L2Q_STATUS_NO_PROGRESS` when its creator has not finished writing
/// the header (retry); `L3L2Q_STATUS_BAD_DESCRIPTOR` when it is not a
/// valid l3l2q region; `L3L2Q_STATUS_SYSTEM_ERROR` with `*out_errno`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_shm_open(
    name: *const c_char,
    out: *mut *mut ShmHandle,
    out_errno: *mut i32,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (name, out) = check!(unsafe { Ok((check!(arg_name(name)), check!(arg_mut(out)))) });
        check!(arg_optional(out_errno));
        match ShmRegion::open(name) {
            Ok(region) => {
                // SAFETY: caller contract on `out_errno`.
                unsafe { write_optional(out_errno, 0) };
                emit_handle(ShmHandle { region }, out)
            }
            Err(e) => failed(&e, out_errno),
        }
    }
}

/// Writes the region descriptor of this process's mapping to
/// `*out_descriptor` and, when `out_args` is not NULL, the queue arguments
/// recorded in the object to `*out_args`. The descriptor's addresses are
/// valid in this process only, until the handle is freed.
///
/// # Safety
/// `shm` a live handle; `out_descriptor` writable; `out_args` null or
/// writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for a null handle or `out_descriptor`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_shm_descriptor(
    shm: *const ShmHandle,
    out_descriptor: *mut RegionDescriptor,
    out_args: *mut QueueArgs,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (shm, out) = check!(unsafe { Ok((check!(arg_ref(shm)), check!(arg_mut(out_descriptor)))) });
        check!(arg_optional(out_args));
        *out = *shm.region.descriptor();
        // SAFETY: caller contract on `out_args`.
        unsafe { write_optional(out_args, shm.region.queue_args()) };
        Status::Ok
    }
}

/// Rewrites, in place, twelve task scalars produced by another process for
/// this object (they carry that process's addresses) into scalars for this
/// process: checks every other scalar matches the object, then replaces
/// scalar 2 (`payload_base`) and 4 (`counter_base`) with this mapping's
/// addresses. On failure the scalars are untouched.
///
/// # Safety
/// `shm` a live handle; `scalars` readable and writable for `count` u64.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers or `count != 12`;
/// `L3L2Q_STATUS_BAD_DESCRIPTOR` when the scalars describe another region
/// or queue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_shm_rebase_task_scalars(
    shm: *const ShmHandle,
    scalars: *mut u64,
    count: usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (shm, scalars) = check!(unsafe { Ok((check!(arg_ref(shm)), check!(scalars_mut(scalars, count)))) });
        let mut theirs = TaskScalars::default();
        theirs.scalars.copy_from_slice(scalars);
        match shm.region.rebase_task_scalars(&theirs) {
            Ok(ours) => {
                scalars.copy_from_slice(&ours.scalars);
                Status::Ok
            }
            Err(e) => e.status(),
        }
    }
}

/// Removes the name `name` unconditionally, for a stale object whose
/// creator cannot be identified. Processes that have it mapped keep
/// working.
///
/// # Safety
/// `name` NUL-terminated; `out_errno` null or writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for a null or invalid name;
/// `L3L2Q_STATUS_NOT_FOUND`; `L3L2Q_STATUS_SYSTEM_ERROR` with `*out_errno`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_shm_unlink(name: *const c_char, out_errno: *mut i32) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on `name`.
        let name = check!(unsafe { arg_name(name) });
        check!(arg_optional(out_errno));
        match ShmRegion::unlink(name) {
            Ok(()) => {
                // SAFETY: caller contract on `out_errno`.
                unsafe { write_optional(out_errno, 0) };
                Status::Ok
            }
            Err(e) => failed(&e, out_errno),
        }
    }
}

/// Unmaps the object and frees `*shm`, setting `*shm` to NULL; a NULL
/// `*shm` is a no-op. The creator's handle also unlinks the name (only if
/// it still refers to the object it created). Free every queue or
/// endpoint using the mapping first.
///
/// # Safety
/// `*shm` must be NULL or a live handle not freed through a copy, and no
/// queue or endpoint may still use its mapping.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` when `shm` itself is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_shm_free(shm: *mut *mut ShmHandle) -> Status {
    // SAFETY: caller contract.
    ffi_boundary! { unsafe { free_handle(shm) } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::shm::unique_name;
    use std::ffi::CString;

    #[test]
    fn create_open_descriptor_rebase_free() {
        let name = CString::new(unique_name("ffi")).unwrap();
        let config = ShmCreateConfig {
            depth: 4,
            input_arena_bytes: 256,
            output_arena_bytes: 128,
            region_id: 5,
            reclaim_stale: false,
        };
        let mut created: *mut ShmHandle = core::ptr::null_mut();
        let mut violation = Violation::RegionMagic;
        let mut errno = -1;
        // SAFETY: valid pointers throughout this test.
        unsafe {
            assert_eq!(
                l3l2q_shm_create(
                    name.as_ptr(),
                    &config,
                    &mut created,
                    &mut violation,
                    &mut errno
                ),
                Status::Ok
            );
            assert_eq!((violation, errno), (Violation::Valid, 0));
            let mut again: *mut ShmHandle = core::ptr::null_mut();
            assert_eq!(
                l3l2q_shm_create(
                    name.as_ptr(),
                    &config,
                    &mut again,
                    core::ptr::null_mut(),
                    core::ptr::null_mut()
                ),
                Status::Exists
            );
            assert!(again.is_null());
            let bad = ShmCreateConfig { depth: 3, ..config };
            let other = CString::new(unique_name("ffi-bad")).unwrap();
            assert_eq!(
                l3l2q_shm_create(
                    other.as_ptr(),
                    &bad,
                    &mut again,
                    &mut violation,
                    core::ptr::null_mut()
                ),
                Status::BadDescriptor
            );
            assert_eq!(violation, Violation::Depth);
            assert_eq!(
                l3l2q_shm_create(
                    c"noslash".as_ptr(),
                    &config,
                    &mut again,
                    core::ptr::null_mut(),
                    core::ptr::null_mut()
                ),
                Status::BadArgument
            );
            assert_eq!(
                l3l2q_shm_create(
                    core::ptr::null(),
                    &config,
                    &mut again,
                    core::ptr::null_mut(),
                    core::ptr::null_mut()
                ),
                Status::BadArgument
            );

            let mut opened: *mut ShmHandle = core::ptr::null_mut();
            assert_eq!(
                l3l2q_shm_open(name.as_ptr(), &mut opened, core::ptr::null_mut()),
                Status::Ok
            );
            assert_eq!(
                l3l2q_shm_open(other.as_ptr(), &mut again, core::ptr::null_mut()),
                Status::NotFound
            );

            let mut mine = RegionDescriptor::default();
            let mut args = QueueArgs::default();
            assert_eq!(
                l3l2q_shm_descriptor(opened, &mut mine, &mut args),
                Status::Ok
            );
            assert_eq!(args.depth, 4);
            assert_eq!(mine.region_id, 5);
            let mut theirs = RegionDescriptor::default();
            assert_eq!(
                l3l2q_shm_descriptor(created, &mut theirs, core::ptr::null_mut()),
                Status::Ok
            );
            assert_ne!(mine.payload_base, theirs.payload_base);

            let mut scalars = TaskScalars::encode(&theirs, &args).scalars;
            assert_eq!(
                l3l2q_shm_rebase_task_scalars(opened, scalars.as_mut_ptr(), 12),
                Status::Ok
            );
            assert_eq!(scalars, TaskScalars::encode(&mine, &args).scalars);
            scalars[1] = 6;
            let before = scalars;
            assert_eq!(
                l3l2q_shm_rebase_task_scalars(opened, scalars.as_mut_ptr(), 12),
                Status::BadDescriptor
            );
            assert_eq!(scalars, before);
            assert_eq!(
                l3l2q_shm_rebase_task_scalars(opened, scalars.as_mut_ptr(), 11),
                Status::BadArgument
            );

            assert_eq!(l3l2q_shm_free(&mut opened), Status::Ok);
            assert!(opened.is_null());
            assert_eq!(l3l2q_shm_free(&mut opened), Status::Ok);
            assert_eq!(l3l2q_shm_free(&mut created), Status::Ok);
            assert_eq!(
                l3l2q_shm_open(name.as_ptr(), &mut opened, core::ptr::null_mut()),
                Status::NotFound
            );
            assert_eq!(
                l3l2q_shm_unlink(name.as_ptr(), core::ptr::null_mut()),
                Status::NotFound
            );
            assert_eq!(l3l2q_shm_free(core::ptr::null_mut()), Status::BadArgument);
        }
    }
}
