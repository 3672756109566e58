//! C API of the L3 queue. A handle is used by one thread at a time; it may
//! move between threads. Callbacks are called on the calling thread.

use super::common::scalars_mut;
use super::{
    ByteSlice, arg_byte_slices, arg_bytes, arg_bytes_mut, arg_mut, arg_optional, arg_ref,
    arg_slice, arg_slice_mut, check, emit_created, ffi_boundary, finish, free_handle, status_of,
    write_optional,
};
use crate::abi::{L3L2Q_TASK_SCALARS, Layout, Opcode, RegionDescriptor};
use crate::error::{Error, ErrorInfo, Status};
use crate::l3::{L3Queue, QueueConfig};
use crate::layout::Violation;
use crate::region::{CallbackRegion, MappedRegion, Region, RegionCallbacks};
use crate::ring::{Message, Reservation};

/// A region behind the panic probe of the boundary tests: every access
/// ticks it first (debug builds only; release builds use the region as is).
#[cfg(debug_assertions)]
#[derive(Debug)]
struct Probed<R>(R);

#[cfg(not(debug_assertions))]
type Probed<R> = R;

#[cfg(debug_assertions)]
fn probed<R>(region: R) -> Probed<R> {
    Probed(region)
}

#[cfg(not(debug_assertions))]
fn probed<R>(region: R) -> Probed<R> {
    region
}

#[cfg(debug_assertions)]
macro_rules! probe {
    ($self:ident, $r:ident => $e:expr) => {{
        super::panic_probe::tick();
        let $r = &$self.0;
        $e
    }};
}

#[cfg(debug_assertions)]
use crate::{abi::DescriptorSlot, region::Fault};

// SAFETY: every method forwards to the wrapped region, whose own `unsafe impl` upholds the contract.
#[cfg(debug_assertions)]
unsafe impl<R: Region> Region for Probed<R> {
    fn read_payload(&self, offset: u64, dst: &mut [u8]) -> Result<(), Fault> {
        probe!(self, r => r.read_payload(offset, dst))
    }
    fn write_payload(&self, offset: u64, src: &[u8]) -> Result<(), Fault> {
        probe!(self, r => r.write_payload(offset, src))
    }
    fn read_slot(&self, offset: u64) -> Result<DescriptorSlot, Fault> {
        probe!(self, r => r.read_slot(offset))
    }
    fn write_slot(&self, offset: u64, slot: &DescriptorSlot) -> Result<(), Fault> {
        probe!(self, r => r.write_slot(offset, slot))
    }
    fn load_counter(&self, offset: u64) -> Result<u32, Fault> {
        probe!(self, r => r.load_counter(offset))
    }
    fn store_counter(&self, offset: u64, value: u32) -> Result<(), Fault> {
        probe!(self, r => r.store_counter(offset, value))
    }
    fn move_payload(&self, from: u64, to: u64, len: u64) -> Result<(), Fault> {
        probe!(self, r => r.move_payload(from, to, len))
    }
    fn payload_ptr(&self, offset: u64, len: u64) -> Option<core::ptr::NonNull<u8>> {
        probe!(self, r => r.payload_ptr(offset, len))
    }
    fn flush_written(&self, offset: u64, len: u64) {
        probe!(self, r => r.flush_written(offset, len))
    }
    fn refresh_for_read(&self, offset: u64, len: u64) {
        probe!(self, r => r.refresh_for_read(offset, len))
    }
    fn prefetch_read(&self, offset: u64) {
        probe!(self, r => r.prefetch_read(offset))
    }
}

/// A queue over either backend. Each backend has its own queue type, so
/// a C call dispatches once and the mapped queue runs exactly the code of
/// the Rust API's `L3Queue<MappedRegion>` (a region that dispatched on
/// every access kept the region calls out of line: 196 instructions and
/// 32 stores per `l3l2q_l3_try_enqueue` against 130 and 15).
#[derive(Debug)]
enum AnyQueue {
    Mapped(L3Queue<Probed<MappedRegion>>),
    Callbacks(L3Queue<Probed<CallbackRegion>>),
}

