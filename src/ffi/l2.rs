//! C API of the L2 endpoint. A handle is used by one thread at a time; it
//! may move between threads.

use super::common::scalars_ref;
use super::{
    ByteSlice, arg_byte_slices, arg_mut, arg_optional, arg_ref, arg_slice, arg_slice_mut, check,
    emit_created, ffi_boundary, finish, free_handle, status_of,
};
use core::ffi::c_void;

use crate::error::{ErrorInfo, Status};
use crate::l2::L2Endpoint;
use crate::layout::Violation;
use crate::ring::{Message, Reservation};

/// Opaque L2 endpoint handle.
pub struct L2EndpointHandle {
    endpoint: L2Endpoint,
}

/// Options for creating an L2 endpoint.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct L2Config {
    /// Input window: DATA/ERROR handles held at once, `1..=depth`.
    pub max_inflight: u64,
    /// Value every ring counter starts from; 0 unless the L3 side was
    /// created with the same non-zero value (a testing aid).
    pub initial_count: u64,
}

/// Creates an L2 endpoint from the twelve task scalars, over memory mapped
/// in this process (the descriptor's addresses are this process's).
///
/// # Safety
/// `scalars` readable for `count` u64; `config` readable; `out` writable;
/// `out_violation` null or writable. The descriptor's ranges must stay
/// mapped and writable until the endpoint is freed.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_DESCRIPTOR` with `*out_violation` naming the rule;
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers, `count != 12` or a
/// window outside `1..=depth` (the abort flag is not touched).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_endpoint_create(
    scalars: *const u64,
    count: usize,
    config: *const L2Config,
    out: *mut *mut L2EndpointHandle,
    out_violation: *mut Violation,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (scalars, config, out) = check!(unsafe { Ok((check!(scalars_ref(scalars, count)), check!(arg_ref(config)), check!(arg_mut(out)))) });
        check!(arg_optional(out_violation));
        let (descriptor, args) = scalars.decode();
        // SAFETY: the caller guarantees the descriptor's ranges are mapped in this process.
        let created = unsafe { L2Endpoint::from_descriptor(&descriptor, &args, config.max_inflight, config.initial_count) };
        // SAFETY: caller contract on `out_violation`.
        unsafe { emit_created(created.map(|endpoint| L2EndpointHandle { endpoint }), out, out_violation) }
    }
}

/// Frees the endpoint `*endpoint` and sets `*endpoint` to NULL; a NULL
/// `*endpoint` is a no-op, so freeing twice through the same variable is
/// harmless. Valid on a poisoned endpoint. Held messages and reservations
/// are abandoned.
///
/// # Safety
/// `*endpoint` must be NULL or a live handle not freed through a copy.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` when `endpoint` itself is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_endpoint_free(endpoint: *mut *mut L2EndpointHandle) -> Status {
    // SAFETY: caller contract.
    ffi_boundary! { unsafe { free_handle(endpoint) } }
}

/// Borrows the endpoint behind a handle pointer.
///
/// # Safety
/// `handle` must be null or a live handle used by this thread only.
unsafe fn endpoint<'a>(handle: *mut L2EndpointHandle) -> Result<&'a mut L2Endpoint, Status> {
    // SAFETY: caller contract.
    unsafe { arg_mut(handle) }.map(|h| &mut h.endpoint)
}

