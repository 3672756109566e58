//! The L2 endpoint as the hostile-peer harness drives it: one enum over
//! the Rust API and the C API (`l3l2q::ffi::l2`), so every call's result
//! is checked the same way whichever side of the C boundary it crossed.
//! Every call runs under harness::lib (a panic fails the test); a C status
//! is decoded by harness::from_status (STATUS_PANIC fails the test).

use l3l2q::abi::*;
use l3l2q::ffi::l2 as c;
use l3l2q::{Error, ErrorInfo, ErrorKind, L2Endpoint, Message, Reservation};

use crate::guarded::Mem;
use crate::harness::{Shape, from_status, lib, named};

/// The endpoint under test, through either API.
#[allow(clippy::large_enum_variant)] // one per episode, never moved in a loop
pub enum Ep {
    /// The Rust API.
    Rust(L2Endpoint),
    /// The C API.
    Ffi(*mut c::L2EndpointHandle),
}

fn ffi_record(h: *mut c::L2EndpointHandle) -> Option<ErrorInfo> {
    let mut info = ErrorInfo::none();
    // SAFETY: a live handle and a writable record.
    let status = lib("l3l2q_l2_error", || unsafe {
        c::l3l2q_l2_error(h, &mut info)
    });
    assert_eq!(status, l3l2q::Status::Ok);
    (info.kind() != ErrorKind::None).then_some(info)
}

fn ffi_kind(h: *mut c::L2EndpointHandle) -> ErrorKind {
    ffi_record(h).map_or(ErrorKind::None, |i| i.kind())
}

impl Ep {
    /// An endpoint over `mem` for `shape`.
    pub fn open(mem: &Mem, shape: &Shape, region_id: u64, ffi: bool) -> Ep {
        let descriptor = mem.descriptor(region_id);
        let args = shape.layout.queue_args();
        if ffi {
            let scalars = TaskScalars::encode(&descriptor, &args);
            let config = c::L2Config {
                max_inflight: shape.window,
                initial_count: shape.initial,
            };
            let mut h = core::ptr::null_mut();
            // SAFETY: valid pointers; the guarded memory outlives the handle (freed in Drop).
            let status = unsafe {
                c::l3l2q_l2_endpoint_create(
                    scalars.scalars.as_ptr(),
                    12,
                    &config,
                    &mut h,
                    core::ptr::null_mut(),
                )
            };
            assert_eq!(status, l3l2q::Status::Ok);
            Ep::Ffi(h)
        } else {
            // SAFETY: the guarded memory outlives the endpoint.
            Ep::Rust(
                unsafe {
                    L2Endpoint::from_descriptor(&descriptor, &args, shape.window, shape.initial)
                }
                .expect("endpoint"),
            )
        }
    }

    /// See the method of the same name on L2Endpoint.
    pub fn record(&self) -> Option<ErrorInfo> {
        match self {
            Ep::Rust(ep) => ep.error().copied(),
            Ep::Ffi(h) => ffi_record(*h),
        }
    }

    /// See the method of the same name on L2Endpoint.
    pub fn peek(&mut self, timeout: Option<u64>) -> Result<Message, Error> {
        match self {
            Ep::Rust(ep) => lib("L2 peek", || match timeout {
                None => ep.try_peek(),
                Some(t) => ep.peek(t),
            }),
            Ep::Ffi(h) => {
                let h = *h;
                let mut m = Message::EMPTY;
                // SAFETY: live handle, writable out.
                let st = lib("l3l2q_l2_peek", || unsafe {
                    match timeout {
                        None => c::l3l2q_l2_try_peek(h, &mut m),
                        Some(t) => c::l3l2q_l2_peek(h, &mut m, t),
                    }
                });
                from_status("l2 peek", st, || ffi_kind(h)).map(|()| m)
            }
        }
    }