/// Evaluates `$e` with `$q` bound to the queue of either backend.
macro_rules! on_queue {
    ($any:expr, $q:ident => $e:expr) => {
        match $any {
            AnyQueue::Mapped($q) => $e,
            AnyQueue::Callbacks($q) => $e,
        }
    };
}

/// Opaque L3 queue handle.
pub struct L3QueueHandle {
    queue: AnyQueue,
}

/// Options for creating an L3 queue.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct L3Config {
    /// Ring capacity per direction: a power of two in `1..=2^30`.
    pub depth: u64,
    /// Input arena bytes: a positive multiple of 64.
    pub input_arena_bytes: u64,
    /// Output arena bytes: a positive multiple of 64.
    pub output_arena_bytes: u64,
    /// Value every ring counter starts from; 0 for normal use (a testing
    /// aid; the L2 side must use the same value).
    pub initial_count: u64,
}

fn create<R: Region>(
    region: R,
    descriptor: &RegionDescriptor,
    config: &L3Config,
    out: &mut *mut L3QueueHandle,
    out_violation: *mut Violation,
    wrap: impl FnOnce(L3Queue<Probed<R>>) -> AnyQueue,
) -> Status {
    let shape = QueueConfig {
        depth: config.depth,
        input_arena_bytes: config.input_arena_bytes,
        output_arena_bytes: config.output_arena_bytes,
    };
    let created = L3Queue::create_at(probed(region), descriptor, shape, config.initial_count);
    // SAFETY: the public callers pass their own caller's out_violation, null or writable by contract.
    unsafe {
        emit_created(
            created.map(|queue| L3QueueHandle { queue: wrap(queue) }),
            out,
            out_violation,
        )
    }
}

/// Creates an L3 queue over memory mapped in this process (same process or
/// shared memory). `region` gives this process's addresses; the descriptor
/// handed to L2 (`l3l2q_l3_task_scalars`) carries the same addresses, so a
/// peer in another process must rebase them to its own mapping.
///
/// # Safety
/// Pointers readable/writable as their direction says; the region's ranges
/// must stay mapped until the queue is freed.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_DESCRIPTOR` with `*out_violation` naming the rule
/// (also `L3L2Q_VIOLATION_REGION_TOO_SMALL`); `L3L2Q_STATUS_BAD_ARGUMENT`
/// for null pointers. Nothing is created on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_queue_create_mapped(
    region: *const RegionDescriptor,
    config: *const L3Config,
    out: *mut *mut L3QueueHandle,
    out_violation: *mut Violation,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (descriptor, config, out) = check!(unsafe { Ok((check!(arg_ref(region)), check!(arg_ref(config)), check!(arg_mut(out)))) });
        check!(arg_optional(out_violation));
        // SAFETY: the caller guarantees the ranges are mapped in this process for the queue's lifetime.
        let mapped = match unsafe { MappedRegion::from_descriptor(descriptor) } {
            Ok(m) => m,
            Err(v) => return create_failed(v, out_violation),
        };
        create(mapped, descriptor, config, out, out_violation, AnyQueue::Mapped)
    }
}

fn create_failed(violation: Violation, out_violation: *mut Violation) -> Status {
    // SAFETY: forwarded caller contract on out_violation.
    unsafe { write_optional(out_violation, violation) };
    Status::BadDescriptor
}

/// Creates an L3 queue over a region reached only through `callbacks`.
/// `region` describes it as the L2 side sees it (device addresses); the
/// callbacks receive offsets relative to its payload and counter bases.
///
/// # Safety
/// Pointers as for `l3l2q_l3_queue_create_mapped`; the callbacks and their
/// `ctx` must stay valid until the queue is freed.
///
/// # Errors
/// As `l3l2q_l3_queue_create_mapped`; `L3L2Q_STATUS_BAD_ARGUMENT` when a
/// callback is NULL; `L3L2Q_STATUS_CALLBACK_FAILED` when zeroing the
/// counters failed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_queue_create_callbacks(
    region: *const RegionDescriptor,
    callbacks: *const RegionCallbacks,
    config: *const L3Config,
    out: *mut *mut L3QueueHandle,
    out_violation: *mut Violation,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (descriptor, callbacks, config, out) = check!(unsafe { Ok((check!(arg_ref(region)), check!(arg_ref(callbacks)), check!(arg_ref(config)), check!(arg_mut(out)))) });
        check!(arg_optional(out_violation));
        // SAFETY: the caller guarantees the callbacks are safe to call for the queue's lifetime.
        let Some(region) = (unsafe { CallbackRegion::new(*callbacks, descriptor.payload_bytes, descriptor.counter_bytes) }) else {
            return Status::BadArgument;
        };
        create(region, descriptor, config, out, out_violation, AnyQueue::Callbacks)
    }
}

