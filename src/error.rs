//! Error kinds (SPEC section 9), the status codes of the C API, and the
//! poison record an endpoint keeps once it has failed.

use core::fmt::{self, Write};

/// Error kinds of SPEC section 9, with their wire numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No error.
    None = 0,
    /// A caller passed an invalid argument.
    BadArgument = 1,
    /// A region descriptor or queue arguments broke a rule.
    BadDescriptor = 2,
    /// A descriptor slot or counter read from shared memory is invalid
    /// (an impossible counter observation included), or a message followed
    /// STOP.
    InvalidDescriptor = 3,
    /// Part of the shared numbering (SPEC section 9); this library records
    /// no error of this kind (running out of room is no-progress).
    OutOfSpace = 4,
    /// A handle or reservation was used out of turn.
    Ownership = 5,
    /// The peer set its abort flag.
    RemoteAborted = 6,
    /// A payload or counter operation failed after shared mutation began.
    EndpointError = 7,
}

/// Result of every fallible C API call. `OK` is 0; every failure has its
/// own value. Callers compare against the constants, never assume a range.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The call did what it was asked.
    Ok = 0,
    /// Nothing to do now: ring or arena full, queue empty, window full.
    NoProgress = 1,
    /// A blocking call ran out of time and the peer's abort flag is clear.
    Timeout = 2,
    /// STOP was published; this input side takes no further messages.
    Stopped = 3,
    /// A null pointer, a bad size or a bad value; nothing was changed.
    BadArgument = 10,
    /// The destination buffer is smaller than the message; nothing changed.
    BufferTooSmall = 11,
    /// The region descriptor or queue arguments break a rule.
    BadDescriptor = 12,
    /// A copy callback failed before any shared state changed.
    CallbackFailed = 13,
    /// A value is inconsistent with the protocol (a pure check failed).
    Inconsistent = 14,
    /// The handle is poisoned; the error record says why.
    Poisoned = 20,
    /// The peer has set its abort flag (seen when a blocking call timed
    /// out, or by the remote-abort query). Terminal: recorded as
    /// REMOTE_ABORTED, and every later queue call returns this status.
    RemoteAborted = 21,
    /// A panic was caught at the C boundary; the handle must not be used.
    Panic = 30,
    /// A shared-memory object of that name already exists (possibly stale
    /// from a crashed run); nothing was created.
    Exists = 40,
    /// No shared-memory object of that name exists.
    NotFound = 41,
    /// A system call failed; the call's `errno` is reported alongside.
    SystemError = 42,
}

impl Status {
    /// Static, NUL-terminated English text for a status.
    pub const fn describe(self) -> &'static str {
        match self {
            Status::Ok => "ok\0",
            Status::NoProgress => "no progress (queue empty or full, window full)\0",
            Status::Timeout => "timed out\0",
            Status::Stopped => "input side stopped\0",
            Status::BadArgument => "bad argument\0",
            Status::BufferTooSmall => "buffer too small\0",
            Status::BadDescriptor => "bad region descriptor or queue arguments\0",
            Status::CallbackFailed => "copy callback failed before shared state changed\0",
            Status::Inconsistent => "value inconsistent with the protocol\0",
            Status::Poisoned => "endpoint poisoned\0",
            Status::RemoteAborted => "peer aborted\0",
            Status::Panic => "internal panic caught at the C boundary\0",
            Status::Exists => "shared-memory name already exists\0",
            Status::NotFound => "no shared-memory object of that name\0",
            Status::SystemError => "system call failed\0",
        }
    }
}

/// The operation an error happened in, for diagnostics.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// No operation recorded.
    Unknown = 0,
    /// Creating an endpoint or queue.
    Create = 1,
    /// Acquiring the next message (try or blocking).
    Peek = 2,
    /// Releasing a message or handle.
    Release = 3,
    /// Reserving output or input space.
    Reserve = 4,
    /// Publishing a reservation.
    Publish = 5,
    /// Enqueueing a copied message.
    Enqueue = 6,
    /// Publishing STOP.
    RequestStop = 7,
    /// Copying a payload out.
    ReadInto = 8,
    /// Observing the peer's abort flag: when a blocking call ran out of
    /// time, or through the remote-abort query.
    Timeout = 9,
}

