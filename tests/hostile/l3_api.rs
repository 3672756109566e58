//! The L3 queue as the hostile-peer harness drives it: one enum over the
//! Rust API and the C API (`l3l2q::ffi::l3`), so every call's result is
//! checked the same way whichever side of the C boundary it crossed.
//! Every call runs under harness::lib (a panic fails the test); a C status
//! is decoded by harness::from_status (STATUS_PANIC fails the test).

use l3l2q::ffi::ByteSlice;
use l3l2q::ffi::l3 as c;
use l3l2q::region::MappedRegion;
use l3l2q::{Error, ErrorInfo, ErrorKind, L3Queue, Message, QueueConfig, Reservation, Status};

use crate::guarded::Mem;
use crate::harness::{Shape, from_status, lib, named};

/// A reservation naming nothing (what a caller passes when it has none).
pub const NO_RESERVATION: Reservation = Reservation {
    token: 0,
    seq: 0,
    payload_offset: 0,
    capacity: 0,
    data: core::ptr::null_mut(),
};

/// The queue under test, through either API.
#[allow(clippy::large_enum_variant)] // one per episode, never moved in a loop
pub enum Q {
    /// The Rust API.
    Rust(L3Queue<MappedRegion>),
    /// The C API.
    Ffi(*mut c::L3QueueHandle),
}

fn ffi_record(h: *mut c::L3QueueHandle) -> Option<ErrorInfo> {
    let mut info = ErrorInfo::none();
    // SAFETY: a live handle and a writable record.
    assert_eq!(
        lib("l3l2q_l3_error", || unsafe {
            c::l3l2q_l3_error(h, &mut info)
        }),
        Status::Ok
    );
    (info.kind() != ErrorKind::None).then_some(info)
}

/// Runs a C call on the handle and decodes its status.
fn call(
    h: *mut c::L3QueueHandle,
    what: &str,
    f: impl FnOnce(*mut c::L3QueueHandle) -> Status,
) -> Result<(), Error> {
    let st = lib(what, || f(h));
    from_status(what, st, || {
        ffi_record(h).map_or(ErrorKind::None, |i| i.kind())
    })
}

