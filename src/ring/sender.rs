//! The producing end as both L2 output and L3 input use it: a [`Producer`]
//! plus the one-at-a-time reservation rules of SPEC section 7 (grants in
//! the bbqueue sense: reserve, fill, publish possibly fewer bytes).

use super::{Placement, Producer};
use crate::abi::*;
use crate::error::{Error, ErrorKind, Operation, Poison};
use crate::region::Region;

/// Space reserved in an arena, to be filled and then published.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a reservation blocks further reserves until it is published"]
pub struct Reservation {
    /// Identifies this reservation; pass it back unaltered.
    pub token: u64,
    /// The transport sequence number the message will be published with
    /// (message number + 1), as its slot's `seq` will carry it.
    pub seq: u64,
    /// Payload offset relative to the payload base (0 when empty).
    pub payload_offset: u64,
    /// Bytes reserved.
    pub capacity: u64,
    /// Where to write the payload in place; null when `capacity` is 0 or
    /// the region is not directly mapped.
    pub data: *mut u8,
}

impl Reservation {
    /// The transport sequence number the message will be published with.
    pub const fn seq(&self) -> u64 {
        self.seq
    }
}

#[derive(Debug, Clone, Copy)]
struct Active {
    placement: Placement,
    token: u64,
}

/// A producer with at most one outstanding reservation.
#[derive(Debug)]
pub struct Sender {
    producer: Producer,
    active: Option<Active>,
    next_token: u64,
}

impl Sender {
    /// Wraps a producer.
    pub fn new(producer: Producer) -> Sender {
        Sender {
            producer,
            active: None,
            next_token: 1,
        }
    }

    /// Reserves `nbytes` without waiting.
    ///
    /// # Errors
    /// [`Error::NoProgress`] when there is no room (or `nbytes` exceeds
    /// the arena); [`Error::Poisoned`] for a second active reservation or a
    /// breach seen while refreshing; [`Error::CallbackFailed`] on a failed read.
    #[inline(always)]
    pub fn try_reserve<R: Region + ?Sized>(
        &mut self,
        region: &R,
        poison: &mut Poison,
        nbytes: u64,
    ) -> Result<Reservation, Error> {
        poison.check()?;
        if self.active.is_some() {
            return Err(poison.enter(
                region,
                ErrorKind::Ownership,
                Operation::Reserve,
                format_args!("second reserve while a reservation is active"),
            ));
        }
        let placement = self.place(region, poison, nbytes, Operation::Reserve)?;
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        self.active = Some(Active { placement, token });
        let payload_offset = self.producer.payload_offset(&placement);
        let data = if nbytes == 0 {
            core::ptr::null_mut()
        } else {
            region
                .payload_ptr(payload_offset, nbytes)
                .map_or(core::ptr::null_mut(), |p| p.as_ptr())
        };
        Ok(Reservation {
            token,
            seq: placement.index.wrapping_add(1),
            payload_offset,
            capacity: nbytes,
            data,
        })
    }