/// Frees the queue `*queue` and sets `*queue` to NULL; a NULL `*queue` is a
/// no-op, so freeing twice through the same variable is harmless. Valid on
/// a poisoned queue. Does not publish STOP.
///
/// # Safety
/// `*queue` must be NULL or a live handle not freed through a copy.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` when `queue` itself is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_queue_free(queue: *mut *mut L3QueueHandle) -> Status {
    // SAFETY: caller contract.
    ffi_boundary! { unsafe { free_handle(queue) } }
}

/// Borrows the queue behind a handle pointer.
///
/// # Safety
/// `handle` must be null or a live handle used by this thread only.
unsafe fn queue<'a>(handle: *mut L3QueueHandle) -> Result<&'a mut AnyQueue, Status> {
    // SAFETY: caller contract.
    unsafe { arg_mut(handle) }.map(|h| &mut h.queue)
}

/// Writes the twelve L2 task scalars (descriptor, then args).
///
/// # Safety
/// `handle` live; `scalars` writable for `count` u64.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers or `count != 12`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_task_scalars(
    handle: *mut L3QueueHandle,
    scalars: *mut u64,
    count: usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, out) = check!(unsafe { Ok((check!(queue(handle)), check!(scalars_mut(scalars, count)))) });
        out.copy_from_slice(&on_queue!(q, q => q.task_scalars()).scalars[..L3L2Q_TASK_SCALARS]);
        Status::Ok
    }
}

/// Copies the computed layout.
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_layout(handle: *mut L3QueueHandle, out: *mut Layout) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, out) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_mut(out)))) });
        *out = *on_queue!(q, q => q.layout());
        Status::Ok
    }
}

/// Copies `nbytes` from `buf` into the input arena and publishes them with
/// `opcode` DATA or ERROR, without waiting. `buf` may be NULL when
/// `nbytes` is 0.
///
/// # Safety
/// `handle` live; `buf` readable for `nbytes`.
///
/// # Errors
/// `L3L2Q_STATUS_NO_PROGRESS` when full; `L3L2Q_STATUS_STOPPED` after
/// STOP; `L3L2Q_STATUS_BAD_ARGUMENT` for another opcode or more bytes than
/// the arena; `L3L2Q_STATUS_CALLBACK_FAILED` when reading the head failed;
/// `L3L2Q_STATUS_POISONED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_try_enqueue(
    handle: *mut L3QueueHandle,
    opcode: u64,
    buf: *const u8,
    nbytes: usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, payload) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_bytes(buf, nbytes)))) });
        status_of(on_queue!(q, q => q.try_send_code(opcode, payload)))
    }
}

/// Copies `count` payloads into the input arena and publishes them with
/// `opcode` (DATA or ERROR) and one store of the tail, without waiting.
/// Writes how many were published to `*out_sent`: a prefix of `payloads`,
/// shorter when the ring or arena fills.
///
/// # Safety
/// `handle` live; `payloads` readable for `count` entries (NULL when
/// `count` is 0), each entry's `data` readable for its `len`; `out_sent`
/// writable.
///
/// # Errors
/// Only when nothing was published: as `l3l2q_l3_try_enqueue`, and
/// `L3L2Q_STATUS_NO_PROGRESS` for `count == 0`. `L3L2Q_STATUS_BAD_ARGUMENT`
/// for null pointers, including an entry with NULL `data` and non-zero
/// `len` (checked before anything is sent).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_try_enqueue_batch(
    handle: *mut L3QueueHandle,
    opcode: u64,
    payloads: *const ByteSlice,
    count: usize,
    out_sent: *mut usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, payloads, out_sent) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_slice(payloads, count)), check!(arg_mut(out_sent)))) });
        // SAFETY: caller contract on every entry.
        let payloads = check!(unsafe { arg_byte_slices(payloads) });
        finish(on_queue!(q, q => enqueue_batch(q, opcode, payloads)), out_sent)
    }
}