/// Acquires the next input without waiting and writes it to `*out`; the
/// payload is readable in place at `out->data` until released.
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_NO_PROGRESS` (nothing published, window full, or STOP
/// already acquired); `L3L2Q_STATUS_POISONED` (see `l3l2q_l2_error`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_try_peek(
    handle: *mut L2EndpointHandle,
    out: *mut Message,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_mut(out)))) });
        finish(ep.try_peek(), out)
    }
}

/// As `l3l2q_l2_try_peek`, spinning up to `timeout_ns` (0: one attempt).
///
/// # Safety
/// As `l3l2q_l2_try_peek`.
///
/// # Errors
/// As `l3l2q_l2_try_peek`, plus `L3L2Q_STATUS_TIMEOUT` or
/// `L3L2Q_STATUS_REMOTE_ABORTED` (L3 abort flag set; terminal, see
/// `l3l2q_l2_remote_aborted`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_peek(
    handle: *mut L2EndpointHandle,
    out: *mut Message,
    timeout_ns: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_mut(out)))) });
        finish(ep.peek(timeout_ns), out)
    }
}

/// Marks an acquired input complete; the head advances over the completed
/// prefix only.
///
/// # Safety
/// `handle` live; `message` readable.
///
/// # Errors
/// `L3L2Q_STATUS_POISONED` (OWNERSHIP) for an unknown, stale, altered or
/// already released message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_release(
    handle: *mut L2EndpointHandle,
    message: *const Message,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, message) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_ref(message)))) });
        status_of(ep.release(message))
    }
}

/// Acquires up to `capacity` inputs without waiting into `out` and writes
/// the count to `*out_count`. Each counts against the window like one
/// from `l3l2q_l2_try_peek`; the batch ends early when the window is full,
/// nothing more is published, or after STOP (then the last entry).
///
/// # Safety
/// `handle` live; `out` writable for `capacity` messages; `out_count`
/// writable.
///
/// # Errors
/// Only when nothing was acquired: as `l3l2q_l2_try_peek`
/// (`L3L2Q_STATUS_NO_PROGRESS` also for `capacity == 0`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_try_peek_batch(
    handle: *mut L2EndpointHandle,
    out: *mut Message,
    capacity: usize,
    out_count: *mut usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out, out_count) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_slice_mut(out, capacity)), check!(arg_mut(out_count)))) });
        finish(ep.try_peek_batch(out), out_count)
    }
}

/// Called by `l3l2q_l2_try_consume` once per input, in order, with
/// `ctx` and the input (`data` points at its `payload_nbytes` bytes in
/// place, NULL when empty). The message and its bytes are valid only
/// during the call. The callback must return normally: it must not
/// unwind (throw) or `longjmp` out, and must not use the endpoint.
pub type L2VisitFn = Option<unsafe extern "C" fn(ctx: *mut c_void, message: *const Message)>;

/// Takes up to `max` inputs without waiting, calls `visit` for each in
/// order with its payload in place, then releases them all with one head
/// store, and writes the count to `*out_count`. The batch ends after STOP
/// (visited with an empty payload, and released like the rest). No handle
/// outlives the call, so the window does not apply. While handles from
/// `l3l2q_l2_try_peek` are held, inputs are taken and released one by one
/// under the usual FIFO and window rules (a full window ends the batch).
///
/// # Safety
/// `handle` live; `visit` a valid callback honouring `l3l2q_l2_visit_fn`'s
/// rules; `out_count` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for a null `handle`, `visit` or
/// `out_count`; otherwise, only when nothing was visited, as
/// `l3l2q_l2_try_peek` (`L3L2Q_STATUS_NO_PROGRESS` also for `max == 0`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_try_consume(
    handle: *mut L2EndpointHandle,
    max: usize,
    visit: L2VisitFn,
    ctx: *mut c_void,
    out_count: *mut usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out_count) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_mut(out_count)))) });
        let Some(visit) = visit else { return Status::BadArgument };
        // SAFETY: `visit` is a valid callback for `ctx` (caller contract); the message outlives the call.
        finish(ep.try_consume(max, |message, _payload| unsafe { visit(ctx, message) }), out_count)
    }
}

/// Marks `count` acquired inputs complete, then advances the head over the
/// completed prefix with one store.
///
/// # Safety
/// `handle` live; `messages` readable for `count` entries (NULL when
/// `count` is 0).
///
/// # Errors
/// `L3L2Q_STATUS_POISONED` (OWNERSHIP) when any is unknown, stale,
/// altered or released twice; nothing is stored then.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_release_batch(
    handle: *mut L2EndpointHandle,
    messages: *const Message,
    count: usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, messages) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_slice(messages, count)))) });
        status_of(ep.release_batch(messages))
    }
}

/// Writes whether STOP has been acquired and physically released (after
/// every earlier input).
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_drained(handle: *mut L2EndpointHandle, out: *mut bool) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_mut(out)))) });
        *out = ep.drained();
        Status::Ok
    }
}

/// The remote-abort query: writes whether L3 has set its abort flag. It
/// reads the flag and never writes shared memory; while the flag is clear
/// it changes nothing. When the flag is set it records REMOTE_ABORTED
/// (operation TIMEOUT) unless an error is already recorded, and every
/// later queue call on this handle returns `L3L2Q_STATUS_REMOTE_ABORTED`.
/// The endpoint's own abort flag is never set by this.
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_remote_aborted(
    handle: *mut L2EndpointHandle,
    out: *mut bool,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_mut(out)))) });
        finish(ep.remote_aborted(), out)
    }
}

/// Reserves `nbytes` in the output arena without waiting; write the
/// payload at `out->data`, then publish.
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_NO_PROGRESS` when full or `nbytes` exceeds the arena;
/// `L3L2Q_STATUS_POISONED` for a second active reservation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_try_reserve(
    handle: *mut L2EndpointHandle,
    nbytes: u64,
    out: *mut Reservation,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_mut(out)))) });
        finish(ep.try_reserve(nbytes), out)
    }
}

