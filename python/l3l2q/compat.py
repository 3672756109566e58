"""The Python surface of the other implementation's L3 wrapper (the
``WorkerChip`` names), over this library: host code written for it ports
by changing its import to ``from l3l2q.compat import ...``.

Everything here renames or converts and then calls :mod:`l3l2q` (and so the
C library); there is no protocol logic in this module.

A queue is built over the orchestrator's region object, whose methods are
``payload_write(offset, bytes)``, ``payload_read(offset, nbytes)``,
``counter(offset)``, ``descriptor_scalars()`` (the six region descriptor
scalars, as L2 sees them) and ``free()``. The counter object's store is
``notify(value, op)``; since that interface names no plain load, the
counter loads go through ``counter(offset).load()`` unless the queue is
given its own ``counter_load``/``counter_store`` functions. A queue can also
wrap any :class:`l3l2q.L3Queue` (e.g. over shared memory) with
:meth:`WorkerChipQueue.from_queue`.

Errors: ``TimeoutError`` for an ordinary timeout; ``RuntimeError`` once the
queue is released, poisoned or remote-aborted (the message says which);
``ValueError`` for bad arguments. The raised objects are the
:mod:`l3l2q.errors` classes, which derive from those built-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Callable, Dict, List, Optional

from ._core import Buffer, L3Queue, Layout, Message, RegionDescriptor
from ._ffi import ffi, lib

WORKER_CHIP_QUEUE_MAGIC: int = lib.L3L2Q_QUEUE_MAGIC
WORKER_CHIP_QUEUE_ABI_MAJOR: int = lib.L3L2Q_QUEUE_ABI_MAJOR
WORKER_CHIP_QUEUE_ABI_MINOR: int = lib.L3L2Q_QUEUE_ABI_MINOR
WORKER_CHIP_QUEUE_DESC_SLOT_BYTES: int = lib.L3L2Q_SLOT_BYTES
#: Descriptor slots are u64 words (SPEC 4); the header names no constant.
WORKER_CHIP_QUEUE_DESC_RING_ALIGNMENT: int = 8
WORKER_CHIP_QUEUE_PAYLOAD_ARENA_ALIGNMENT: int = lib.L3L2Q_ARENA_ALIGN
WORKER_CHIP_QUEUE_COUNTER_STRIDE: int = lib.L3L2Q_COUNTER_STRIDE
WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET: int = lib.L3L2Q_INPUT_DESC_TAIL_OFFSET
WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET: int = lib.L3L2Q_INPUT_DESC_HEAD_OFFSET
WORKER_CHIP_QUEUE_OUTPUT_DESC_TAIL_OFFSET: int = lib.L3L2Q_OUTPUT_DESC_TAIL_OFFSET
WORKER_CHIP_QUEUE_OUTPUT_DESC_HEAD_OFFSET: int = lib.L3L2Q_OUTPUT_DESC_HEAD_OFFSET
WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET: int = lib.L3L2Q_L3_ABORT_FLAG_OFFSET
WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET: int = lib.L3L2Q_L2_ABORT_FLAG_OFFSET
WORKER_CHIP_QUEUE_COUNTER_BYTES: int = lib.L3L2Q_COUNTER_BYTES
WORKER_CHIP_QUEUE_MAX_DEPTH: int = lib.L3L2Q_DEPTH_MAX

#: The `op` passed to ``counter(offset).notify(value, op)`` for a store.
COUNTER_NOTIFY_SET = "set"


def worker_chip_queue_magic_version() -> int:
    """The queue magic/ABI word (SPEC 2)."""
    out = ffi.new("uint64_t *")
    lib.l3l2q_magic_version_pack(WORKER_CHIP_QUEUE_MAGIC, WORKER_CHIP_QUEUE_ABI_MAJOR, WORKER_CHIP_QUEUE_ABI_MINOR, out)
    return int(out[0])


WORKER_CHIP_QUEUE_MAGIC_VERSION: int = worker_chip_queue_magic_version()


class WorkerChipQueueOpcode(IntEnum):
    INVALID = lib.L3L2Q_OPCODE_INVALID
    DATA = lib.L3L2Q_OPCODE_DATA
    STOP = lib.L3L2Q_OPCODE_STOP
    ERROR = lib.L3L2Q_OPCODE_ERROR


@dataclass(frozen=True)
class WorkerChipQueueLayout:
    depth: int
    input_desc_offset: int
    output_desc_offset: int
    input_arena_offset: int
    output_arena_offset: int
    input_arena_bytes: int
    output_arena_bytes: int
    payload_bytes: int
    input_desc_tail_offset: int
    input_desc_head_offset: int
    output_desc_tail_offset: int
    output_desc_head_offset: int
    worker_abort_flag_offset: int
    chip_abort_flag_offset: int
    counter_bytes: int

    @staticmethod
    def _from(layout: Layout) -> "WorkerChipQueueLayout":
        return WorkerChipQueueLayout(
            depth=layout.depth,
            input_desc_offset=layout.input_desc_offset,
            output_desc_offset=layout.output_desc_offset,
            input_arena_offset=layout.input_arena_offset,
            output_arena_offset=layout.output_arena_offset,
            input_arena_bytes=layout.input_arena_bytes,
            output_arena_bytes=layout.output_arena_bytes,
            payload_bytes=layout.payload_bytes,
            input_desc_tail_offset=WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET,
            input_desc_head_offset=WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET,
            output_desc_tail_offset=WORKER_CHIP_QUEUE_OUTPUT_DESC_TAIL_OFFSET,
            output_desc_head_offset=WORKER_CHIP_QUEUE_OUTPUT_DESC_HEAD_OFFSET,
            worker_abort_flag_offset=WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET,
            chip_abort_flag_offset=WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET,
            counter_bytes=layout.counter_bytes,
        )


@dataclass(frozen=True)
class WorkerChipQueueMessage:
    seq: int
    opcode: WorkerChipQueueOpcode
    payload_offset: int
    payload_nbytes: int


def make_worker_chip_queue_layout(depth: int, input_arena_bytes: int, output_arena_bytes: int) -> WorkerChipQueueLayout:
    """SPEC 3 layout; ValueError on bad input."""
    for name, value in (("depth", depth), ("input_arena_bytes", input_arena_bytes), ("output_arena_bytes", output_arena_bytes)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 64:
            raise ValueError(f"{name} must be an unsigned 64-bit integer, got {value!r}")
    return WorkerChipQueueLayout._from(Layout.compute(depth, input_arena_bytes, output_arena_bytes))


class _PeerRegion:
    """The peer's region object seen through :class:`l3l2q.Region`."""

    def __init__(
        self,
        region: Any,
        counter_store: Optional[Callable[[Any, int, int], None]],
        counter_load: Optional[Callable[[Any, int], int]],
    ) -> None:
        self.region = region
        self._store = counter_store or (lambda r, off, v: r.counter(off).notify(v, COUNTER_NOTIFY_SET))
        self._load = counter_load or (lambda r, off: r.counter(off).load())

    def payload_write(self, offset: int, data: memoryview) -> None:
        self.region.payload_write(offset, bytes(data))

    def payload_read(self, offset: int, nbytes: int) -> Buffer:
        return self.region.payload_read(offset, nbytes)

    def counter_store(self, offset: int, value: int) -> None:
        self._store(self.region, offset, value)

    def counter_load(self, offset: int) -> int:
        return int(self._load(self.region, offset))