    /// See the method of the same name on L2Endpoint.
    pub fn peek_batch(&mut self, out: &mut [Message]) -> Result<usize, Error> {
        match self {
            Ep::Rust(ep) => lib("L2 try_peek_batch", || ep.try_peek_batch(out)),
            Ep::Ffi(h) => {
                let h = *h;
                let mut n = usize::MAX;
                // SAFETY: live handle, `out` writable for its length.
                let st = lib("l3l2q_l2_try_peek_batch", || unsafe {
                    c::l3l2q_l2_try_peek_batch(h, out.as_mut_ptr(), out.len(), &mut n)
                });
                from_status("l2 peek batch", st, || ffi_kind(h)).map(|()| n)
            }
        }
    }

    /// `try_consume`: each visited input and a copy of its payload bytes,
    /// taken while it was held.
    pub fn consume(
        &mut self,
        max: usize,
        seen: &mut Vec<(Message, Vec<u8>)>,
    ) -> Result<usize, Error> {
        match self {
            Ep::Rust(ep) => lib("L2 try_consume", || {
                ep.try_consume(max, |m, payload| seen.push((*m, payload.to_vec())))
            }),
            Ep::Ffi(h) => {
                let h = *h;
                unsafe extern "C" fn visit(ctx: *mut core::ffi::c_void, m: *const Message) {
                    // SAFETY: ctx is the `seen` vector below; `m` and its payload are valid during the call.
                    unsafe {
                        let m = &*m;
                        let bytes = if m.data.is_null() {
                            Vec::new()
                        } else {
                            core::slice::from_raw_parts(m.data, m.payload_nbytes as usize).to_vec()
                        };
                        (*ctx.cast::<Vec<(Message, Vec<u8>)>>()).push((*m, bytes));
                    }
                }
                let mut n = usize::MAX;
                let ctx = (seen as *mut Vec<(Message, Vec<u8>)>).cast();
                // SAFETY: live handle; `visit` only pushes to `seen`, which outlives the call.
                let st = lib("l3l2q_l2_try_consume", || unsafe {
                    c::l3l2q_l2_try_consume(h, max, Some(visit), ctx, &mut n)
                });
                from_status("l2 consume", st, || ffi_kind(h)).map(|()| n)
            }
        }
    }

    /// See the method of the same name on L2Endpoint.
    pub fn release(&mut self, ms: &[Message]) -> Result<(), Error> {
        match self {
            Ep::Rust(ep) if ms.len() == 1 => lib("L2 release", || ep.release(&ms[0])),
            Ep::Rust(ep) => lib("L2 release_batch", || ep.release_batch(ms)),
            Ep::Ffi(h) => {
                let h = *h;
                // SAFETY: live handle, readable messages.
                let st = lib("l3l2q_l2_release", || unsafe {
                    if ms.len() == 1 {
                        c::l3l2q_l2_release(h, &ms[0])
                    } else {
                        c::l3l2q_l2_release_batch(h, ms.as_ptr(), ms.len())
                    }
                });
                from_status("l2 release", st, || ffi_kind(h))
            }
        }
    }

    /// See the method of the same name on L2Endpoint.
    pub fn reserve(&mut self, n: u64, timeout: Option<u64>) -> Result<Reservation, Error> {
        match self {
            Ep::Rust(ep) => lib("L2 reserve", || match timeout {
                None => ep.try_reserve(n),
                Some(t) => ep.reserve(n, t),
            }),
            Ep::Ffi(h) => {
                let h = *h;
                let mut r = Reservation {
                    token: 0,
                    seq: 0,
                    payload_offset: 0,
                    capacity: 0,
                    data: core::ptr::null_mut(),
                };
                // SAFETY: live handle, writable out.
                let st = lib("l3l2q_l2_reserve", || unsafe {
                    match timeout {
                        None => c::l3l2q_l2_try_reserve(h, n, &mut r),
                        Some(t) => c::l3l2q_l2_reserve(h, n, &mut r, t),
                    }
                });
                from_status("l2 reserve", st, || ffi_kind(h)).map(|()| r)
            }
        }
    }