/// As `l3l2q_l2_try_reserve`, spinning up to `timeout_ns`.
///
/// # Safety
/// As `l3l2q_l2_try_reserve`.
///
/// # Errors
/// As `l3l2q_l2_try_reserve`, plus `L3L2Q_STATUS_TIMEOUT` or
/// `L3L2Q_STATUS_REMOTE_ABORTED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_reserve(
    handle: *mut L2EndpointHandle,
    nbytes: u64,
    out: *mut Reservation,
    timeout_ns: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_mut(out)))) });
        finish(ep.reserve(nbytes, timeout_ns), out)
    }
}

/// Publishes the active reservation as `nbytes` (at most its capacity)
/// with `opcode` DATA or ERROR; fewer bytes return the rest to the arena.
///
/// # Safety
/// `handle` live; `reservation` readable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` when `nbytes` exceeds the capacity;
/// `L3L2Q_STATUS_POISONED` for an unknown or altered reservation
/// (OWNERSHIP) or a STOP/invalid opcode (INVALID_DESCRIPTOR).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_publish(
    handle: *mut L2EndpointHandle,
    reservation: *const Reservation,
    opcode: u64,
    nbytes: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, reservation) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_ref(reservation)))) });
        status_of(ep.publish_code(reservation, opcode, nbytes, true))
    }
}

/// As `l3l2q_l2_publish`, without storing the tail: the message becomes
/// visible to L3 at the next `l3l2q_l2_flush`, publish or send. A reserve
/// that finds no room stores the tail itself.
///
/// # Safety
/// As `l3l2q_l2_publish`.
///
/// # Errors
/// As `l3l2q_l2_publish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_publish_deferred(
    handle: *mut L2EndpointHandle,
    reservation: *const Reservation,
    opcode: u64,
    nbytes: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, reservation) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_ref(reservation)))) });
        status_of(ep.publish_code(reservation, opcode, nbytes, false))
    }
}

/// Publishes every output from `l3l2q_l2_publish_deferred` with one
/// release store of the tail (nothing when none is pending).
///
/// # Safety
/// `handle` live.
///
/// # Errors
/// `L3L2Q_STATUS_POISONED` when poisoned or the store fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_flush(handle: *mut L2EndpointHandle) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointer.
        let ep = check!(unsafe { endpoint(handle) });
        status_of(ep.flush())
    }
}

/// Copies `count` payloads into the output arena and publishes them with
/// `opcode` (DATA or ERROR) and one store of the tail, without waiting;
/// writes how many were published to `*out_sent` (a prefix, shorter when
/// the ring or arena fills).
///
/// # Safety
/// `handle` live; `payloads` readable for `count` entries (NULL when
/// `count` is 0), each entry's `data` readable for its `len`; `out_sent`
/// writable.
///
/// # Errors
/// Only when nothing was published: `L3L2Q_STATUS_NO_PROGRESS` when the
/// first does not fit or `count == 0`; `L3L2Q_STATUS_POISONED` for a STOP
/// or invalid opcode (INVALID_DESCRIPTOR); `L3L2Q_STATUS_BAD_ARGUMENT` for
/// null pointers, including an entry with NULL `data` and non-zero `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_try_send_batch(
    handle: *mut L2EndpointHandle,
    opcode: u64,
    payloads: *const ByteSlice,
    count: usize,
    out_sent: *mut usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, payloads, out_sent) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_slice(payloads, count)), check!(arg_mut(out_sent)))) });
        // SAFETY: caller contract on every entry.
        let payloads = check!(unsafe { arg_byte_slices(payloads) });
        finish(ep.try_send_batch_code(opcode, payloads), out_sent)
    }
}

/// Copies the endpoint's error record into `*out` (kind NONE while healthy).
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_error(
    handle: *mut L2EndpointHandle,
    out: *mut ErrorInfo,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_mut(out)))) });
        super::common::copy_error(ep.error(), out)
    }
}

/// Copies the layout the endpoint validated.
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l2_layout(
    handle: *mut L2EndpointHandle,
    out: *mut crate::abi::Layout,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (ep, out) = check!(unsafe { Ok((check!(endpoint(handle)), check!(arg_mut(out)))) });
        *out = *ep.layout();
        Status::Ok
    }
}