/// The batch send of one backend in a function of its own: inlined into
/// the exported function, both backends' loops shared one register
/// allocation and spilled more (18.8 -> 17.0 stores per message).
#[inline(never)]
fn enqueue_batch<'a, R: Region>(
    q: &mut L3Queue<R>,
    opcode: u64,
    payloads: impl Iterator<Item = &'a [u8]>,
) -> Result<usize, Error> {
    q.try_send_batch_code(opcode, payloads)
}

/// As `l3l2q_l3_try_enqueue`, waiting up to `timeout_ns` (spin, yield,
/// then short sleeps).
///
/// # Safety
/// As `l3l2q_l3_try_enqueue`.
///
/// # Errors
/// As `l3l2q_l3_try_enqueue`, plus `L3L2Q_STATUS_TIMEOUT` or
/// `L3L2Q_STATUS_REMOTE_ABORTED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_enqueue(
    handle: *mut L3QueueHandle,
    opcode: u64,
    buf: *const u8,
    nbytes: usize,
    timeout_ns: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, payload) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_bytes(buf, nbytes)))) });
        status_of(on_queue!(q, q => q.send_code(opcode, payload, timeout_ns)))
    }
}

/// Publishes STOP without waiting.
///
/// # Safety
/// `handle` live.
///
/// # Errors
/// `L3L2Q_STATUS_NO_PROGRESS` when the ring is full;
/// `L3L2Q_STATUS_STOPPED` if already published; `L3L2Q_STATUS_POISONED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_try_request_stop(handle: *mut L3QueueHandle) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointer.
        let q = check!(unsafe { queue(handle) });
        status_of(on_queue!(q, q => q.try_request_stop()))
    }
}

/// Publishes STOP, waiting up to `timeout_ns` for ring space. Returns once
/// STOP is published; it waits neither for L2 to exit nor for outputs.
///
/// # Safety
/// `handle` live.
///
/// # Errors
/// As `l3l2q_l3_try_request_stop`, plus `L3L2Q_STATUS_TIMEOUT` or
/// `L3L2Q_STATUS_REMOTE_ABORTED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_request_stop(
    handle: *mut L3QueueHandle,
    timeout_ns: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointer.
        let q = check!(unsafe { queue(handle) });
        status_of(on_queue!(q, q => q.request_stop(timeout_ns)))
    }
}

/// Reserves `nbytes` of input arena for zero-copy filling at `out->data`
/// (mapped regions; NULL for callback regions: use
/// `l3l2q_l3_write_reserved`). A reservation that wrapped to the arena
/// start but is committed with bytes that fit at the position before the
/// wrap is published there: the commit moves the bytes and drops the
/// padding, so every payload sits where any consumer of the format
/// expects it.
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// As `l3l2q_l3_try_enqueue`; a second active reservation poisons.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_try_reserve(
    handle: *mut L3QueueHandle,
    nbytes: u64,
    out: *mut Reservation,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, out) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_mut(out)))) });
        finish(on_queue!(q, q => q.try_reserve(nbytes)), out)
    }
}

/// Copies `len` bytes from `src` into the active input reservation at
/// byte `at`.
///
/// # Safety
/// `handle` live; `reservation` readable; `src` readable for `len`.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` when it does not fit;
/// `L3L2Q_STATUS_POISONED` for a foreign reservation or a failed write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_write_reserved(
    handle: *mut L3QueueHandle,
    reservation: *const Reservation,
    at: u64,
    src: *const u8,
    len: usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, reservation, src) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_ref(reservation)), check!(arg_bytes(src, len)))) });
        status_of(on_queue!(q, q => q.write_reserved(reservation, at, src)))
    }
}

/// Publishes the active input reservation with `nbytes <= capacity`.
///
/// # Safety
/// `handle` live; `reservation` readable.
///
/// # Errors
/// As `l3l2q_l2_publish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_commit(
    handle: *mut L3QueueHandle,
    reservation: *const Reservation,
    opcode: u64,
    nbytes: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, reservation) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_ref(reservation)))) });
        status_of(on_queue!(q, q => q.publish_code(reservation, opcode, nbytes, true)))
    }
}

