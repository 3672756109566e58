"""The L3 queue, the L2 endpoint and the regions they run over.

Every method is a thin call into the C API of libl3l2q (the protocol lives
there); this module converts Python buffers, seconds and status codes.
"""

from __future__ import annotations

import array
import bisect
import itertools
import mmap
import operator
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import (
    Any,
    Dict,
    List,
    NamedTuple,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    TypeVar,
    cast,
    runtime_checkable,
)

from ._ffi import CData, c_string, ffi, lib
from .errors import (
    BadArgument,
    BufferTooSmall,
    L3L2QError,
    QueueClosed,
    ShmSystemError,
    make_error,
)

Buffer = Any
"""Anything with the buffer protocol: bytes, bytearray, memoryview, array,
mmap, a C-contiguous numpy array, ..."""

# Resolved once: ffi.from_buffer parses a type given as text on every call.
_U8_ARRAY = ffi.typeof("uint8_t[]")
_U8_PTR = ffi.typeof("uint8_t *")
_U64_PTR = ffi.typeof("uint64_t *")
_SIZE_PTR = ffi.typeof("size_t *")
_MESSAGE_PTR = ffi.typeof("l3l2q_message *")
_SLICE_PTR = ffi.typeof("l3l2q_byte_slice *")
_NULL = ffi.NULL
_from_buffer = ffi.from_buffer
_OK = lib.L3L2Q_STATUS_OK
_NO_PROGRESS = lib.L3L2Q_STATUS_NO_PROGRESS
_SECOND_NS = 1_000_000_000
_U64_MAX = (1 << 64) - 1

TASK_SCALARS: int = lib.L3L2Q_TASK_SCALARS

# The single-message paths call these directly: a module global is one
# lookup, `lib.name` two.
_l3_try_enqueue = lib.l3l2q_l3_try_enqueue
_l3_enqueue = lib.l3l2q_l3_enqueue
_l3_read_into = lib.l3l2q_l3_read_into
_l3_try_dequeue_into = lib.l3l2q_l3_try_dequeue_into
_l3_dequeue_into = lib.l3l2q_l3_dequeue_into
_l2_try_peek = lib.l3l2q_l2_try_peek
_l2_release = lib.l3l2q_l2_release
_l2_try_send_batch = lib.l3l2q_l2_try_send_batch


class Opcode(IntEnum):
    """Message opcodes (SPEC 4)."""

    INVALID = lib.L3L2Q_OPCODE_INVALID
    DATA = lib.L3L2Q_OPCODE_DATA
    STOP = lib.L3L2Q_OPCODE_STOP
    ERROR = lib.L3L2Q_OPCODE_ERROR


def _timeout_ns(timeout: float) -> int:
    if timeout != timeout or timeout < 0:  # NaN or negative
        raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
    return min(int(timeout * _SECOND_NS), _U64_MAX)


def _readable(data: Optional[Buffer], nbytes: Optional[int]) -> Tuple[Any, int]:
    """(pointer, length) for `data`, of which the first `nbytes` (default
    all) are sent. TypeError for a non-buffer, ValueError for a
    non-contiguous buffer or nbytes beyond it."""
    if data is None:
        if nbytes:
            raise ValueError(f"no buffer given but nbytes is {nbytes}")
        return ffi.NULL, 0
    if isinstance(data, str):
        raise TypeError("str is not a buffer; encode it first")
    try:
        ptr = ffi.from_buffer(_U8_ARRAY, data)
    except BufferError as e:
        raise ValueError(f"unusable buffer: {e}") from e
    size = len(ptr)
    if nbytes is None:
        return ptr, size
    if not 0 <= nbytes <= size:
        raise ValueError(f"nbytes {nbytes} outside the buffer's {size} bytes")
    return ptr, nbytes


def _writable(buffer: Buffer) -> Any:
    """A pointer into a writable buffer: TypeError for a non-buffer,
    ValueError for a read-only or non-contiguous one."""
    if type(buffer) is bytearray:  # always writable and contiguous
        return _from_buffer(_U8_ARRAY, buffer, require_writable=True)
    if isinstance(buffer, (str, bytes)):
        raise ValueError(f"{type(buffer).__name__} is read-only; pass a writable buffer")
    try:
        return ffi.from_buffer(_U8_ARRAY, buffer, require_writable=True)
    except BufferError as e:
        raise ValueError(f"the output buffer must be writable: {e}") from e


@dataclass(frozen=True)
class Layout:
    """Offsets of every part of the payload range (SPEC 3)."""

    depth: int
    input_desc_offset: int
    output_desc_offset: int
    input_arena_offset: int
    input_arena_bytes: int
    output_arena_offset: int
    output_arena_bytes: int
    payload_bytes: int
    counter_bytes: int

    @staticmethod
    def _from_c(c: Any) -> "Layout":
        return Layout(*(int(getattr(c, f.name)) for f in fields(Layout)))

    @staticmethod
    def compute(depth: int, input_arena_bytes: int, output_arena_bytes: int) -> "Layout":
        """The layout for a queue; BadDescriptor names the rule broken."""
        out = ffi.new("l3l2q_layout *")
        violation = ffi.new("enum l3l2q_violation *")
        status = lib.l3l2q_layout_compute(depth, input_arena_bytes, output_arena_bytes, out, violation)
        if status != _OK:
            raise make_error(status, "layout", violation=violation[0])
        return Layout._from_c(out)


@dataclass(frozen=True)
class RegionDescriptor:
    """Region descriptor (SPEC 1): where payload and counters are."""

    magic_version: int
    region_id: int
    payload_base: int
    payload_bytes: int
    counter_base: int
    counter_bytes: int

    @staticmethod
    def pack_magic_version() -> int:
        """The magic/version word this library writes."""
        out = ffi.new("uint64_t *")
        lib.l3l2q_magic_version_pack(
            lib.L3L2Q_REGION_MAGIC, lib.L3L2Q_REGION_ABI_MAJOR, lib.L3L2Q_REGION_ABI_MINOR, out
        )
        return int(out[0])

    @staticmethod
    def _from_c(c: Any) -> "RegionDescriptor":
        return RegionDescriptor(*(int(getattr(c, f.name)) for f in fields(RegionDescriptor)))

    def _to_c(self) -> Any:
        c = ffi.new("l3l2q_region_descriptor *")
        for f in fields(self):
            setattr(c, f.name, getattr(self, f.name))
        return c


@dataclass(frozen=True)
class ErrorInfo:
    """A handle's error record (kind 0, NONE, while healthy)."""

    kind: int
    kind_name: str
    operation: int
    operation_name: str
    region_id: int
    message: str


def _error_info(c: Any) -> ErrorInfo:
    from .errors import error_kind_str, operation_str

    return ErrorInfo(
        int(c.kind),
        error_kind_str(c.kind),
        int(c.operation),
        operation_str(c.operation),
        int(c.region_id),
        c_string(c.message, "replace"),
    )


class Received(NamedTuple):
    """A message copied out and released."""

    opcode: int
    data: bytes


