//! C API of the pure functions: version, status text, magic packing,
//! layout, validation, task scalars, slot codec, counter folding.

use core::ffi::c_char;

use super::{
    arg_bytes, arg_bytes_mut, arg_mut, arg_optional, arg_ref, check, ffi_boundary, write_optional,
};
use crate::abi::*;
use crate::error::{ErrorInfo, Operation, Status};
use crate::layout::{Violation, pack_magic_version, unpack_magic_version, validate_queue};

/// Library major version; equals the `CARGO_PKG_VERSION_MAJOR` of the build.
pub const L3L2Q_VERSION_MAJOR: u32 = 0;
/// Library minor version.
pub const L3L2Q_VERSION_MINOR: u32 = 1;
/// Library patch version.
pub const L3L2Q_VERSION_PATCH: u32 = 0;
/// Major of the C ABI (the SONAME suffix, `libl3l2q.so.1`).
pub const L3L2Q_C_ABI_MAJOR: u32 = 1;

/// What a loaded library is, so a runtime that dlopens it can refuse a
/// mismatch.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VersionInfo {
    /// NUL-terminated library version, e.g. "0.1.0"; static storage.
    pub library: *const c_char,
    /// Library major version.
    pub major: u32,
    /// Library minor version.
    pub minor: u32,
    /// Library patch version.
    pub patch: u32,
    /// C ABI major (SONAME suffix).
    pub c_abi_major: u32,
    /// Region descriptor ABI major written.
    pub region_abi_major: u32,
    /// Region descriptor ABI minor written.
    pub region_abi_minor: u32,
    /// Queue ABI major required.
    pub queue_abi_major: u32,
    /// Queue ABI minor required.
    pub queue_abi_minor: u32,
}

const VERSION_STRING: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// Fills `*out` with the library and wire ABI versions.
///
/// # Safety
/// `out` must be null or valid for writes.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` when `out` is null or misaligned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_version(out: *mut VersionInfo) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on `out`.
        let out = check!(unsafe { arg_mut(out) });
        *out = VersionInfo {
            library: VERSION_STRING.as_ptr().cast(),
            major: L3L2Q_VERSION_MAJOR,
            minor: L3L2Q_VERSION_MINOR,
            patch: L3L2Q_VERSION_PATCH,
            c_abi_major: L3L2Q_C_ABI_MAJOR,
            region_abi_major: L3L2Q_REGION_ABI_MAJOR as u32,
            region_abi_minor: L3L2Q_REGION_ABI_MINOR as u32,
            queue_abi_major: L3L2Q_QUEUE_ABI_MAJOR as u32,
            queue_abi_minor: L3L2Q_QUEUE_ABI_MINOR as u32,
        };
        Status::Ok
    }
}

fn status_from_code(code: i32) -> Option<Status> {
    Some(match code {
        0 => Status::Ok,
        1 => Status::NoProgress,
        2 => Status::Timeout,
        3 => Status::Stopped,
        10 => Status::BadArgument,
        11 => Status::BufferTooSmall,
        12 => Status::BadDescriptor,
        13 => Status::CallbackFailed,
        14 => Status::Inconsistent,
        20 => Status::Poisoned,
        21 => Status::RemoteAborted,
        30 => Status::Panic,
        40 => Status::Exists,
        41 => Status::NotFound,
        42 => Status::SystemError,
        _ => return None,
    })
}

/// Static NUL-terminated text for a status code; "unknown status" for any
/// other integer. Never returns null.
#[unsafe(no_mangle)]
pub extern "C" fn l3l2q_status_str(status: i32) -> *const c_char {
    let text = std::panic::catch_unwind(|| {
        status_from_code(status).map_or("unknown status\0", Status::describe)
    });
    text.unwrap_or("unknown status\0").as_ptr().cast()
}

/// Static NUL-terminated text for a violation code; "unknown violation"
/// for any other integer. Never returns null.
#[unsafe(no_mangle)]
pub extern "C" fn l3l2q_violation_str(violation: u32) -> *const c_char {
    let text = std::panic::catch_unwind(|| {
        violation_from_code(violation).map_or("unknown violation\0", Violation::describe_c)
    });
    text.unwrap_or("unknown violation\0").as_ptr().cast()
}

fn violation_from_code(code: u32) -> Option<Violation> {
    use Violation::*;
    const ALL: [Violation; 22] = [
        Valid,
        RegionMagic,
        RegionMajor,
        RegionIdZero,
        PayloadBaseZero,
        PayloadBytesZero,
        PayloadRangeOverflow,
        CounterBaseZero,
        CounterBaseMisaligned,
        CounterBytesInvalid,
        CounterRangeOverflow,
        RangesOverlap,
        QueueMagic,
        Depth,
        InputArena,
        OutputArena,
        LayoutOverflow,
        ArgsPayloadBytes,
        ArgsCounterBytes,
        DescriptorPayloadBytes,
        DescriptorCounterBytes,
        RegionTooSmall,
    ];
    ALL.iter().copied().find(|v| *v as u32 == code)
}