// SAFETY (every `unsafe` C call below): `h` is a live handle and every
// pointer passed points at a live local or argument of the right size.
impl Q {
    /// A queue over `mem` (which it zeroes the counters of) for `shape`.
    pub fn open(mem: &Mem, shape: &Shape, region_id: u64, ffi: bool) -> Q {
        let l = shape.layout;
        let descriptor = mem.descriptor(region_id);
        if ffi {
            let config = c::L3Config {
                depth: l.depth,
                input_arena_bytes: l.input_arena_bytes,
                output_arena_bytes: l.output_arena_bytes,
                initial_count: shape.initial,
            };
            let mut h = core::ptr::null_mut();
            // SAFETY: valid pointers; the guarded memory outlives the handle (freed in Drop).
            assert_eq!(
                unsafe {
                    c::l3l2q_l3_queue_create_mapped(
                        &descriptor,
                        &config,
                        &mut h,
                        core::ptr::null_mut(),
                    )
                },
                Status::Ok
            );
            Q::Ffi(h)
        } else {
            // SAFETY: the guarded memory outlives the queue.
            let region = unsafe { MappedRegion::from_descriptor(&descriptor) }.expect("region");
            Q::Rust(
                L3Queue::create_at(
                    region,
                    &descriptor,
                    QueueConfig {
                        depth: l.depth,
                        input_arena_bytes: l.input_arena_bytes,
                        output_arena_bytes: l.output_arena_bytes,
                    },
                    shape.initial,
                )
                .expect("queue"),
            )
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn record(&self) -> Option<ErrorInfo> {
        match self {
            Q::Rust(q) => q.error().copied(),
            Q::Ffi(h) => ffi_record(*h),
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn send(
        &mut self,
        opcode: impl Into<u64>,
        p: &[u8],
        timeout: Option<u64>,
    ) -> Result<(), Error> {
        let opcode = opcode.into();
        match (self, timeout) {
            (Q::Rust(q), None) => lib("L3 try_send", || q.try_send(named(opcode), p)),
            (Q::Rust(q), Some(t)) => lib("L3 send", || q.send(named(opcode), p, t)),
            (Q::Ffi(h), None) => call(*h, "l3l2q_l3_try_enqueue", |h| unsafe {
                c::l3l2q_l3_try_enqueue(h, opcode, p.as_ptr(), p.len())
            }),
            (Q::Ffi(h), Some(t)) => call(*h, "l3l2q_l3_enqueue", |h| unsafe {
                c::l3l2q_l3_enqueue(h, opcode, p.as_ptr(), p.len(), t)
            }),
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn send_batch(&mut self, opcode: impl Into<u64>, ps: &[Vec<u8>]) -> Result<usize, Error> {
        let opcode = opcode.into();
        match self {
            Q::Rust(q) => lib("L3 try_send_batch", || {
                q.try_send_batch(named(opcode), ps.iter().map(Vec::as_slice))
            }),
            Q::Ffi(h) => {
                let slices: Vec<_> = ps
                    .iter()
                    .map(|p| ByteSlice {
                        data: p.as_ptr(),
                        len: p.len(),
                    })
                    .collect();
                let mut n = usize::MAX;
                call(*h, "l3l2q_l3_try_enqueue_batch", |h| unsafe {
                    c::l3l2q_l3_try_enqueue_batch(h, opcode, slices.as_ptr(), slices.len(), &mut n)
                })
                .map(|()| n)
            }
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn request_stop(&mut self, timeout: Option<u64>) -> Result<(), Error> {
        match (self, timeout) {
            (Q::Rust(q), None) => lib("L3 try_request_stop", || q.try_request_stop()),
            (Q::Rust(q), Some(t)) => lib("L3 request_stop", || q.request_stop(t)),
            (Q::Ffi(h), None) => call(*h, "l3l2q_l3_try_request_stop", |h| unsafe {
                c::l3l2q_l3_try_request_stop(h)
            }),
            (Q::Ffi(h), Some(t)) => call(*h, "l3l2q_l3_request_stop", |h| unsafe {
                c::l3l2q_l3_request_stop(h, t)
            }),
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn reserve(&mut self, n: u64) -> Result<Reservation, Error> {
        match self {
            Q::Rust(q) => lib("L3 try_reserve", || q.try_reserve(n)),
            Q::Ffi(h) => {
                let mut r = NO_RESERVATION;
                call(*h, "l3l2q_l3_try_reserve", |h| unsafe {
                    c::l3l2q_l3_try_reserve(h, n, &mut r)
                })
                .map(|()| r)
            }
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn write_reserved(&mut self, r: &Reservation, at: u64, src: &[u8]) -> Result<(), Error> {
        match self {
            Q::Rust(q) => lib("L3 write_reserved", || q.write_reserved(r, at, src)),
            Q::Ffi(h) => call(*h, "l3l2q_l3_write_reserved", |h| unsafe {
                c::l3l2q_l3_write_reserved(h, r, at, src.as_ptr(), src.len())
            }),
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn publish(
        &mut self,
        r: &Reservation,
        opcode: impl Into<u64>,
        n: u64,
        deferred: bool,
    ) -> Result<(), Error> {
        let opcode = opcode.into();
        match (self, deferred) {
            (Q::Rust(q), false) => lib("L3 publish", || q.publish(r, named(opcode), n)),
            (Q::Rust(q), true) => lib("L3 publish_deferred", || {
                q.publish_deferred(r, named(opcode), n)
            }),
            (Q::Ffi(h), false) => call(*h, "l3l2q_l3_commit", |h| unsafe {
                c::l3l2q_l3_commit(h, r, opcode, n)
            }),
            (Q::Ffi(h), true) => call(*h, "l3l2q_l3_commit_deferred", |h| unsafe {
                c::l3l2q_l3_commit_deferred(h, r, opcode, n)
            }),
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn flush(&mut self) -> Result<(), Error> {
        match self {
            Q::Rust(q) => lib("L3 flush", || q.flush()),
            Q::Ffi(h) => call(*h, "l3l2q_l3_flush", |h| unsafe { c::l3l2q_l3_flush(h) }),
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn peek(&mut self, timeout: Option<u64>) -> Result<Message, Error> {
        let mut m = Message::EMPTY;
        match (self, timeout) {
            (Q::Rust(q), None) => lib("L3 try_peek", || q.try_peek()),
            (Q::Rust(q), Some(t)) => lib("L3 peek", || q.peek(t)),
            (Q::Ffi(h), None) => call(*h, "l3l2q_l3_try_peek", |h| unsafe {
                c::l3l2q_l3_try_peek(h, &mut m)
            })
            .map(|()| m),
            (Q::Ffi(h), Some(t)) => call(*h, "l3l2q_l3_peek", |h| unsafe {
                c::l3l2q_l3_peek(h, &mut m, t)
            })
            .map(|()| m),
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn peek_batch(&mut self, out: &mut [Message]) -> Result<usize, Error> {
        match self {
            Q::Rust(q) => lib("L3 try_peek_batch", || q.try_peek_batch(out)),
            Q::Ffi(h) => {
                let mut n = usize::MAX;
                call(*h, "l3l2q_l3_try_peek_batch", |h| unsafe {
                    c::l3l2q_l3_try_peek_batch(h, out.as_mut_ptr(), out.len(), &mut n)
                })
                .map(|()| n)
            }
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn read_into(&mut self, m: &Message, dst: &mut [u8]) -> Result<usize, Error> {
        match self {
            Q::Rust(q) => lib("L3 read_into", || q.read_into(m, dst)),
            Q::Ffi(h) => {
                let mut n = usize::MAX;
                call(*h, "l3l2q_l3_read_into", |h| unsafe {
                    c::l3l2q_l3_read_into(h, m, dst.as_mut_ptr(), dst.len(), &mut n)
                })
                .map(|()| n)
            }
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn release(&mut self, ms: &[Message]) -> Result<(), Error> {
        match self {
            Q::Rust(q) if ms.len() == 1 => lib("L3 release", || q.release(&ms[0])),
            Q::Rust(q) => lib("L3 release_batch", || q.release_batch(ms)),
            Q::Ffi(h) if ms.len() == 1 => call(*h, "l3l2q_l3_release", |h| unsafe {
                c::l3l2q_l3_release(h, &ms[0])
            }),
            Q::Ffi(h) => call(*h, "l3l2q_l3_release_batch", |h| unsafe {
                c::l3l2q_l3_release_batch(h, ms.as_ptr(), ms.len())
            }),
        }
    }

    /// See the method of the same name on L3Queue.
    pub fn dequeue(&mut self, dst: &mut [u8], timeout: Option<u64>) -> Result<(u64, usize), Error> {
        let (mut op, mut n) = (u64::MAX, usize::MAX);
        match (self, timeout) {
            (Q::Rust(q), None) => {
                lib("L3 try_dequeue_into", || q.try_dequeue_into(dst)).map(|(op, n)| (op.into(), n))
            }
            (Q::Rust(q), Some(t)) => {
                lib("L3 dequeue_into", || q.dequeue_into(dst, t)).map(|(op, n)| (op.into(), n))
            }
            (Q::Ffi(h), None) => call(*h, "l3l2q_l3_try_dequeue_into", |h| unsafe {
                c::l3l2q_l3_try_dequeue_into(h, dst.as_mut_ptr(), dst.len(), &mut op, &mut n)
            })
            .map(|()| (op, n)),
            (Q::Ffi(h), Some(t)) => call(*h, "l3l2q_l3_dequeue_into", |h| unsafe {
                c::l3l2q_l3_dequeue_into(h, dst.as_mut_ptr(), dst.len(), &mut op, &mut n, t)
            })
            .map(|()| (op, n)),
        }
    }
}

impl Drop for Q {
    fn drop(&mut self) {
        if let Q::Ffi(h) = self {
            // SAFETY: the handle from create, freed once; valid also when poisoned.
            assert_eq!(unsafe { c::l3l2q_l3_queue_free(h) }, Status::Ok);
            assert!(h.is_null(), "free must null the handle");
        }
    }
}