class Message:
    """A held message (acquired, not yet released). It names the message;
    pass it back unaltered to release it."""

    __slots__ = ("_c", "_arr", "_index", "_owner", "_view", "__weakref__")

    def __init__(self, c: Any, owner: Any, arr: Any = None, index: int = 0) -> None:
        self._c = c
        self._arr = arr
        self._index = index
        self._owner = owner
        self._view: Optional[memoryview] = None

    @property
    def seq(self) -> int:
        return int(self._c.seq)

    @property
    def opcode(self) -> int:
        return int(self._c.opcode)

    @property
    def payload_offset(self) -> int:
        return int(self._c.payload_offset)

    @property
    def nbytes(self) -> int:
        return int(self._c.payload_nbytes)

    payload_nbytes = nbytes

    def __repr__(self) -> str:
        return f"Message(seq={self.seq}, opcode={self.opcode}, payload_offset={self.payload_offset}, nbytes={self.nbytes})"


class Reservation:
    """Space reserved in an arena; fill `buffer` (mapped regions) or write
    through the queue, then publish/commit it."""

    __slots__ = ("_c", "_view")

    def __init__(self, c: Any, view: Optional[memoryview]) -> None:
        self._c = c
        self._view = view

    @property
    def capacity(self) -> int:
        return int(self._c.capacity)

    @property
    def payload_offset(self) -> int:
        return int(self._c.payload_offset)

    @property
    def seq(self) -> int:
        """The sequence number the message will be published with."""
        return int(self._c.seq)

    @property
    def buffer(self) -> memoryview:
        """Writable view of the reserved bytes (mapped regions only); it is
        released when the reservation is published."""
        if self._view is None:
            raise BadArgument("the region is not mapped in this process; write through the queue", 10)
        return self._view


_MESSAGE_WORDS = ffi.sizeof("l3l2q_message") // 8
# The batch paths read and build these structs as runs of u64 words.
assert ffi.sizeof("l3l2q_message") == 5 * 8 and ffi.offsetof("l3l2q_message", "data") == 4 * 8
assert ffi.sizeof("l3l2q_byte_slice") == 2 * 8 and ffi.offsetof("l3l2q_byte_slice", "len") == 8
# The out-parameter arrays ("Q") stand for size_t and uint64_t.
assert ffi.sizeof("size_t") == array.array("Q").itemsize == 8
_new_tuple = tuple.__new__
_POOL = 64


def _packed_slices(data: Buffer, size: int) -> Tuple[Any, Any, int]:
    """(slice array, its owner, count) cutting `data` into messages of
    `size` bytes, the last one possibly shorter. Built as one run of
    (address, length) words: one allocation instead of a cdata access per
    message. Keep the owner (and `data`) alive until the call returns."""
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    ptr, total = _readable(data, None)
    count = (total + size - 1) // size
    if count == 0:
        return ffi.NULL, None, 0
    base = int(ffi.cast("uintptr_t", ptr))
    words = [0] * (2 * count)
    words[0::2] = range(base, base + count * size, size)
    words[1::2] = [size] * count
    words[-1] = total - (count - 1) * size
    words_buf = array.array("Q", words)  # converted at C speed, no zeroing
    owner = (words_buf, ptr)
    return ffi.cast("l3l2q_byte_slice *", ffi.from_buffer(words_buf)), owner, count


def _slice_array(buffers: Sequence[Buffer]) -> Tuple[Any, List[Any]]:
    """(slice array, the pointers it holds) for `buffers`; keep the
    pointers alive until the call returns."""
    slices = ffi.new("l3l2q_byte_slice[]", len(buffers))
    ptrs = []
    for i, b in enumerate(buffers):
        ptr, n = _readable(b, None)
        ptrs.append(ptr)
        s = slices[i]
        s.data = ptr
        s.len = n
    return slices, ptrs


class Packed(NamedTuple):
    """Messages copied back to back into a caller's buffer: message i is
    ``sizes[i]`` bytes after the previous one, with ``opcodes[i]``."""

    opcodes: List[int]
    sizes: List[int]


def _copy_out(arr: Any, count: int, payload: memoryview) -> List["Received"]:
    """The payloads of `count` acquired messages in `arr`, copied out with
    one copy of the span they occupy (the library validated every span;
    an empty message has offset 0, which only widens the copy). Fields are
    read as one unpack of the array's words: per-message cdata access would
    cost more than the copy."""
    words = _words(arr, count)
    ops = words[1::_MESSAGE_WORDS]
    offs = words[2::_MESSAGE_WORDS]
    sizes = words[3::_MESSAGE_WORDS]
    lo = min(offs)
    chunk = payload[lo : max(map(operator.add, offs, sizes))].tobytes()
    return [_new_tuple(Received, (op, chunk[o - lo : o - lo + n])) for op, o, n in zip(ops, offs, sizes)]


def _words(arr: CData, count: int) -> List[int]:
    """The `count` messages in `arr` as one list of u64 words."""
    # ffi.unpack of a uint64_t pointer returns a list of ints.
    return cast(List[int], ffi.unpack(ffi.cast(_U64_PTR, arr), count * _MESSAGE_WORDS))


def _pinned(address: CData, owner: object) -> CData:
    """`address` as a uint8_t pointer that keeps `owner` (and so the
    mapping behind the address) alive for as long as it exists."""

    def keep(_p: CData, _owner: object = owner) -> None:
        pass

    return ffi.gc(ffi.cast(_U8_PTR, address), keep)


_H = TypeVar("_H", bound="_Handle")