    /// The reservation's bytes, in place.
    /// The in-place bytes of a reservation (reserved_mut on the Rust API).
    pub fn reserved(&mut self, r: &Reservation) -> &mut [u8] {
        match self {
            Ep::Rust(ep) => ep.reserved_mut(r),
            // SAFETY: the harness checked `data` points at `capacity` bytes of the output arena.
            Ep::Ffi(_) if r.capacity > 0 => unsafe {
                core::slice::from_raw_parts_mut(r.data, r.capacity as usize)
            },
            Ep::Ffi(_) => &mut [],
        }
    }

    /// See the method of the same name on L2Endpoint.
    pub fn publish(
        &mut self,
        r: &Reservation,
        opcode: impl Into<u64>,
        n: u64,
        deferred: bool,
    ) -> Result<(), Error> {
        let opcode = opcode.into();
        match self {
            Ep::Rust(ep) => lib("L2 publish", || {
                if deferred {
                    ep.publish_deferred(r, named(opcode), n)
                } else {
                    ep.publish(r, named(opcode), n)
                }
            }),
            Ep::Ffi(h) => {
                let h = *h;
                // SAFETY: live handle, readable reservation.
                let st = lib("l3l2q_l2_publish", || unsafe {
                    if deferred {
                        c::l3l2q_l2_publish_deferred(h, r, opcode, n)
                    } else {
                        c::l3l2q_l2_publish(h, r, opcode, n)
                    }
                });
                from_status("l2 publish", st, || ffi_kind(h))
            }
        }
    }

    /// See the method of the same name on L2Endpoint.
    pub fn flush(&mut self) -> Result<(), Error> {
        match self {
            Ep::Rust(ep) => lib("L2 flush", || ep.flush()),
            Ep::Ffi(h) => {
                let h = *h;
                // SAFETY: live handle.
                let st = lib("l3l2q_l2_flush", || unsafe { c::l3l2q_l2_flush(h) });
                from_status("l2 flush", st, || ffi_kind(h))
            }
        }
    }

    /// See the method of the same name on L2Endpoint.
    pub fn send(&mut self, opcode: impl Into<u64>, payloads: &[Vec<u8>]) -> Result<usize, Error> {
        let opcode = opcode.into();
        match self {
            Ep::Rust(ep) if payloads.len() == 1 => lib("L2 try_send", || {
                ep.try_send(named(opcode), &payloads[0]).map(|()| 1)
            }),
            Ep::Rust(ep) => lib("L2 try_send_batch", || {
                ep.try_send_batch(named(opcode), payloads.iter().map(Vec::as_slice))
            }),
            Ep::Ffi(h) => {
                let h = *h;
                let slices: Vec<_> = payloads
                    .iter()
                    .map(|p| l3l2q::ffi::ByteSlice {
                        data: p.as_ptr(),
                        len: p.len(),
                    })
                    .collect();
                let mut n = usize::MAX;
                // SAFETY: live handle; every slice points at a live Vec.
                let st = lib("l3l2q_l2_try_send_batch", || unsafe {
                    c::l3l2q_l2_try_send_batch(h, opcode, slices.as_ptr(), slices.len(), &mut n)
                });
                from_status("l2 send batch", st, || ffi_kind(h)).map(|()| n)
            }
        }
    }

    /// See the method of the same name on L2Endpoint.
    pub fn drained(&mut self) -> bool {
        match self {
            Ep::Rust(ep) => lib("L2 drained", || ep.drained()),
            Ep::Ffi(h) => {
                let h = *h;
                let mut d = false;
                // SAFETY: live handle, writable out.
                let st = lib("l3l2q_l2_drained", || unsafe {
                    c::l3l2q_l2_drained(h, &mut d)
                });
                assert_eq!(st, l3l2q::Status::Ok);
                d
            }
        }
    }
}

impl Drop for Ep {
    fn drop(&mut self) {
        if let Ep::Ffi(h) = self {
            // SAFETY: the handle from create, freed once; valid also when poisoned.
            let st = unsafe { c::l3l2q_l2_endpoint_free(h) };
            assert_eq!(st, l3l2q::Status::Ok);
            assert!(h.is_null(), "free must null the handle");
        }
    }
}