def _message(m: Message) -> WorkerChipQueueMessage:
    return WorkerChipQueueMessage(m.seq, WorkerChipQueueOpcode(m.opcode), m.payload_offset, m.nbytes)


class _Input:
    def __init__(self, owner: "WorkerChipQueue") -> None:
        self._owner = owner

    def try_enqueue(self, buffer: Optional[Buffer], nbytes: int) -> bool:
        return self._owner._queue_or_raise().try_enqueue(buffer, nbytes)

    def enqueue(self, buffer: Optional[Buffer], nbytes: int, timeout_s: float) -> None:
        self._owner._queue_or_raise().enqueue(buffer, nbytes, timeout=timeout_s)


class _Output:
    def __init__(self, owner: "WorkerChipQueue") -> None:
        self._owner = owner
        self._held: Dict[int, Message] = {}

    def _held_message(self, message: WorkerChipQueueMessage) -> Message:
        held = self._held.get(message.seq)
        if held is None:
            raise ValueError(f"message seq {message.seq} is not held")
        return held

    def _hold(self, m: Message) -> WorkerChipQueueMessage:
        self._held[m.seq] = m
        return _message(m)

    def try_peek(self) -> Optional[WorkerChipQueueMessage]:
        m = self._owner._queue_or_raise().try_peek()
        return None if m is None else self._hold(m)

    def peek(self, timeout_s: float) -> WorkerChipQueueMessage:
        return self._hold(self._owner._queue_or_raise().peek(timeout_s))

    def read_into(self, message: WorkerChipQueueMessage, buffer: Buffer) -> int:
        return self._owner._queue_or_raise().read_into(self._held_message(message), buffer)

    def release(self, message: WorkerChipQueueMessage) -> None:
        q = self._owner._queue_or_raise()
        q.release(self._held_message(message))
        del self._held[message.seq]

    def dequeue_into(self, buffer: Buffer, timeout_s: float) -> WorkerChipQueueMessage:
        message = self.peek(timeout_s)
        self.read_into(message, buffer)
        self.release(message)
        return message

    def try_dequeue_into(self, buffer: Buffer) -> Optional[WorkerChipQueueMessage]:
        message = self.try_peek()
        if message is None:
            return None
        self.read_into(message, buffer)
        self.release(message)
        return message