class _Handle:
    """What the L3 queue and the L2 endpoint share: the handle, its error
    record, views of held payloads and closing."""

    _what = "handle"

    def __init__(self) -> None:
        self._h: Any = None
        self._views: Dict[int, Message] = {}
        self._keep: List[Any] = []
        self._shm: Optional[SharedMemory] = None
        self._own_shm = False
        self._span: Optional[memoryview] = None
        # The cffi buffer under _span: slicing it yields bytes in one step.
        self._span_buffer: Any = None
        self._block: Any = None
        self._slot = _POOL
        self._scratch_arr: Any = None
        # Out-parameters live in arrays so the single-message paths read
        # them back with a native index instead of a cdata access.
        self._size_box = array.array("Q", [0])
        self._size: CData = _from_buffer(_SIZE_PTR, self._size_box, require_writable=True)

    def _new_block(self) -> Tuple[Any, int]:
        """Single peeks write into slots of a shared block (one allocation
        per _POOL messages); a slot is never reused, so a Message's struct
        stays as the library wrote it."""
        self._block, self._slot = ffi.new("l3l2q_message[]", _POOL), 0
        return self._block, 0

    # Subclasses set these to their C functions. Both ends take messages
    # (L3: outputs, L2: inputs) and publish them through functions of the
    # same shape, so the bodies below serve both; each end keeps its own
    # public methods and docstrings.
    _error_fn: Any
    _free_fn: Any
    _layout_fn: Any
    _remote_aborted_fn: Any
    _try_peek_fn: Any
    _peek_fn: Any
    _release_fn: Any
    _try_peek_batch_fn: Any
    _release_batch_fn: Any
    _send_batch_fn: Any
    _publish_fn: Any

    def _scalars(self) -> Tuple[int, ...]:
        raise NotImplementedError

    def _raise(self, status: int, what: str) -> None:
        raise self._fail(status, what)

    @property
    def closed(self) -> bool:
        return self._h is None

    def _live(self) -> Any:
        h = self._h
        if h is None:
            raise QueueClosed(self._what)
        return h

    def _fail(self, status: int, what: str) -> L3L2QError:
        info = None
        if self._h is not None and status in (lib.L3L2Q_STATUS_POISONED, lib.L3L2Q_STATUS_REMOTE_ABORTED):
            info = ffi.new("l3l2q_error_info *")
            self._error_fn(self._h, info)
        return make_error(status, what, info)

    def error(self) -> ErrorInfo:
        """The error record (kind NONE while healthy)."""
        info = ffi.new("l3l2q_error_info *")
        self._error_fn(self._live(), info)
        return _error_info(info)

    @property
    def layout(self) -> Layout:
        out = ffi.new("l3l2q_layout *")
        self._layout_fn(self._live(), out)
        return Layout._from_c(out)

    def _payload_span(self) -> memoryview:
        """View of the whole payload range in this process."""
        if self._span is None:
            scalars = self._scalars()
            ptr = _pinned(scalars[2], self)
            self._span_buffer = ffi.buffer(ptr, scalars[3])
            self._span = memoryview(self._span_buffer)
        return self._span

    def _scratch_messages(self, count: int) -> Any:
        """A message array for calls that release everything they acquire
        before returning (no Message escapes), reused across calls."""
        arr = self._scratch_arr
        if arr is None or len(arr) < count:
            arr = self._scratch_arr = ffi.new("l3l2q_message[]", max(count, 64))
        return arr

    def _copy_packed(self, arr: Any, count: int, buffer: Buffer, what: str) -> Tuple[int, Packed]:
        """Copies the payloads of the oldest held prefix of `arr` that fits
        back to back into `buffer`; returns (how many, Packed)."""
        dst = _writable(buffer)
        words = _words(arr, count)
        sizes = words[3::_MESSAGE_WORDS]
        ends = list(itertools.accumulate(sizes))
        k = bisect.bisect_right(ends, len(dst))
        if k == 0:
            raise BufferTooSmall(
                f"{what}: the next message has {sizes[0]} bytes, the buffer {len(dst)}",
                lib.L3L2Q_STATUS_BUFFER_TOO_SMALL,
            )
        offs, sizes = words[2::_MESSAGE_WORDS][:k], sizes[:k]
        span = self._payload_span()
        if offs == list(itertools.accumulate(sizes[:-1], initial=offs[0])):
            # In the arena back to back (the usual case): one copy.
            ffi.memmove(dst, span[offs[0] : offs[0] + ends[k - 1]], ends[k - 1])
        else:
            at = 0
            for off, n in zip(offs, sizes):
                ffi.memmove(dst + at, span[off : off + n], n)
                at += n
        return k, Packed(words[1::_MESSAGE_WORDS][:k], sizes)

    def _view_of(self, msg: Message, readonly: bool) -> memoryview:
        if msg._owner is not self:
            raise BadArgument("the message belongs to another queue", lib.L3L2Q_STATUS_BAD_ARGUMENT)
        self._live()
        if msg._view is not None:
            return msg._view
        n = msg._c.payload_nbytes
        if n == 0:
            view = memoryview(b"")
        else:
            if msg._c.data == ffi.NULL:
                raise BadArgument(
                    "the region is not mapped in this process; use read_into", lib.L3L2Q_STATUS_BAD_ARGUMENT
                )
            # The pointer keeps this handle (and so the mapping) alive for
            # as long as any view built on it exists.
            ptr = _pinned(msg._c.data, self)
            view = memoryview(ffi.buffer(ptr, n))
            if readonly:
                view = view.toreadonly()
        msg._view = view
        self._views[id(msg)] = msg
        return view

    def _drop_view(self, msg: Message) -> None:
        """Invalidates the view of `msg` before it is released; refuses
        (BufferError, nothing released) while something still exports it."""
        view = msg._view
        if view is not None:
            view.release()  # BufferError while exported (e.g. numpy.frombuffer)
            msg._view = None
            self._views.pop(id(msg), None)

    def _drop_all_views(self) -> None:
        for msg in list(self._views.values()):
            self._drop_view(msg)

    def _remote_aborted(self) -> bool:
        out = ffi.new("bool *")
        status = self._remote_aborted_fn(self._live(), out)
        if status != _OK:
            self._raise(status, "remote_aborted")
        return bool(out[0])

    def _try_peek(self) -> Optional[Message]:
        h = self._h
        if h is None:
            raise QueueClosed(self._what)
        block, i = self._block, self._slot
        if i == _POOL:
            block, i = self._new_block()
        out = block + i
        status = self._try_peek_fn(h, out)
        if status == _OK:
            self._slot = i + 1
            return Message(out, self, block, i)
        if status == _NO_PROGRESS:
            return None
        self._raise(status, "try_peek")
        raise AssertionError

    def peek(self, timeout: float) -> Message:
        """As try_peek, waiting up to `timeout` seconds."""
        out = ffi.new("l3l2q_message *")
        status = self._peek_fn(self._live(), out, _timeout_ns(timeout))
        if status != _OK:
            self._raise(status, "peek")
        return Message(out, self)

    def _release(self, message: Message) -> None:
        h = self._h
        if h is None:
            raise QueueClosed(self._what)
        if message._view is not None:
            self._drop_view(message)
        status = self._release_fn(h, message._c)
        if status != _OK:
            self._raise(status, "release")

    def _try_peek_batch(self, max_count: int) -> List[Message]:
        h = self._live()
        if max_count <= 0:
            return []
        arr = ffi.new("l3l2q_message[]", max_count)
        status = self._try_peek_batch_fn(h, arr, max_count, self._size)
        if status == _NO_PROGRESS:
            return []
        if status != _OK:
            self._raise(status, "try_peek_batch")
        return [Message(arr + i, self, arr, i) for i in range(self._size[0])]

    def _release_batch(self, messages: Sequence[Message]) -> None:
        h = self._live()
        count = len(messages)
        if count == 0:
            return
        for m in messages:
            if m._view is not None:
                self._drop_view(m)
        first = messages[0]._arr
        if first is not None and all(m._arr is first and m._index == i for i, m in enumerate(messages)):
            arr = first
        else:
            arr = ffi.new("l3l2q_message[]", count)
            for i, m in enumerate(messages):
                arr[i] = m._c[0]
        status = self._release_batch_fn(h, arr, count)
        if status != _OK:
            self._raise(status, "release_batch")

    def _take_batch(self, max_count: int, what: str) -> List[Received]:
        """Up to `max_count` messages copied out and released with one head
        store (mapped regions)."""
        h = self._live()
        if max_count <= 0:
            return []
        arr = self._scratch_messages(max_count)
        status = self._try_peek_batch_fn(h, arr, max_count, self._size)
        if status == _NO_PROGRESS:
            return []
        if status != _OK:
            self._raise(status, what)
        count = self._size[0]
        out = _copy_out(arr, count, self._payload_span())
        status = self._release_batch_fn(h, arr, count)
        if status != _OK:
            self._raise(status, what)
        return out

    def _take_packed(self, buffer: Buffer, max_count: int, what: str) -> Packed:
        """Up to `max_count` messages copied back to back into `buffer` (as
        many as fit) and released with one head store (mapped regions)."""
        h = self._live()
        if max_count <= 0:
            return Packed([], [])
        arr = self._scratch_messages(max_count)
        status = self._try_peek_batch_fn(h, arr, max_count, self._size)
        if status == _NO_PROGRESS:
            return Packed([], [])
        if status != _OK:
            self._raise(status, what)
        k, packed = self._copy_packed(arr, self._size[0], buffer, what)
        status = self._release_batch_fn(h, arr, k)
        if status != _OK:
            self._raise(status, what)
        return packed

    def _send_batch(self, h: Any, opcode: int, slices: Any, count: int, what: str) -> int:
        """Publishes a prefix of `count` slices with one tail store; returns
        how many went (0 when the first does not fit)."""
        status = self._send_batch_fn(h, opcode, slices, count, self._size)
        if status == _OK:
            return int(self._size[0])
        if status == _NO_PROGRESS:
            return 0
        self._raise(status, what)
        raise AssertionError

    def _publish(self, reservation: Reservation, nbytes: Optional[int], opcode: int, what: str) -> None:
        n = reservation.capacity if nbytes is None else nbytes
        status = self._publish_fn(self._live(), reservation._c, opcode, n)
        if status != _OK:
            self._raise(status, what)
        if reservation._view is not None:
            reservation._view.release()
            reservation._view = None

    def close(self) -> None:
        """Frees the handle (idempotent) and, when it owns one, the
        shared-memory region. Refuses with BufferError while a payload view
        is still exported."""
        if self._h is None:
            return
        self._drop_all_views()
        if self._span is not None:
            self._span.release()
            self._span = None
        self._span_buffer = None
        box = ffi.new(f"{self._ctype} **", self._h)
        self._h = None
        self._free_fn(box)
        self._keep.clear()
        if self._shm is not None and self._own_shm:
            self._shm.close()
        self._shm = None

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    _ctype = ""