/// Packs `(magic << 32) | (major << 16) | minor` into `*out`.
///
/// # Safety
/// `out` must be null or valid for writes.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` when `out` is null or misaligned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_magic_version_pack(
    magic: u32,
    major: u16,
    minor: u16,
    out: *mut u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on `out`.
        let out = check!(unsafe { arg_mut(out) });
        *out = pack_magic_version(magic, major, minor);
        Status::Ok
    }
}

/// Splits a packed magic/version word.
///
/// # Safety
/// Each out-pointer must be null or valid for writes.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` when any out-pointer is null or misaligned
/// (nothing is written then).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_magic_version_unpack(
    word: u64,
    magic: *mut u32,
    major: *mut u16,
    minor: *mut u16,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the out-pointers; they are distinct objects.
        let (magic, major, minor) = check!(unsafe { Ok((check!(arg_mut(magic)), check!(arg_mut(major)), check!(arg_mut(minor)))) });
        (*magic, *major, *minor) = unpack_magic_version(word);
        Status::Ok
    }
}

/// Computes the layout for `depth` and the two arena sizes. Fails closed:
/// on any violation `*out` is untouched and `*out_violation` (optional,
/// may be null) names the rule.
///
/// # Safety
/// `out` must be null or valid for writes; `out_violation` too.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_DESCRIPTOR` for an invalid depth or arena or an
/// overflow; `L3L2Q_STATUS_BAD_ARGUMENT` when `out` is null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_layout_compute(
    depth: u64,
    input_arena_bytes: u64,
    output_arena_bytes: u64,
    out: *mut Layout,
    out_violation: *mut Violation,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on `out`.
        let out = check!(unsafe { arg_mut(out) });
        check!(arg_optional(out_violation));
        let result = Layout::compute(depth, input_arena_bytes, output_arena_bytes);
        report_violation(result.map(|layout| *out = layout), out_violation)
    }
}

fn report_violation(result: Result<(), Violation>, out_violation: *mut Violation) -> Status {
    let violation = result.err().unwrap_or(Violation::Valid);
    // SAFETY: the public functions pass their caller's optional out_violation, valid or null by contract.
    unsafe { write_optional(out_violation, violation) };
    if violation == Violation::Valid {
        Status::Ok
    } else {
        Status::BadDescriptor
    }
}

/// Checks a region descriptor against every rule of SPEC section 1.
/// `*out_violation` (optional) receives the first rule broken, or
/// `L3L2Q_VIOLATION_VALID`.
///
/// # Safety
/// `descriptor` must be null or point to a readable descriptor;
/// `out_violation` null or valid for writes.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_DESCRIPTOR` when a rule is broken;
/// `L3L2Q_STATUS_BAD_ARGUMENT` for a null descriptor.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_region_descriptor_validate(
    descriptor: *const RegionDescriptor,
    out_violation: *mut Violation,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on `descriptor`.
        let descriptor = check!(unsafe { arg_ref(descriptor) });
        check!(arg_optional(out_violation));
        report_violation(descriptor.validate(), out_violation)
    }
}

/// Checks queue args against their layout and the descriptor, as L2 does
/// at initialization; on success writes the layout to `*out_layout`.
///
/// # Safety
/// Pointers must be null or valid; `out_layout` and `out_violation` are
/// written, the others read.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_DESCRIPTOR` with `*out_violation` naming the rule;
/// `L3L2Q_STATUS_BAD_ARGUMENT` for a null input or `out_layout`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_queue_validate(
    descriptor: *const RegionDescriptor,
    args: *const QueueArgs,
    out_layout: *mut Layout,
    out_violation: *mut Violation,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (descriptor, args, out_layout) = check!(unsafe { Ok((check!(arg_ref(descriptor)), check!(arg_ref(args)), check!(arg_mut(out_layout)))) });
        check!(arg_optional(out_violation));
        report_violation(validate_queue(descriptor, args).map(|layout| *out_layout = layout), out_violation)
    }
}

/// Encodes descriptor then args into the twelve L2 task scalars.
///
/// # Safety
/// `descriptor` and `args` readable; `scalars` writable for `count` u64.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for a null pointer or `count != 12`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_task_scalars_encode(
    descriptor: *const RegionDescriptor,
    args: *const QueueArgs,
    scalars: *mut u64,
    count: usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (descriptor, args) = check!(unsafe { Ok((check!(arg_ref(descriptor)), check!(arg_ref(args)))) });
        // SAFETY: caller contract on `scalars`/`count`.
        let out = check!(unsafe { scalars_mut(scalars, count) });
        out.copy_from_slice(&TaskScalars::encode(descriptor, args).scalars);
        Status::Ok
    }
}

/// Decodes twelve task scalars into descriptor and args (unvalidated).
///
/// # Safety
/// `scalars` readable for `count` u64; the out-pointers writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for a null pointer or `count != 12`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_task_scalars_decode(
    scalars: *const u64,
    count: usize,
    out_descriptor: *mut RegionDescriptor,
    out_args: *mut QueueArgs,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on `scalars`/`count`.
        let scalars = check!(unsafe { scalars_ref(scalars, count) });
        // SAFETY: caller contract on the out-pointers.
        let (d, a) = check!(unsafe { Ok((check!(arg_mut(out_descriptor)), check!(arg_mut(out_args)))) });
        (*d, *a) = scalars.decode();
        Status::Ok
    }
}