impl Operation {
    /// Static NUL-terminated name.
    pub const fn name(self) -> &'static str {
        match self {
            Operation::Unknown => "unknown\0",
            Operation::Create => "create\0",
            Operation::Peek => "peek\0",
            Operation::Release => "release\0",
            Operation::Reserve => "reserve\0",
            Operation::Publish => "publish\0",
            Operation::Enqueue => "enqueue\0",
            Operation::RequestStop => "request_stop\0",
            Operation::ReadInto => "read_into\0",
            Operation::Timeout => "timeout\0",
        }
    }

    /// The operation with wire number `code`, if any.
    pub const fn from_code(code: u32) -> Option<Operation> {
        Some(match code {
            0 => Operation::Unknown,
            1 => Operation::Create,
            2 => Operation::Peek,
            3 => Operation::Release,
            4 => Operation::Reserve,
            5 => Operation::Publish,
            6 => Operation::Enqueue,
            7 => Operation::RequestStop,
            8 => Operation::ReadInto,
            9 => Operation::Timeout,
            _ => return None,
        })
    }
}

/// Why a call failed, as Rust callers see it. Small and `Copy` so hot-path
/// results stay cheap; the full poison record lives in the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Nothing to do now (not an error in the protocol sense).
    NoProgress,
    /// A blocking call ran out of time; the peer's abort flag was clear.
    Timeout,
    /// The input side is stopped.
    Stopped,
    /// A caller error; nothing changed.
    BadArgument,
    /// The destination is smaller than the message; nothing changed.
    BufferTooSmall,
    /// Creation rejected the descriptor or arguments.
    BadDescriptor(crate::layout::Violation),
    /// A copy callback failed before shared state changed.
    CallbackFailed,
    /// The endpoint is poisoned with this kind.
    Poisoned(ErrorKind),
    /// The peer's abort flag is set; terminal, like poison.
    RemoteAborted,
}

impl Error {
    /// The C status for this error.
    pub const fn status(self) -> Status {
        match self {
            Error::NoProgress => Status::NoProgress,
            Error::Timeout => Status::Timeout,
            Error::Stopped => Status::Stopped,
            Error::BadArgument => Status::BadArgument,
            Error::BufferTooSmall => Status::BufferTooSmall,
            Error::BadDescriptor(_) => Status::BadDescriptor,
            Error::CallbackFailed => Status::CallbackFailed,
            Error::Poisoned(_) => Status::Poisoned,
            Error::RemoteAborted => Status::RemoteAborted,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadDescriptor(v) => write!(f, "bad descriptor: {}", v.describe()),
            Error::Poisoned(kind) => write!(f, "poisoned ({kind:?})"),
            other => f.write_str(other.status().describe().trim_end_matches('\0')),
        }
    }
}

impl std::error::Error for Error {}

/// Capacity of an error message, including its NUL terminator.
pub const L3L2Q_ERROR_MESSAGE_BYTES: usize = 160;

/// A recorded error: kind, operation, region and a human-readable message.
/// Fixed-size so recording one never allocates (the L2 path has no heap).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ErrorInfo {
    /// One of the `ErrorKind` values.
    pub kind: u32,
    /// One of the `Operation` values.
    pub operation: u32,
    /// The region the error happened on.
    pub region_id: u64,
    /// NUL-terminated UTF-8 text.
    pub message: [u8; L3L2Q_ERROR_MESSAGE_BYTES],
}

impl ErrorInfo {
    /// An empty record (kind NONE).
    pub const fn none() -> ErrorInfo {
        ErrorInfo {
            kind: ErrorKind::None as u32,
            operation: 0,
            region_id: 0,
            message: [0; L3L2Q_ERROR_MESSAGE_BYTES],
        }
    }

    /// Builds a record; text past the capacity is cut at a char boundary.
    pub fn new(
        kind: ErrorKind,
        operation: Operation,
        region_id: u64,
        args: fmt::Arguments<'_>,
    ) -> ErrorInfo {
        let mut info = ErrorInfo {
            kind: kind as u32,
            operation: operation as u32,
            region_id,
            ..ErrorInfo::none()
        };
        let mut cursor = MessageWriter {
            buf: &mut info.message,
            len: 0,
        };
        // A formatting error only means the text was cut; the record stays valid.
        let _ = cursor.write_fmt(args);
        info
    }