# ---------------------------------------------------------------------------
# Regions


@runtime_checkable
class Region(Protocol):
    """A region a host reaches through its own runtime (e.g. device memory
    over DMA). Offsets are relative to the payload or counter base.
    `counter_load` must act as an acquire and `counter_store` as a release
    with respect to the payload copies. Raising fails the call."""

    def payload_write(self, offset: int, data: memoryview) -> None:
        """Copies `data` (valid only during the call) to payload `offset`."""

    def payload_read(self, offset: int, nbytes: int) -> Buffer:
        """Returns `nbytes` bytes from payload `offset`."""

    def counter_store(self, offset: int, value: int) -> None:
        """Stores the 32-bit `value` at counter `offset`."""

    def counter_load(self, offset: int) -> int:
        """Loads the 32-bit counter at counter `offset`."""


class LocalRegion:
    """An anonymous mapping holding counters and payload for one queue, in
    this process: for tests and simulations (an L3 queue and an L2 endpoint
    over the same memory). ``payload`` and ``counters`` are writable views."""

    def __init__(self, depth: int, input_arena_bytes: int, output_arena_bytes: int, region_id: int = 1) -> None:
        self.layout = Layout.compute(depth, input_arena_bytes, output_arena_bytes)
        counter_span = (self.layout.counter_bytes + 4095) // 4096 * 4096
        self._map = mmap.mmap(-1, counter_span + self.layout.payload_bytes)
        self._ptr = ffi.from_buffer(_U8_ARRAY, self._map, require_writable=True)
        base = int(ffi.cast("uintptr_t", self._ptr))
        self.counters = memoryview(self._map)[: self.layout.counter_bytes]
        self.payload = memoryview(self._map)[counter_span:]
        self.descriptor = RegionDescriptor(
            RegionDescriptor.pack_magic_version(),
            region_id,
            base + counter_span,
            self.layout.payload_bytes,
            base,
            self.layout.counter_bytes,
        )


class SharedMemory:
    """A named POSIX shared-memory object holding one queue region
    (``l3l2q_shm_*``). The creator's handle unlinks the name when closed."""

    def __init__(self, h: Any, name: str) -> None:
        self._h: Any = h
        #: The object's name ("/...").
        self.name = name

    @classmethod
    def create(
        cls,
        name: str,
        depth: int,
        input_arena_bytes: int,
        output_arena_bytes: int,
        *,
        region_id: int = 0,
        reclaim_stale: bool = False,
    ) -> "SharedMemory":
        """Creates and maps `name` ("/" then 1-254 bytes without "/").
        ShmExists when the name is in use."""
        config = ffi.new(
            "l3l2q_shm_config *",
            {
                "depth": depth,
                "input_arena_bytes": input_arena_bytes,
                "output_arena_bytes": output_arena_bytes,
                "region_id": region_id,
                "reclaim_stale": reclaim_stale,
            },
        )
        out = ffi.new("l3l2q_shm **")
        violation = ffi.new("enum l3l2q_violation *")
        err = ffi.new("int32_t *")
        status = lib.l3l2q_shm_create(name.encode(), config, out, violation, err)
        if status != _OK:
            raise cls._error(status, f"shm_create {name}", err[0], violation[0])
        return cls(out[0], name)

    @classmethod
    def open(cls, name: str) -> "SharedMemory":
        """Maps the object `name` another process created (NO_PROGRESS while
        its creator is still writing the header: retry)."""
        out = ffi.new("l3l2q_shm **")
        err = ffi.new("int32_t *")
        status = lib.l3l2q_shm_open(name.encode(), out, err)
        if status != _OK:
            raise cls._error(status, f"shm_open {name}", err[0])
        return cls(out[0], name)

    @staticmethod
    def unlink(name: str) -> None:
        """Removes a stale name unconditionally."""
        err = ffi.new("int32_t *")
        status = lib.l3l2q_shm_unlink(name.encode(), err)
        if status != _OK:
            raise SharedMemory._error(status, f"shm_unlink {name}", err[0])

    @staticmethod
    def _error(status: int, what: str, errno: int, violation: int = 0) -> L3L2QError:
        if status == lib.L3L2Q_STATUS_SYSTEM_ERROR:
            import os

            e = ShmSystemError(f"{what}: {os.strerror(errno)}", status)
            e.errno = errno
            return e
        return make_error(status, what, violation=violation)

    def _live(self) -> Any:
        if self._h is None:
            raise QueueClosed("shared-memory region")
        return self._h

    def descriptor(self) -> RegionDescriptor:
        """This mapping's region descriptor (this process's addresses)."""
        out = ffi.new("l3l2q_region_descriptor *")
        lib.l3l2q_shm_descriptor(self._live(), out, ffi.NULL)
        return RegionDescriptor._from_c(out)

    def queue_args(self) -> Tuple[int, int, int]:
        """(depth, input_arena_bytes, output_arena_bytes) recorded in the object."""
        d = ffi.new("l3l2q_region_descriptor *")
        a: CData = ffi.new("l3l2q_queue_args *")
        lib.l3l2q_shm_descriptor(self._live(), d, a)
        return int(a.depth), int(a.input_arena_bytes), int(a.output_arena_bytes)

    def rebase(self, scalars: Sequence[int]) -> Tuple[int, ...]:
        """Task scalars from another process, with its addresses replaced by
        this mapping's (BadDescriptor when they describe another region)."""
        arr = ffi.new("uint64_t[]", list(scalars))
        status = lib.l3l2q_shm_rebase_task_scalars(self._live(), arr, len(arr))
        if status != _OK:
            raise make_error(status, "rebase task scalars")
        return tuple(int(x) for x in arr)

    @property
    def closed(self) -> bool:
        return self._h is None

    def close(self) -> None:
        """Unmaps (and, for the creator, unlinks); idempotent."""
        if self._h is not None:
            box = ffi.new("l3l2q_shm **", self._h)
            self._h = None
            lib.l3l2q_shm_free(box)

    def __enter__(self) -> "SharedMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