/// Reads `count` task scalars at `ptr` as a [`TaskScalars`].
///
/// # Safety
/// A non-null `ptr` must be readable for `count` u64.
pub(crate) unsafe fn scalars_ref(ptr: *const u64, count: usize) -> Result<TaskScalars, Status> {
    if count != L3L2Q_TASK_SCALARS || ptr.is_null() || !ptr.is_aligned() {
        return Err(Status::BadArgument);
    }
    let mut out = TaskScalars::default();
    // SAFETY: non-null, aligned, and readable for 12 u64 by contract; `out` is a distinct local.
    unsafe { core::ptr::copy_nonoverlapping(ptr, out.scalars.as_mut_ptr(), L3L2Q_TASK_SCALARS) };
    Ok(out)
}

/// Borrows `count` writable task scalars at `ptr`.
///
/// # Safety
/// A non-null `ptr` must be writable for `count` u64.
pub(crate) unsafe fn scalars_mut<'a>(ptr: *mut u64, count: usize) -> Result<&'a mut [u64], Status> {
    if count != L3L2Q_TASK_SCALARS || ptr.is_null() || !ptr.is_aligned() {
        return Err(Status::BadArgument);
    }
    // SAFETY: non-null, aligned, writable for 12 u64 by contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, count) })
}

/// Encodes a slot into its 32 wire bytes (little-endian).
///
/// # Safety
/// `slot` readable; `out` writable for `len` bytes.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for a null pointer or `len < 32`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_slot_encode(
    slot: *const DescriptorSlot,
    out: *mut u8,
    len: usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (slot, out) = check!(unsafe { Ok((check!(arg_ref(slot)), check!(arg_bytes_mut(out, len)))) });
        if len < L3L2Q_SLOT_BYTES as usize {
            return Status::BadArgument;
        }
        out[..32].copy_from_slice(&slot.to_bytes());
        Status::Ok
    }
}

/// Decodes 32 wire bytes (no alignment needed) into a slot.
///
/// # Safety
/// `bytes` readable for `len` bytes; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for a null pointer or `len < 32`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_slot_decode(
    bytes: *const u8,
    len: usize,
    out: *mut DescriptorSlot,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (bytes, out) = check!(unsafe { Ok((check!(arg_bytes(bytes, len)), check!(arg_mut(out)))) });
        let Some(wire) = bytes.first_chunk::<32>() else { return Status::BadArgument };
        *out = DescriptorSlot::from_bytes(wire);
        Status::Ok
    }
}

/// Folds an observed low-32 counter value into the local u64 count
/// (SPEC section 5). On success `*out` is the new count.
///
/// # Safety
/// `out` must be null or valid for writes.
///
/// # Errors
/// `L3L2Q_STATUS_INCONSISTENT` when the observation is behind `local` or
/// more than `depth` ahead (`*out` untouched); `L3L2Q_STATUS_BAD_ARGUMENT`
/// for a null `out` or an invalid depth.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_counter_fold(
    local: u64,
    observed: u32,
    depth: u64,
    out: *mut u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on `out`.
        let out = check!(unsafe { arg_mut(out) });
        if !depth.is_power_of_two() || depth > L3L2Q_DEPTH_MAX {
            return Status::BadArgument;
        }
        match crate::counter::fold(local, observed, depth) {
            Some(v) => { *out = v; Status::Ok }
            None => Status::Inconsistent,
        }
    }
}

/// Static text of an error kind number; never null.
#[unsafe(no_mangle)]
pub extern "C" fn l3l2q_error_kind_str(kind: u32) -> *const c_char {
    let text = std::panic::catch_unwind(|| match kind {
        0 => "NONE\0",
        1 => "BAD_ARGUMENT\0",
        2 => "BAD_DESCRIPTOR\0",
        3 => "INVALID_DESCRIPTOR\0",
        4 => "OUT_OF_SPACE\0",
        5 => "OWNERSHIP\0",
        6 => "REMOTE_ABORTED\0",
        7 => "ENDPOINT_ERROR\0",
        _ => "unknown error kind\0",
    });
    text.unwrap_or("unknown error kind\0").as_ptr().cast()
}

/// Static NUL-terminated text for an operation number (the `operation` of
/// an error record): "unknown", "create", "peek", "release", "reserve",
/// "publish", "enqueue", "request_stop", "read_into", "timeout"; "unknown"
/// for any other integer. Never returns null.
#[unsafe(no_mangle)]
pub extern "C" fn l3l2q_operation_str(operation: u32) -> *const c_char {
    let text = std::panic::catch_unwind(|| {
        Operation::from_code(operation).map_or("unknown\0", Operation::name)
    });
    text.unwrap_or("unknown\0").as_ptr().cast()
}

/// Copies an endpoint's error record (kind NONE while healthy).
pub(crate) fn copy_error(record: Option<&ErrorInfo>, out: &mut ErrorInfo) -> crate::error::Status {
    *out = record.copied().unwrap_or(ErrorInfo::none());
    Status::Ok
}