    /// The message as text.
    pub fn message(&self) -> &str {
        let len = self
            .message
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.message.len());
        core::str::from_utf8(&self.message[..len]).unwrap_or("")
    }

    /// What every queue call reports once this is recorded: REMOTE_ABORTED
    /// for a remote abort, poison with the kind otherwise.
    pub fn error(&self) -> Error {
        match self.kind() {
            ErrorKind::RemoteAborted => Error::RemoteAborted,
            kind => Error::Poisoned(kind),
        }
    }

    /// The kind, decoded.
    pub fn kind(&self) -> ErrorKind {
        match self.kind {
            1 => ErrorKind::BadArgument,
            2 => ErrorKind::BadDescriptor,
            3 => ErrorKind::InvalidDescriptor,
            4 => ErrorKind::OutOfSpace,
            5 => ErrorKind::Ownership,
            6 => ErrorKind::RemoteAborted,
            7 => ErrorKind::EndpointError,
            _ => ErrorKind::None,
        }
    }
}

impl fmt::Debug for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorInfo")
            .field("kind", &self.kind())
            .field("operation", &self.operation)
            .field("region_id", &self.region_id)
            .field("message", &self.message())
            .finish()
    }
}

struct MessageWriter<'a> {
    buf: &'a mut [u8; L3L2Q_ERROR_MESSAGE_BYTES],
    len: usize,
}

impl Write for MessageWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_cut_at_capacity_and_stays_terminated() {
        let long = "é".repeat(200);
        let info = ErrorInfo::new(
            ErrorKind::Ownership,
            Operation::Release,
            9,
            format_args!("{long}"),
        );
        assert_eq!(info.message[L3L2Q_ERROR_MESSAGE_BYTES - 1], 0);
        assert!(info.message().len() < L3L2Q_ERROR_MESSAGE_BYTES);
        assert!(info.message().chars().all(|c| c == 'é'));
        assert_eq!(info.kind(), ErrorKind::Ownership);
    }

    #[test]
    fn every_status_text_is_nul_terminated() {
        for s in [
            Status::Ok,
            Status::NoProgress,
            Status::Timeout,
            Status::Stopped,
            Status::BadArgument,
            Status::BufferTooSmall,
            Status::BadDescriptor,
            Status::CallbackFailed,
            Status::Inconsistent,
            Status::Poisoned,
            Status::RemoteAborted,
            Status::Panic,
            Status::Exists,
            Status::NotFound,
            Status::SystemError,
        ] {
            assert!(s.describe().ends_with('\0'));
        }
    }
}

/// The failure state of one endpoint: empty while healthy; once poisoned
/// or remotely aborted, the first error is kept and every later operation
/// fails fast with it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Poison {
    record: Option<ErrorInfo>,
    region_id: u64,
    own_flag: u64,
    peer_flag: u64,
}

impl Poison {
    /// A healthy state for an endpoint that writes `own_flag` and watches
    /// `peer_flag` (counter offsets).
    pub fn new(region_id: u64, own_flag: u64, peer_flag: u64) -> Poison {
        Poison {
            record: None,
            region_id,
            own_flag,
            peer_flag,
        }
    }

    /// The recorded error, if poisoned or remotely aborted.
    pub fn record(&self) -> Option<&ErrorInfo> {
        self.record.as_ref()
    }

    /// Fails fast once an error is recorded.
    ///
    /// # Errors
    /// [`Error::Poisoned`] with the recorded kind, or
    /// [`Error::RemoteAborted`] after a remote abort.
    #[inline]
    pub fn check(&self) -> Result<(), Error> {
        match &self.record {
            None => Ok(()),
            Some(info) => Err(info.error()),
        }
    }