# ---------------------------------------------------------------------------
# L3


class L3Queue(_Handle):
    """The host (L3) end: enqueues inputs, takes outputs.

    Build it with :meth:`create_shm`, :meth:`open_shm`, :meth:`mapped` or
    :meth:`over_region`. Blocking calls take a timeout in seconds and raise
    :class:`~l3l2q.QueueTimeout` (a ``TimeoutError``) when it passes."""

    _what = "queue"
    _ctype = "l3l2q_l3_queue"
    _error_fn = lib.l3l2q_l3_error
    _free_fn = lib.l3l2q_l3_queue_free
    _layout_fn = lib.l3l2q_l3_layout
    _remote_aborted_fn = lib.l3l2q_l3_remote_aborted
    _try_peek_fn = lib.l3l2q_l3_try_peek
    _peek_fn = lib.l3l2q_l3_peek
    _release_fn = lib.l3l2q_l3_release
    _try_peek_batch_fn = lib.l3l2q_l3_try_peek_batch
    _release_batch_fn = lib.l3l2q_l3_release_batch
    _send_batch_fn = lib.l3l2q_l3_try_enqueue_batch
    _publish_fn = lib.l3l2q_l3_commit

    def __init__(self) -> None:  # use the constructors below
        super().__init__()
        self._cb_error: Optional[BaseException] = None
        self._scratch: Optional[bytearray] = None
        self._scratch_ptr: Any = None
        self._scratch_bytes: Any = None  # cffi buffer of _scratch: slices are bytes
        self._scratch_len = 0
        self._u64_box = array.array("Q", [0])
        self._u64: CData = _from_buffer(_U64_PTR, self._u64_box, require_writable=True)
        self._mapped = True

    @staticmethod
    def _config(depth: int, input_arena_bytes: int, output_arena_bytes: int, initial_count: int) -> Any:
        return ffi.new(
            "l3l2q_l3_config *",
            {
                "depth": depth,
                "input_arena_bytes": input_arena_bytes,
                "output_arena_bytes": output_arena_bytes,
                "initial_count": initial_count,
            },
        )

    def _created(self, status: int, out: Any, violation: Any) -> "L3Queue":
        if status != _OK:
            if self._cb_error is not None:
                raise make_error(status, "create", violation=violation[0]) from self._cb_error
            raise make_error(status, "create", violation=violation[0])
        self._h = out[0]
        return self

    @classmethod
    def mapped(
        cls,
        descriptor: RegionDescriptor,
        depth: int,
        input_arena_bytes: int,
        output_arena_bytes: int,
        *,
        initial_count: int = 0,
        keepalive: Any = None,
    ) -> "L3Queue":
        """A queue over memory mapped in this process at the descriptor's
        addresses (which must stay mapped: pass the owner as `keepalive`)."""
        q = cls()
        q._keep.append(keepalive)
        out = ffi.new("l3l2q_l3_queue **")
        violation = ffi.new("enum l3l2q_violation *")
        status = lib.l3l2q_l3_queue_create_mapped(
            descriptor._to_c(), cls._config(depth, input_arena_bytes, output_arena_bytes, initial_count), out, violation
        )
        return q._created(status, out, violation)

    @classmethod
    def over_local(cls, region: LocalRegion, *, initial_count: int = 0) -> "L3Queue":
        """A queue over a :class:`LocalRegion`."""
        lay = region.layout
        return cls.mapped(
            region.descriptor,
            lay.depth,
            lay.input_arena_bytes,
            lay.output_arena_bytes,
            initial_count=initial_count,
            keepalive=region,
        )

    @classmethod
    def over_shm(cls, shm: SharedMemory, *, own: bool = False) -> "L3Queue":
        """A queue over a mapped shared-memory object (sizes from its
        header). With `own`, closing the queue closes `shm`."""
        depth, inp, outp = shm.queue_args()
        q = cls.mapped(shm.descriptor(), depth, inp, outp, keepalive=shm)
        q._shm, q._own_shm = shm, own
        return q

    @classmethod
    def create_shm(
        cls,
        name: str,
        depth: int,
        input_arena_bytes: int,
        output_arena_bytes: int,
        *,
        region_id: int = 0,
        reclaim_stale: bool = False,
    ) -> "L3Queue":
        """Creates the shared-memory object `name` and a queue over it; closing
        the queue unmaps and unlinks it."""
        shm = SharedMemory.create(
            name, depth, input_arena_bytes, output_arena_bytes, region_id=region_id, reclaim_stale=reclaim_stale
        )
        return cls._owning(shm)

    @classmethod
    def open_shm(cls, name: str) -> "L3Queue":
        """Maps the shared-memory object `name` another process created and
        builds the (L3) queue over it; closing the queue unmaps it."""
        return cls._owning(SharedMemory.open(name))

    @classmethod
    def _owning(cls, shm: SharedMemory) -> "L3Queue":
        """over_shm(shm, own=True); closes `shm` when that fails."""
        try:
            return cls.over_shm(shm, own=True)
        except BaseException:
            shm.close()
            raise

    @classmethod
    def over_region(
        cls,
        region: Region,
        descriptor: RegionDescriptor,
        depth: int,
        input_arena_bytes: int,
        output_arena_bytes: int,
        *,
        initial_count: int = 0,
    ) -> "L3Queue":
        """A queue over a region reached only through `region`'s methods;
        `descriptor` describes the region as the L2 side sees it."""
        q = cls()
        q._mapped = False
        q._install_callbacks(region)
        out = ffi.new("l3l2q_l3_queue **")
        violation = ffi.new("enum l3l2q_violation *")
        status = lib.l3l2q_l3_queue_create_callbacks(
            descriptor._to_c(),
            q._keep[-1],
            cls._config(depth, input_arena_bytes, output_arena_bytes, initial_count),
            out,
            violation,
        )
        return q._created(status, out, violation)

    def _install_callbacks(self, region: Region) -> None:
        def failed(e: BaseException) -> int:
            self._cb_error = e
            return -1

        def payload_write(_ctx: Any, offset: int, src: Any, n: int) -> int:
            try:
                region.payload_write(offset, memoryview(ffi.buffer(src, n)).toreadonly())
                return 0
            except BaseException as e:
                return failed(e)

        def payload_read(_ctx: Any, offset: int, dst: Any, n: int) -> int:
            try:
                data = ffi.from_buffer(_U8_ARRAY, region.payload_read(offset, n))
                if len(data) != n:
                    raise ValueError(f"payload_read returned {len(data)} bytes, {n} asked")
                ffi.memmove(dst, data, n)
                return 0
            except BaseException as e:
                return failed(e)

        def counter_store(_ctx: Any, offset: int, value: int) -> int:
            try:
                region.counter_store(offset, value)
                return 0
            except BaseException as e:
                return failed(e)

        def counter_load(_ctx: Any, offset: int, out: Any) -> int:
            try:
                value = region.counter_load(offset)
                if not 0 <= value <= 0xFFFFFFFF:
                    raise ValueError(f"counter_load returned {value!r}, not a 32-bit value")
                out[0] = value
                return 0
            except BaseException as e:
                return failed(e)

        cbs = [
            ffi.callback("int32_t(void *, uint64_t, const uint8_t *, size_t)", payload_write),
            ffi.callback("int32_t(void *, uint64_t, uint8_t *, size_t)", payload_read),
            ffi.callback("int32_t(void *, uint64_t, uint32_t)", counter_store),
            ffi.callback("int32_t(void *, uint64_t, uint32_t *)", counter_load),
        ]
        table = ffi.new(
            "l3l2q_region_callbacks *",
            {
                "ctx": ffi.NULL,
                "payload_write": cbs[0],
                "payload_read": cbs[1],
                "counter_store": cbs[2],
                "counter_load": cbs[3],
            },
        )
        self._keep.extend([region, cbs, table])

    def _raise(self, status: int, what: str) -> None:
        err = self._fail(status, what)
        cause, self._cb_error = self._cb_error, None
        if cause is not None:
            raise err from cause
        raise err

    # -- identity -----------------------------------------------------------

    def _scalars(self) -> Tuple[int, ...]:
        return self.task_scalars()

    def task_scalars(self) -> Tuple[int, ...]:
        """The twelve scalars the L2 task is started with (this process's
        addresses for mapped regions)."""
        arr = ffi.new("uint64_t[]", TASK_SCALARS)
        status = lib.l3l2q_l3_task_scalars(self._live(), arr, TASK_SCALARS)
        if status != _OK:
            self._raise(status, "task_scalars")
        return tuple(int(x) for x in arr)

    @property
    def shm(self) -> Optional[SharedMemory]:
        return self._shm

    def remote_aborted(self) -> bool:
        """Whether L2 has set its abort flag; once it has, every call fails
        with RemoteAborted. Writes no shared memory."""
        return self._remote_aborted()

    # -- input --------------------------------------------------------------

    def try_enqueue(self, data: Optional[Buffer], nbytes: Optional[int] = None, opcode: int = Opcode.DATA) -> bool:
        """Copies `data` (its first `nbytes`) in and publishes it; False when
        the ring or arena is full."""
        h = self._h
        if h is None:
            raise QueueClosed()
        if nbytes is None and type(data) is bytes:
            # cffi passes bytes to a uint8_t * as is: no buffer export.
            status = _l3_try_enqueue(h, opcode, data, len(data))
        elif nbytes is None and type(data) is bytearray:
            # Always contiguous: nothing for _readable to check.
            status = _l3_try_enqueue(h, opcode, _from_buffer(_U8_ARRAY, data), len(data))
        else:
            ptr, n = _readable(data, nbytes)
            status = _l3_try_enqueue(h, opcode, ptr, n)
        if status == _OK:
            return True
        if status == _NO_PROGRESS:
            return False
        self._raise(status, "try_enqueue")
        raise AssertionError  # unreachable

    def enqueue(
        self, data: Optional[Buffer], nbytes: Optional[int] = None, *, timeout: float, opcode: int = Opcode.DATA
    ) -> None:
        """As try_enqueue, waiting up to `timeout` seconds for space."""
        h = self._h
        if h is None:
            raise QueueClosed(self._what)
        if nbytes is None and type(data) is bytes:
            status = _l3_enqueue(h, opcode, data, len(data), _timeout_ns(timeout))
        else:
            ptr, n = _readable(data, nbytes)
            status = _l3_enqueue(h, opcode, ptr, n, _timeout_ns(timeout))
        if status != _OK:
            self._raise(status, "enqueue")

    def try_enqueue_batch(self, buffers: Sequence[Buffer], opcode: int = Opcode.DATA) -> int:
        """Copies and publishes a prefix of `buffers` with one tail store;
        returns how many went (0 when the first does not fit)."""
        h = self._live()
        count = len(buffers)
        if count == 0:
            return 0
        slices, _ptrs = _slice_array(buffers)
        return self._send_batch(h, opcode, slices, count, "try_enqueue_batch")

    def try_enqueue_packed(self, data: Buffer, size: int, opcode: int = Opcode.DATA) -> int:
        """Sends `data` cut into messages of `size` bytes (the last one may
        be shorter) with one tail store; returns how many went. The fast
        path for many small messages in one buffer (e.g. a numpy array)."""
        h = self._live()
        slices, _owner, count = _packed_slices(data, size)
        if count == 0:
            return 0
        return self._send_batch(h, opcode, slices, count, "try_enqueue_packed")

    def try_reserve(self, nbytes: int) -> Optional[Reservation]:
        """Reserves `nbytes` of input arena for zero-copy filling; None when
        full."""
        out: CData = ffi.new("l3l2q_reservation *")
        status = lib.l3l2q_l3_try_reserve(self._live(), nbytes, out)
        if status == _NO_PROGRESS:
            return None
        if status != _OK:
            self._raise(status, "try_reserve")
        view = memoryview(ffi.buffer(out.data, out.capacity)) if out.data != ffi.NULL else None
        return Reservation(out, view)

    def write_reserved(self, reservation: Reservation, data: Buffer, at: int = 0) -> None:
        """Copies `data` into the reservation at byte `at` (any region)."""
        ptr, n = _readable(data, None)
        status = lib.l3l2q_l3_write_reserved(self._live(), reservation._c, at, ptr, n)
        if status != _OK:
            self._raise(status, "write_reserved")

    def commit(self, reservation: Reservation, nbytes: Optional[int] = None, opcode: int = Opcode.DATA) -> None:
        """Publishes the reservation with `nbytes` (default: its capacity)."""
        self._publish(reservation, nbytes, opcode, "commit")

    def try_request_stop(self) -> bool:
        """Publishes STOP; False when the ring is full."""
        status = lib.l3l2q_l3_try_request_stop(self._live())
        if status == _NO_PROGRESS:
            return False
        if status != _OK:
            self._raise(status, "try_request_stop")
        return True

    def request_stop(self, timeout: float) -> None:
        """Publishes STOP, waiting up to `timeout` seconds for ring space."""
        status = lib.l3l2q_l3_request_stop(self._live(), _timeout_ns(timeout))
        if status != _OK:
            self._raise(status, "request_stop")

    # -- output -------------------------------------------------------------

    def try_peek(self) -> Optional[Message]:
        """The oldest unreleased output, or None; the same message until it
        is released."""
        return self._try_peek()

    def view(self, message: Message) -> memoryview:
        """Zero-copy read-only view of a held message's payload (mapped
        regions). Releasing the message (or closing the queue) releases
        this view; objects derived from it without holding a buffer export
        (slices, numpy.frombuffer) are not tracked: copy what you keep.
        While a consumer does hold an export, release raises BufferError
        and releases nothing."""
        return self._view_of(message, readonly=True)

    def read_into(self, message: Message, buffer: Buffer) -> int:
        """Copies the held message's payload into `buffer`; returns its
        length. BufferTooSmall (a ValueError) leaves the message held."""
        h = self._h
        if h is None:
            raise QueueClosed(self._what)
        if type(buffer) is bytearray:  # _writable's fast path, without the call
            dst = _from_buffer(_U8_ARRAY, buffer, require_writable=True)
        else:
            dst = _writable(buffer)
        status = _l3_read_into(h, message._c, dst, len(dst), self._size)
        if status != _OK:
            self._raise(status, "read_into")
        return self._size_box[0]

    def release(self, message: Message) -> None:
        """Releases the held message (its view is invalidated first)."""
        self._release(message)

    def try_peek_batch(self, max_count: int) -> List[Message]:
        """Up to `max_count` held outputs, oldest first (those already held
        come first); release them in order with release_batch."""
        return self._try_peek_batch(max_count)

    def release_batch(self, messages: Sequence[Message]) -> None:
        """Releases the oldest held messages, in order, with one head store."""
        self._release_batch(messages)

    def try_dequeue_into(self, buffer: Buffer) -> Optional[Tuple[int, int]]:
        """Peeks, copies into `buffer` and releases: (opcode, nbytes), or None
        when empty. BufferTooSmall leaves the message held."""
        h = self._h
        if h is None:
            raise QueueClosed(self._what)
        if type(buffer) is bytearray:  # _writable's fast path, without the call
            dst = _from_buffer(_U8_ARRAY, buffer, require_writable=True)
        else:
            dst = _writable(buffer)
        status = _l3_try_dequeue_into(h, dst, len(dst), self._u64, self._size)
        if status == _OK:
            return self._u64_box[0], self._size_box[0]
        if status == _NO_PROGRESS:
            return None
        self._raise(status, "try_dequeue_into")
        raise AssertionError

    def dequeue_into(self, buffer: Buffer, timeout: float) -> Tuple[int, int]:
        """As try_dequeue_into, waiting up to `timeout` seconds."""
        h = self._live()
        dst = _writable(buffer)
        status = _l3_dequeue_into(h, dst, len(dst), self._u64, self._size, _timeout_ns(timeout))
        if status != _OK:
            self._raise(status, "dequeue_into")
        return self._u64_box[0], self._size_box[0]

    def _scratch_buffer(self) -> Any:
        if self._scratch_ptr is None:
            self._scratch = bytearray(self.layout.output_arena_bytes)
            self._scratch_ptr = ffi.from_buffer(_U8_ARRAY, self._scratch, require_writable=True)
            self._scratch_bytes = ffi.buffer(self._scratch_ptr)
            self._scratch_len = len(self._scratch)
        return self._scratch_ptr

    def try_dequeue(self) -> Optional[Received]:
        """The next output copied out and released, or None when empty."""
        h = self._h
        if h is None:
            raise QueueClosed()
        dst = self._scratch_ptr
        if dst is None:
            dst = self._scratch_buffer()
        status = _l3_try_dequeue_into(h, dst, self._scratch_len, self._u64, self._size)
        if status == _OK:
            return _new_tuple(Received, (self._u64_box[0], self._scratch_bytes[: self._size_box[0]]))
        if status == _NO_PROGRESS:
            return None
        self._raise(status, "try_dequeue")
        raise AssertionError

    def dequeue(self, timeout: float) -> Received:
        """As try_dequeue, waiting up to `timeout` seconds."""
        h = self._h
        if h is None:
            raise QueueClosed(self._what)
        dst = self._scratch_ptr
        if dst is None:
            dst = self._scratch_buffer()
        status = _l3_dequeue_into(h, dst, self._scratch_len, self._u64, self._size, _timeout_ns(timeout))
        if status != _OK:
            self._raise(status, "dequeue")
        return _new_tuple(Received, (self._u64_box[0], self._scratch_bytes[: self._size_box[0]]))

    def try_dequeue_packed(self, buffer: Buffer, max_count: int) -> Packed:
        """Up to `max_count` outputs copied back to back into `buffer` (as
        many as fit) and released with one head store; no object per
        message. Empty Packed when nothing is there; BufferTooSmall when
        the next message alone does not fit (it stays held). Mapped
        regions only."""
        if not self._mapped:
            self._live()  # a closed queue says so first
            raise BadArgument("the region is not mapped in this process", lib.L3L2Q_STATUS_BAD_ARGUMENT)
        return self._take_packed(buffer, max_count, "try_dequeue_packed")

    def try_dequeue_batch(self, max_count: int) -> List[Received]:
        """Up to `max_count` outputs copied out and released with one head
        store (mapped regions; over callbacks, one at a time)."""
        if self._mapped:
            return self._take_batch(max_count, "try_dequeue_batch")
        self._live()
        # Payloads are reached through the region: copy one at a time.
        got: List[Received] = []
        while len(got) < max_count:
            r = self.try_dequeue()
            if r is None:
                break
            got.append(r)
        return got