/// As `l3l2q_l3_commit`, without storing the tail: the message becomes
/// visible to L2 at the next `l3l2q_l3_flush`, commit, enqueue or STOP.
/// A reserve that finds no room stores the tail itself.
///
/// # Safety
/// As `l3l2q_l3_commit`.
///
/// # Errors
/// As `l3l2q_l3_commit`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_commit_deferred(
    handle: *mut L3QueueHandle,
    reservation: *const Reservation,
    opcode: u64,
    nbytes: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, reservation) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_ref(reservation)))) });
        status_of(on_queue!(q, q => q.publish_code(reservation, opcode, nbytes, false)))
    }
}

/// Publishes every input committed with `l3l2q_l3_commit_deferred` with
/// one release store of the tail (nothing when none is pending).
///
/// # Safety
/// `handle` live.
///
/// # Errors
/// `L3L2Q_STATUS_POISONED` when poisoned or the store fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_flush(handle: *mut L3QueueHandle) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointer.
        let q = check!(unsafe { queue(handle) });
        status_of(on_queue!(q, q => q.flush()))
    }
}

/// Takes the next output without waiting; repeated calls return the same
/// message until it is released.
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_NO_PROGRESS` when empty; `L3L2Q_STATUS_CALLBACK_FAILED`;
/// `L3L2Q_STATUS_POISONED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_try_peek(
    handle: *mut L3QueueHandle,
    out: *mut Message,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, out) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_mut(out)))) });
        finish(on_queue!(q, q => q.try_peek()), out)
    }
}

/// As `l3l2q_l3_try_peek`, waiting up to `timeout_ns`.
///
/// # Safety
/// As `l3l2q_l3_try_peek`.
///
/// # Errors
/// As `l3l2q_l3_try_peek`, plus `L3L2Q_STATUS_TIMEOUT` or
/// `L3L2Q_STATUS_REMOTE_ABORTED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_peek(
    handle: *mut L3QueueHandle,
    out: *mut Message,
    timeout_ns: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, out) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_mut(out)))) });
        finish(on_queue!(q, q => q.peek(timeout_ns)), out)
    }
}

/// The batch form of `l3l2q_l3_try_peek`: writes the held outputs, oldest
/// first, to `out`, acquiring more until `capacity` entries are written,
/// nothing more is published or `L3L2Q_L3_MAX_HELD` (at most depth) are
/// held, and writes the count to `*out_count`. Repeatable until released.
///
/// # Safety
/// `handle` live; `out` writable for `capacity` messages; `out_count`
/// writable.
///
/// # Errors
/// Only when nothing was written: as `l3l2q_l3_try_peek`
/// (`L3L2Q_STATUS_NO_PROGRESS` also for `capacity == 0`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_try_peek_batch(
    handle: *mut L3QueueHandle,
    out: *mut Message,
    capacity: usize,
    out_count: *mut usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, out, out_count) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_slice_mut(out, capacity)), check!(arg_mut(out_count)))) });
        finish(on_queue!(q, q => q.try_peek_batch(out)), out_count)
    }
}

/// Releases `count` held outputs, which must be the oldest held ones in
/// order, with one store of the head.
///
/// # Safety
/// `handle` live; `messages` readable for `count` entries (NULL when
/// `count` is 0).
///
/// # Errors
/// `L3L2Q_STATUS_POISONED` (OWNERSHIP) when any is not the next held
/// message in order (nothing is released).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_release_batch(
    handle: *mut L3QueueHandle,
    messages: *const Message,
    count: usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, messages) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_slice(messages, count)))) });
        status_of(on_queue!(q, q => q.release_batch(messages)))
    }
}

/// Copies the active message's payload into `dst` (capacity `capacity`)
/// and writes its length to `*out_len`.
///
/// # Safety
/// `handle` live; `message` readable; `dst` writable for `capacity`;
/// `out_len` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BUFFER_TOO_SMALL` (nothing changes);
/// `L3L2Q_STATUS_CALLBACK_FAILED`; `L3L2Q_STATUS_POISONED` (OWNERSHIP)
/// for anything but the active message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_read_into(
    handle: *mut L3QueueHandle,
    message: *const Message,
    dst: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, message, dst, out_len) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_ref(message)), check!(arg_bytes_mut(dst, capacity)), check!(arg_mut(out_len)))) });
        finish(on_queue!(q, q => q.read_into(message, dst)), out_len)
    }
}