    /// Enters poison: records the error and raises our abort flag for the
    /// peer. Only the first error is kept. Setting the flag is best effort:
    /// the endpoint is poisoned whether or not the store succeeds.
    // Error paths: kept out of line so they do not weigh on the hot paths they end.
    #[cold]
    #[inline(never)]
    pub fn enter<R: crate::region::Region + ?Sized>(
        &mut self,
        region: &R,
        kind: ErrorKind,
        operation: Operation,
        args: fmt::Arguments<'_>,
    ) -> Error {
        if self.record.is_none() {
            self.record = Some(ErrorInfo::new(kind, operation, self.region_id, args));
            let _ = region.store_counter(self.own_flag, 1);
        }
        self.record
            .as_ref()
            .map_or(Error::Poisoned(kind), ErrorInfo::error)
    }

    /// Turns a core failure into the caller's error: a failed read (nothing
    /// shared changed yet) is reported without poison; a failed write or a
    /// protocol breach poisons.
    // Error paths: kept out of line so they do not weigh on the hot paths they end.
    #[cold]
    #[inline(never)]
    // Not a conversion: it records the ring error in this state (the name reads "error from ring").
    #[allow(clippy::wrong_self_convention)]
    pub fn from_ring<R: crate::region::Region + ?Sized>(
        &mut self,
        region: &R,
        operation: Operation,
        error: crate::ring::RingError,
    ) -> Error {
        use crate::region::Fault;
        use crate::ring::RingError;
        match error {
            RingError::Memory(Fault::Read) => Error::CallbackFailed,
            RingError::Memory(Fault::Write) => self.enter(
                region,
                ErrorKind::EndpointError,
                operation,
                format_args!("shared payload or counter write failed"),
            ),
            RingError::Breach(b) => self.enter(
                region,
                b.kind,
                operation,
                format_args!("{} (message {}, value {:#x})", b.what, b.index, b.seen),
            ),
        }
    }

    /// Records that the peer aborted (SPEC section 9), unless an error is
    /// already recorded: terminal like poison, but our own abort flag is
    /// left alone (the peer knows; shared memory is not written).
    #[cold]
    #[inline(never)]
    fn remote_abort(&mut self) -> Error {
        if self.record.is_none() {
            self.record = Some(ErrorInfo::new(
                ErrorKind::RemoteAborted,
                Operation::Timeout,
                self.region_id,
                format_args!(
                    "remote abort: the peer set its abort flag (counter offset {})",
                    self.peer_flag
                ),
            ));
        }
        self.record
            .as_ref()
            .map_or(Error::RemoteAborted, ErrorInfo::error)
    }

    /// What a blocking call that ran out of time reports: REMOTE_ABORTED,
    /// recorded so that every later call fails fast with it, when the
    /// peer's flag is set; TIMEOUT otherwise (also when the flag cannot be
    /// read).
    pub fn after_timeout<R: crate::region::Region + ?Sized>(&mut self, region: &R) -> Error {
        match region.load_counter(self.peer_flag) {
            Ok(flag) if flag != 0 => self.remote_abort(),
            _ => Error::Timeout,
        }
    }

    /// Passes a blocking call's result through, sampling the peer's abort
    /// flag when it timed out.
    ///
    /// # Errors
    /// `result`'s error, with [`Error::Timeout`] possibly turned into
    /// [`Error::RemoteAborted`].
    pub fn on_wait_result<T, R: crate::region::Region + ?Sized>(
        &mut self,
        region: &R,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        match result {
            Err(Error::Timeout) => Err(self.after_timeout(region)),
            other => other,
        }
    }

    /// The remote-abort query: whether the peer's abort flag is set. It
    /// only reads shared memory; while the flag is clear it changes
    /// nothing, and when it is set it records the remote abort as
    /// [`Poison::after_timeout`] does.
    ///
    /// # Errors
    /// [`Error::CallbackFailed`] when the flag cannot be read (nothing
    /// changed).
    pub fn query_remote_abort<R: crate::region::Region + ?Sized>(
        &mut self,
        region: &R,
    ) -> Result<bool, Error> {
        match region.load_counter(self.peer_flag) {
            Ok(0) => Ok(false),
            Ok(_) => {
                self.remote_abort();
                Ok(true)
            }
            Err(_) => Err(Error::CallbackFailed),
        }
    }

    /// Whether the peer's abort flag is set now; records nothing.
    pub fn peer_aborted<R: crate::region::Region + ?Sized>(&self, region: &R) -> bool {
        matches!(region.load_counter(self.peer_flag), Ok(flag) if flag != 0)
    }
}