# ---------------------------------------------------------------------------
# L2


class L2Endpoint(_Handle):
    """The device (L2) end over memory mapped in this process: takes inputs,
    publishes outputs. For simulations and tests; a device task uses the
    C/C++ API."""

    _what = "endpoint"
    _ctype = "l3l2q_l2_endpoint"
    _error_fn = lib.l3l2q_l2_error
    _free_fn = lib.l3l2q_l2_endpoint_free
    _layout_fn = lib.l3l2q_l2_layout
    _remote_aborted_fn = lib.l3l2q_l2_remote_aborted
    _try_peek_fn = lib.l3l2q_l2_try_peek
    _peek_fn = lib.l3l2q_l2_peek
    _release_fn = lib.l3l2q_l2_release
    _try_peek_batch_fn = lib.l3l2q_l2_try_peek_batch
    _release_batch_fn = lib.l3l2q_l2_release_batch
    _send_batch_fn = lib.l3l2q_l2_try_send_batch
    _publish_fn = lib.l3l2q_l2_publish

    def __init__(
        self, scalars: Sequence[int], *, max_inflight: int = 1, initial_count: int = 0, keepalive: Any = None
    ) -> None:
        super().__init__()
        self._keep.append(keepalive)
        # Backed by arrays so try_send/try_take set and read the plain
        # fields with a native index.
        self._one_words = array.array("Q", [0, 0])
        self._one_slice: CData = _from_buffer(_SLICE_PTR, self._one_words, require_writable=True)
        self._take_words = array.array("Q", [0] * _MESSAGE_WORDS)
        self._take_slot: CData = _from_buffer(_MESSAGE_PTR, self._take_words, require_writable=True)
        arr = ffi.new("uint64_t[]", list(scalars))
        config = ffi.new("l3l2q_l2_config *", {"max_inflight": max_inflight, "initial_count": initial_count})
        out = ffi.new("l3l2q_l2_endpoint **")
        violation = ffi.new("enum l3l2q_violation *")
        status = lib.l3l2q_l2_endpoint_create(arr, len(arr), config, out, violation)
        if status != _OK:
            raise make_error(status, "create", violation=violation[0])
        self._h = out[0]
        self._task_scalars = tuple(int(x) for x in arr)

    def _scalars(self) -> Tuple[int, ...]:
        return self._task_scalars

    @classmethod
    def open_shm(cls, name: str, scalars: Sequence[int], *, max_inflight: int = 1) -> "L2Endpoint":
        """Maps the shared-memory object `name`, rebases the host's task
        scalars to this mapping and builds the endpoint; closing it unmaps."""
        shm = SharedMemory.open(name)
        try:
            ep = cls(shm.rebase(scalars), max_inflight=max_inflight, keepalive=shm)
        except BaseException:
            shm.close()
            raise
        ep._shm, ep._own_shm = shm, True
        return ep

    def remote_aborted(self) -> bool:
        """Whether L3 has set its abort flag (writes no shared memory)."""
        return self._remote_aborted()

    def try_peek(self) -> Optional[Message]:
        """Acquires the next input (counts against the window), or None."""
        return self._try_peek()

    def view(self, message: Message) -> memoryview:
        """Zero-copy read-only view of an acquired input, invalidated when
        it is released."""
        return self._view_of(message, readonly=True)

    def release(self, message: Message) -> None:
        self._release(message)

    def try_peek_batch(self, max_count: int) -> List[Message]:
        return self._try_peek_batch(max_count)

    def release_batch(self, messages: Sequence[Message]) -> None:
        self._release_batch(messages)

    def try_take_batch(self, max_count: int) -> List[Received]:
        """Up to `max_count` inputs copied out and released with one head
        store (STOP comes last, with empty data)."""
        return self._take_batch(max_count, "try_take_batch")

    def try_take(self) -> Optional[Received]:
        """The next input copied out and released, or None (STOP comes as
        an empty Received with opcode STOP)."""
        h = self._h
        if h is None:
            raise QueueClosed(self._what)
        m = self._take_slot  # written and read back within this call
        status = _l2_try_peek(h, m)
        if status == _NO_PROGRESS:
            return None
        if status != _OK:
            self._raise(status, "try_take")
        _, opcode, offset, n, _ = self._take_words
        if n:
            # The library validated the span; the payload sits at `offset`
            # in the payload range (as the batch paths read it).
            if self._span_buffer is None:
                self._payload_span()
            data = self._span_buffer[offset : offset + n]
        else:
            data = b""
        got = _new_tuple(Received, (opcode, data))
        status = _l2_release(h, m)
        if status != _OK:
            self._raise(status, "try_take")
        return got

    def try_take_packed(self, buffer: Buffer, max_count: int) -> Packed:
        """Up to `max_count` inputs copied back to back into `buffer` (as
        many as fit) and released with one head store (STOP last, empty)."""
        return self._take_packed(buffer, max_count, "try_take_packed")

    def try_send_packed(self, data: Buffer, size: int, opcode: int = Opcode.DATA) -> int:
        """Sends `data` cut into messages of `size` bytes (the last one may
        be shorter) with one tail store; returns how many went."""
        h = self._live()
        slices, _owner, count = _packed_slices(data, size)
        if count == 0:
            return 0
        return self._send_batch(h, opcode, slices, count, "try_send_packed")

    def drained(self) -> bool:
        """Whether STOP was acquired and released after every earlier input."""
        out = ffi.new("bool *")
        lib.l3l2q_l2_drained(self._live(), out)
        return bool(out[0])

    def try_reserve(self, nbytes: int) -> Optional[Reservation]:
        """Reserves `nbytes` of output arena; fill `.buffer`, then publish."""
        out: CData = ffi.new("l3l2q_reservation *")
        status = lib.l3l2q_l2_try_reserve(self._live(), nbytes, out)
        if status == _NO_PROGRESS:
            return None
        if status != _OK:
            self._raise(status, "try_reserve")
        view = memoryview(ffi.buffer(out.data, out.capacity)) if out.data != ffi.NULL else memoryview(bytearray())
        return Reservation(out, view)

    def reserve(self, nbytes: int, timeout: float) -> Reservation:
        out: CData = ffi.new("l3l2q_reservation *")
        status = lib.l3l2q_l2_reserve(self._live(), nbytes, out, _timeout_ns(timeout))
        if status != _OK:
            self._raise(status, "reserve")
        view = memoryview(ffi.buffer(out.data, out.capacity)) if out.data != ffi.NULL else memoryview(bytearray())
        return Reservation(out, view)

    def publish(self, reservation: Reservation, nbytes: Optional[int] = None, opcode: int = Opcode.DATA) -> None:
        """Publishes the reservation with `nbytes` (default: its capacity)."""
        self._publish(reservation, nbytes, opcode, "publish")

    def try_send(self, data: Buffer, opcode: int = Opcode.DATA) -> bool:
        """Copies `data` into one output and publishes it; False when full."""
        h = self._h
        if h is None:
            raise QueueClosed(self._what)
        if type(data) is bytes or type(data) is bytearray:
            # Always contiguous: nothing for _readable to check.
            ptr, n = _from_buffer(_U8_ARRAY, data), len(data)
        else:
            ptr, n = _readable(data, None)
        words = self._one_words
        self._one_slice.data = ptr
        words[1] = n
        try:
            status = _l2_try_send_batch(h, opcode, self._one_slice, 1, self._size)
        finally:
            words[0] = 0  # NULL: the slice must not outlive `ptr`
        if status == _OK:
            return True
        if status == _NO_PROGRESS:
            return False
        self._raise(status, "try_send")
        raise AssertionError

    def try_send_batch(self, buffers: Sequence[Buffer], opcode: int = Opcode.DATA) -> int:
        """Copies and publishes a prefix of `buffers` with one tail store."""
        h = self._live()
        count = len(buffers)
        if count == 0:
            return 0
        slices, _ptrs = _slice_array(buffers)
        return self._send_batch(h, opcode, slices, count, "try_send_batch")


def version() -> str:
    """The loaded library's version, e.g. "0.1.0"."""
    info: CData = ffi.new("l3l2q_version_info *")
    lib.l3l2q_version(info)
    return c_string(info.library)


__all__ = [
    "Buffer",
    "ErrorInfo",
    "L2Endpoint",
    "L3Queue",
    "Layout",
    "LocalRegion",
    "Message",
    "Opcode",
    "Packed",
    "Received",
    "Region",
    "RegionDescriptor",
    "Reservation",
    "SharedMemory",
    "TASK_SCALARS",
    "version",
]