/// Releases the active output message.
///
/// # Safety
/// `handle` live; `message` readable.
///
/// # Errors
/// `L3L2Q_STATUS_POISONED` (OWNERSHIP) for anything but the active message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_release(
    handle: *mut L3QueueHandle,
    message: *const Message,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, message) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_ref(message)))) });
        status_of(on_queue!(q, q => q.release(message)))
    }
}

fn dequeue(
    result: Result<(Opcode, usize), Error>,
    out_opcode: &mut u64,
    out_len: &mut usize,
) -> Status {
    let mut pair = (Opcode::Invalid, 0);
    let status = finish(result, &mut pair);
    if status == Status::Ok {
        (*out_opcode, *out_len) = (pair.0.into(), pair.1);
    }
    status
}

/// Peeks, copies into `dst` and releases without waiting; writes the
/// opcode and length.
///
/// # Safety
/// `handle` live; `dst` writable for `capacity`; out-pointers writable.
///
/// # Errors
/// As `l3l2q_l3_try_peek` and `l3l2q_l3_read_into`; on
/// `L3L2Q_STATUS_BUFFER_TOO_SMALL` the message stays active.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_try_dequeue_into(
    handle: *mut L3QueueHandle,
    dst: *mut u8,
    capacity: usize,
    out_opcode: *mut u64,
    out_len: *mut usize,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, dst, op, len) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_bytes_mut(dst, capacity)), check!(arg_mut(out_opcode)), check!(arg_mut(out_len)))) });
        dequeue(on_queue!(q, q => q.try_dequeue_into(dst)), op, len)
    }
}

/// As `l3l2q_l3_try_dequeue_into`, waiting up to `timeout_ns`.
///
/// # Safety
/// As `l3l2q_l3_try_dequeue_into`.
///
/// # Errors
/// As `l3l2q_l3_try_dequeue_into`, plus `L3L2Q_STATUS_TIMEOUT` or
/// `L3L2Q_STATUS_REMOTE_ABORTED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_dequeue_into(
    handle: *mut L3QueueHandle,
    dst: *mut u8,
    capacity: usize,
    out_opcode: *mut u64,
    out_len: *mut usize,
    timeout_ns: u64,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, dst, op, len) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_bytes_mut(dst, capacity)), check!(arg_mut(out_opcode)), check!(arg_mut(out_len)))) });
        dequeue(on_queue!(q, q => q.dequeue_into(dst, timeout_ns)), op, len)
    }
}

/// The remote-abort query: writes whether L2 has set its abort flag. It
/// reads the flag and never writes shared memory; while the flag is clear
/// it changes nothing. When the flag is set it records REMOTE_ABORTED
/// (operation TIMEOUT) unless an error is already recorded, and every
/// later queue call on this handle returns `L3L2Q_STATUS_REMOTE_ABORTED`.
/// The queue's own abort flag is never set by this.
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers;
/// `L3L2Q_STATUS_CALLBACK_FAILED` when a callback region could not read
/// the flag (nothing changed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_remote_aborted(
    handle: *mut L3QueueHandle,
    out: *mut bool,
) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, out) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_mut(out)))) });
        finish(on_queue!(q, q => q.remote_aborted()), out)
    }
}

/// Copies the queue's error record (kind NONE while healthy).
///
/// # Safety
/// `handle` live; `out` writable.
///
/// # Errors
/// `L3L2Q_STATUS_BAD_ARGUMENT` for null pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn l3l2q_l3_error(handle: *mut L3QueueHandle, out: *mut ErrorInfo) -> Status {
    ffi_boundary! {
        // SAFETY: caller contract on the pointers.
        let (q, out) = check!(unsafe { Ok((check!(queue(handle)), check!(arg_mut(out)))) });
        super::common::copy_error(on_queue!(q, q => q.error()), out)
    }
}