class WorkerChipQueue:
    """The L3 queue: ``WorkerChipQueue(region, depth, input_arena_bytes,
    output_arena_bytes)`` over a region object with the peer's interface."""

    def __init__(
        self,
        region: Any,
        depth: int,
        input_arena_bytes: int,
        output_arena_bytes: int,
        *,
        counter_store: Optional[Callable[[Any, int, int], None]] = None,
        counter_load: Optional[Callable[[Any, int], int]] = None,
    ) -> None:
        scalars = [int(x) for x in region.descriptor_scalars()]
        if len(scalars) != 6:
            raise ValueError(f"descriptor_scalars() gave {len(scalars)} values, 6 expected")
        queue = L3Queue.over_region(
            _PeerRegion(region, counter_store, counter_load),
            RegionDescriptor(*scalars),
            depth,
            input_arena_bytes,
            output_arena_bytes,
        )
        self._init(queue, region)

    @classmethod
    def from_queue(cls, queue: L3Queue, region: Any = None) -> "WorkerChipQueue":
        """Wraps an existing :class:`l3l2q.L3Queue`; free() closes it."""
        self = cls.__new__(cls)
        self._init(queue, region)
        return self

    def _init(self, queue: L3Queue, region: Any) -> None:
        self._queue: Optional[L3Queue] = queue
        self._region = region
        self.layout = WorkerChipQueueLayout._from(queue.layout)
        self.magic_version = WORKER_CHIP_QUEUE_MAGIC_VERSION
        self.input = _Input(self)
        self.output = _Output(self)

    @property
    def region(self) -> Any:
        return self._region

    def _queue_or_raise(self) -> L3Queue:
        q = self._queue
        if q is None:
            from .errors import QueueClosed

            raise QueueClosed("queue (released by free())")
        return q

    def chip_task_arg_scalars(self) -> List[int]:
        """The twelve scalars the L2 task starts with."""
        return list(self._queue_or_raise().task_scalars())

    def try_request_stop(self) -> bool:
        return self._queue_or_raise().try_request_stop()

    def request_stop(self, timeout_s: float) -> None:
        self._queue_or_raise().request_stop(timeout_s)

    def free(self) -> None:
        """Frees the queue and then the region (idempotent)."""
        q, self._queue = self._queue, None
        if q is None:
            return
        self.output._held.clear()
        q.close()
        free = getattr(self._region, "free", None)
        if free is not None:
            free()

    def __enter__(self) -> "WorkerChipQueue":
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()


__all__ = [name for name in dir() if name.startswith(("WORKER_CHIP_QUEUE_", "WorkerChip"))] + [
    "COUNTER_NOTIFY_SET",
    "make_worker_chip_queue_layout",
    "worker_chip_queue_magic_version",
]