    /// Finds room for `n` bytes. When there is none, messages published
    /// with `announce == false` are not visible yet, so the consumer could
    /// never free space for them: the tail is stored now, so a caller that
    /// waits for room instead of flushing cannot deadlock.
    #[inline(always)]
    fn place<R: Region + ?Sized>(
        &mut self,
        region: &R,
        poison: &mut Poison,
        n: u64,
        operation: Operation,
    ) -> Result<Placement, Error> {
        match self.producer.try_place(region, n) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => {
                if self.producer.pending() {
                    self.flush(region, poison)?;
                }
                Err(Error::NoProgress)
            }
            Err(e) => Err(poison.from_ring(region, operation, e)),
        }
    }

    /// Whether `reservation` is the active one, unaltered.
    pub fn is_active(&self, reservation: &Reservation) -> bool {
        self.active.is_some_and(|active| {
            active.token == reservation.token
                && active.placement.index.wrapping_add(1) == reservation.seq
                && active.placement.capacity == reservation.capacity
                && self.producer.payload_offset(&active.placement) == reservation.payload_offset
        })
    }

    fn check<R: Region + ?Sized>(
        &self,
        region: &R,
        poison: &mut Poison,
        reservation: &Reservation,
        operation: Operation,
    ) -> Result<Placement, Error> {
        match self.active {
            Some(active) if self.is_active(reservation) => Ok(active.placement),
            _ => Err(poison.enter(
                region,
                ErrorKind::Ownership,
                operation,
                format_args!(
                    "unknown, stale or altered reservation (token {})",
                    reservation.token
                ),
            )),
        }
    }

    /// Copies `src` into the active reservation at byte `at`.
    ///
    /// # Errors
    /// [`Error::BadArgument`] when it does not fit the reservation;
    /// [`Error::Poisoned`] when the reservation is not the active one or
    /// the write fails (shared bytes may be half-written).
    pub fn write<R: Region + ?Sized>(
        &mut self,
        region: &R,
        poison: &mut Poison,
        reservation: &Reservation,
        at: u64,
        src: &[u8],
    ) -> Result<(), Error> {
        poison.check()?;
        let _placement = self.check(region, poison, reservation, Operation::Publish)?;
        match at.checked_add(src.len() as u64) {
            Some(end) if end <= reservation.capacity => {}
            _ => return Err(Error::BadArgument),
        }
        region
            .write_payload(reservation.payload_offset + at, src)
            .map_err(|_| {
                poison.enter(
                    region,
                    ErrorKind::EndpointError,
                    Operation::Publish,
                    format_args!("payload write failed"),
                )
            })
    }

    /// Publishes the active reservation with `nbytes <= capacity` and a
    /// DATA or ERROR opcode, returning unused bytes to the arena (a wrapped
    /// reservation whose `nbytes` fit before the wrap moves back there,
    /// see `Producer::commit`). With `announce` false the tail store is
    /// deferred to [`Sender::flush`].
    ///
    /// # Errors
    /// [`Error::BadArgument`] when `nbytes` exceeds the capacity (the
    /// reservation stays active); [`Error::Poisoned`] for an unknown, stale
    /// or altered reservation (OWNERSHIP), STOP or an invalid opcode
    /// (INVALID_DESCRIPTOR), or a failed shared write.
    #[inline(always)]
    pub fn publish<R: Region + ?Sized>(
        &mut self,
        region: &R,
        poison: &mut Poison,
        reservation: &Reservation,
        opcode: u64,
        nbytes: u64,
        announce: bool,
    ) -> Result<(), Error> {
        poison.check()?;
        let placement = self.check(region, poison, reservation, Operation::Publish)?;
        if opcode != L3L2Q_OPCODE_DATA && opcode != L3L2Q_OPCODE_ERROR {
            return Err(Self::bad_opcode(region, poison, opcode));
        }
        if nbytes > placement.capacity {
            return Err(Error::BadArgument);
        }
        region.flush_written(reservation.payload_offset, nbytes);
        self.active = None;
        self.commit(
            region,
            poison,
            &placement,
            opcode,
            Some(nbytes),
            announce,
            Operation::Publish,
        )
    }

    #[cold]
    fn bad_opcode<R: Region + ?Sized>(region: &R, poison: &mut Poison, opcode: u64) -> Error {
        poison.enter(
            region,
            ErrorKind::InvalidDescriptor,
            Operation::Publish,
            format_args!("publish with opcode {opcode}: only DATA and ERROR are messages"),
        )
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn commit<R: Region + ?Sized>(
        &mut self,
        region: &R,
        poison: &mut Poison,
        placement: &Placement,
        opcode: u64,
        nbytes: Option<u64>,
        announce: bool,
        operation: Operation,
    ) -> Result<(), Error> {
        // The copy paths always fill the whole placement (`None`): only a published reservation can be shrunk.
        let mut result = match nbytes {
            Some(n) => self.producer.commit(region, placement, opcode, n),
            None => self.producer.commit_full(region, placement, opcode),
        };
        if announce {
            result = result.and_then(|()| self.producer.announce(region));
        }
        result.map_err(|e| poison.from_ring(region, operation, e))
    }

    /// Copies `payload` into a fresh placement and publishes it (the copy
    /// form of reserve + publish).
    ///
    /// # Errors
    /// As [`Sender::try_reserve`] and [`Sender::publish`].
    #[inline(always)]
    pub fn try_send<R: Region + ?Sized>(
        &mut self,
        region: &R,
        poison: &mut Poison,
        opcode: u64,
        payload: &[u8],
        announce: bool,
    ) -> Result<(), Error> {
        self.try_send_opcode::<R, true>(region, poison, opcode, payload, announce)
    }

    /// [`Sender::try_send`] for a caller that has already refused every
    /// opcode other than DATA and ERROR (`CHECK_OPCODE == false`): the
    /// second check, on a value the C API cannot fold, cost
    /// `l3l2q_l3_try_enqueue` 12 instructions and a store per message.
    #[inline(always)]
    pub fn try_send_opcode<R: Region + ?Sized, const CHECK_OPCODE: bool>(
        &mut self,
        region: &R,
        poison: &mut Poison,
        opcode: u64,
        payload: &[u8],
        announce: bool,
    ) -> Result<(), Error> {
        poison.check()?;
        if self.active.is_some() {
            // The same ownership error as a second reserve.
            return self
                .try_reserve(region, poison, payload.len() as u64)
                .map(|_| ());
        }
        self.send_checked::<R, CHECK_OPCODE>(region, poison, opcode, payload, announce)
    }

    /// [`Sender::try_send`] once the endpoint is known healthy and no
    /// reservation is active: the direct form of reserve + write +
    /// publish. No reservation escapes, so no token or active-reservation
    /// bookkeeping. `CHECK_OPCODE == false` only for the rest of a batch
    /// whose first send checked the same `opcode`: the per-message
    /// re-check, from a value the C API cannot fold, cost the C batch send
    /// 15 instructions and 2 stores per message (register pressure).
    #[inline(always)]
    fn send_checked<R: Region + ?Sized, const CHECK_OPCODE: bool>(
        &mut self,
        region: &R,
        poison: &mut Poison,
        opcode: u64,
        payload: &[u8],
        announce: bool,
    ) -> Result<(), Error> {
        let n = payload.len() as u64;
        let placement = self.place(region, poison, n, Operation::Enqueue)?;
        if CHECK_OPCODE && opcode != L3L2Q_OPCODE_DATA && opcode != L3L2Q_OPCODE_ERROR {
            return Err(Self::bad_opcode(region, poison, opcode));
        }
        if n != 0 {
            // write_payload makes the bytes visible (cache clean) itself.
            let offset = self.producer.payload_offset(&placement);
            if region.write_payload(offset, payload).is_err() {
                return Err(poison.enter(
                    region,
                    ErrorKind::EndpointError,
                    Operation::Enqueue,
                    format_args!("payload write failed"),
                ));
            }
        }
        self.commit(
            region,
            poison,
            &placement,
            opcode,
            None,
            announce,
            Operation::Enqueue,
        )
    }

    /// Copies each payload into a fresh placement and publishes them all
    /// with one tail store (the batch form of [`Sender::try_send`]).
    /// Stops at the first payload that does not fit now, or that `accept`
    /// rejects, and returns how many were published; the rest are untouched.
    ///
    /// # Errors
    /// Only when nothing was published: [`Error::NoProgress`] when the
    /// first payload does not fit, `accept`'s error for it, or the errors of
    /// [`Sender::try_send`]. A failure after some messages were published
    /// stores the tail for them and reports their count (a failure that
    /// poisoned is reported as the error); the failure recurs on the next call.
    pub fn try_send_batch<'a, R, I>(
        &mut self,
        region: &R,
        poison: &mut Poison,
        opcode: u64,
        payloads: I,
        accept: impl Fn(&[u8]) -> Result<(), Error>,
    ) -> Result<usize, Error>
    where
        R: Region + ?Sized,
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut payloads = payloads.into_iter();
        let mut sent = 0usize;
        let mut failure = None;
        // The first send checks poison, the reservation state and the opcode; none can change while sends
        // succeed, so the loop for the rest has only the direct send in it.
        if let Some(first) = payloads.next() {
            match accept(first).and_then(|()| self.try_send(region, poison, opcode, first, false)) {
                Ok(()) => sent = 1,
                Err(e) => failure = Some(e),
            }
        }
        if failure.is_none() && sent == 1 {
            for payload in payloads {
                let result = accept(payload).and_then(|()| {
                    self.send_checked::<R, false>(region, poison, opcode, payload, false)
                });
                if let Err(e) = result {
                    failure = Some(e);
                    break;
                }
                sent += 1;
            }
        }
        if sent > 0 {
            self.flush(region, poison)?;
        }
        match failure {
            Some(e) if sent == 0 || poison.check().is_err() => Err(e),
            _ => Ok(sent),
        }
    }

    /// Publishes a zero-byte STOP (input ring only; the caller ensures that).
    ///
    /// # Errors
    /// [`Error::NoProgress`] when the ring is full; as [`Sender::publish`].
    pub fn try_send_stop<R: Region + ?Sized>(
        &mut self,
        region: &R,
        poison: &mut Poison,
    ) -> Result<(), Error> {
        poison.check()?;
        if self.active.is_some() {
            // STOP must be the last input; the caller still owes a commit.
            return Err(Error::BadArgument);
        }
        let placement = self.place(region, poison, 0, Operation::RequestStop)?;
        self.commit(
            region,
            poison,
            &placement,
            L3L2Q_OPCODE_STOP,
            None,
            true,
            Operation::RequestStop,
        )
    }

    /// Stores the tail once for every message published with
    /// `announce == false`.
    ///
    /// # Errors
    /// [`Error::Poisoned`] when the store fails.
    pub fn flush<R: Region + ?Sized>(
        &mut self,
        region: &R,
        poison: &mut Poison,
    ) -> Result<(), Error> {
        poison.check()?;
        self.producer
            .announce(region)
            .map_err(|e| poison.from_ring(region, Operation::Publish, e))
    }
}
