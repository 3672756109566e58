"""Exceptions raised for the C API's status codes.

Every exception derives from :class:`L3L2QError` and from the built-in a
caller would expect (``TimeoutError``, ``ValueError``, ``RuntimeError``,
``OSError``), so code written against plain built-ins keeps working.
"""

from __future__ import annotations

from typing import Optional

from ._ffi import CData, c_string, lib


def status_str(status: int) -> str:
    return c_string(lib.l3l2q_status_str(status))


def error_kind_str(kind: int) -> str:
    return c_string(lib.l3l2q_error_kind_str(kind))


def operation_str(operation: int) -> str:
    return c_string(lib.l3l2q_operation_str(operation))


def violation_str(violation: int) -> str:
    return c_string(lib.l3l2q_violation_str(violation))


class L3L2QError(Exception):
    """A call failed; ``status`` is the C status code."""

    status: int

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class QueueTimeout(L3L2QError, TimeoutError):
    """A blocking call ran out of time and the peer's abort flag is clear."""


class NoProgress(L3L2QError, BlockingIOError):
    """Nothing could be done now (full or empty); only raised where a call
    has no boolean form."""


class BadArgument(L3L2QError, ValueError):
    """An argument the library refused; nothing was changed."""


class BufferTooSmall(BadArgument):
    """The destination is smaller than the message; the message stays held."""


class BadDescriptor(L3L2QError, ValueError):
    """A region descriptor, queue arguments or layout request breaks a rule;
    ``violation`` names it."""

    violation: int

    def __init__(self, message: str, status: int, violation: int) -> None:
        super().__init__(message, status)
        self.violation = violation


class Stopped(L3L2QError, RuntimeError):
    """STOP was published; the input side takes no further messages."""


class QueueClosed(L3L2QError, RuntimeError):
    """The queue or endpoint was closed (freed); no call is possible."""

    def __init__(self, what: str = "queue") -> None:
        super().__init__(f"the {what} is closed", lib.L3L2Q_STATUS_BAD_ARGUMENT)


class CallbackFailed(L3L2QError, RuntimeError):
    """A region callback failed before any shared state changed."""


class EndpointFailed(L3L2QError, RuntimeError):
    """The handle recorded an error and refuses every further call.

    ``kind``/``kind_name``, ``operation``/``operation_name``, ``region_id``
    and ``detail`` come from the handle's error record (SPEC 9)."""

    kind: int
    kind_name: str
    operation: int
    operation_name: str
    region_id: int
    detail: str

    def __init__(self, status: int, info: Optional[CData]) -> None:
        if info is None:
            self.kind, self.operation, self.region_id, self.detail = 0, 0, 0, ""
        else:
            self.kind = int(info.kind)
            self.operation = int(info.operation)
            self.region_id = int(info.region_id)
            self.detail = c_string(info.message, "replace")
        self.kind_name = error_kind_str(self.kind)
        self.operation_name = operation_str(self.operation)
        super().__init__(
            f"{status_str(status)}: {self.kind_name} in {self.operation_name} "
            f"(region {self.region_id:#x}): {self.detail}",
            status,
        )


class Poisoned(EndpointFailed):
    """The handle is poisoned (protocol violation, ownership error, a failed
    callback after shared state changed, ...)."""


class RemoteAborted(EndpointFailed):
    """The peer set its abort flag; terminal for this handle."""


class ShmExists(L3L2QError, FileExistsError):
    """A shared-memory object of that name exists (maybe stale)."""


class ShmNotFound(L3L2QError, FileNotFoundError):
    """No shared-memory object of that name exists."""


class ShmSystemError(L3L2QError, OSError):
    """A system call failed; ``errno`` is set."""


class Panicked(L3L2QError, RuntimeError):
    """The library caught a panic; the handle must not be used again."""


_SIMPLE = {
    lib.L3L2Q_STATUS_TIMEOUT: QueueTimeout,
    lib.L3L2Q_STATUS_NO_PROGRESS: NoProgress,
    lib.L3L2Q_STATUS_BAD_ARGUMENT: BadArgument,
    lib.L3L2Q_STATUS_BUFFER_TOO_SMALL: BufferTooSmall,
    lib.L3L2Q_STATUS_STOPPED: Stopped,
    lib.L3L2Q_STATUS_CALLBACK_FAILED: CallbackFailed,
    lib.L3L2Q_STATUS_INCONSISTENT: BadArgument,
    lib.L3L2Q_STATUS_PANIC: Panicked,
    lib.L3L2Q_STATUS_EXISTS: ShmExists,
    lib.L3L2Q_STATUS_NOT_FOUND: ShmNotFound,
}


def make_error(status: int, what: str, info: Optional[CData] = None, violation: int = 0) -> L3L2QError:
    """The exception for `status` returned by the call `what`; `info` is the
    handle's error record (for POISONED / REMOTE_ABORTED)."""
    if status == lib.L3L2Q_STATUS_POISONED:
        if info is not None and info.kind == lib.L3L2Q_ERROR_KIND_REMOTE_ABORTED:
            return RemoteAborted(status, info)
        return Poisoned(status, info)
    if status == lib.L3L2Q_STATUS_REMOTE_ABORTED:
        return RemoteAborted(status, info)
    if status == lib.L3L2Q_STATUS_BAD_DESCRIPTOR:
        return BadDescriptor(f"{what}: {status_str(status)} ({violation_str(violation)})", status, violation)
    cls = _SIMPLE.get(status, L3L2QError)
    return cls(f"{what}: {status_str(status)}", status)
