"""l3l2q.compat: the other wrapper's Python names over this library."""

import struct

import numpy as np
import pytest

import l3l2q
from l3l2q import compat
from l3l2q.compat import (
    WorkerChipQueue,
    WorkerChipQueueLayout,
    WorkerChipQueueMessage,
    WorkerChipQueueOpcode,
    make_worker_chip_queue_layout,
    worker_chip_queue_magic_version,
)


class Counter:
    def __init__(self, region, offset):
        self.region, self.offset = region, offset

    def notify(self, value, op):
        assert op == compat.COUNTER_NOTIFY_SET
        struct.pack_into("<I", self.region.local.counters, self.offset, value)

    def load(self):
        return struct.unpack_from("<I", self.region.local.counters, self.offset)[0]


class PeerRegion:
    """The orchestrator's region object as the other wrapper sees it."""

    def __init__(self, depth=8, arena=1024):
        self.local = l3l2q.LocalRegion(depth, arena, arena)
        self.freed = 0

    def payload_write(self, offset, data):
        assert isinstance(data, bytes)
        self.local.payload[offset : offset + len(data)] = data

    def payload_read(self, offset, nbytes):
        return bytes(self.local.payload[offset : offset + nbytes])

    def counter(self, offset):
        return Counter(self, offset)

    def descriptor_scalars(self):
        d = self.local.descriptor
        return [d.magic_version, d.region_id, d.payload_base, d.payload_bytes, d.counter_base, d.counter_bytes]

    def free(self):
        self.freed += 1


def test_constants_enums_and_layout():
    assert compat.WORKER_CHIP_QUEUE_MAGIC == 0x4C335132
    assert (compat.WORKER_CHIP_QUEUE_ABI_MAJOR, compat.WORKER_CHIP_QUEUE_ABI_MINOR) == (1, 1)
    assert compat.WORKER_CHIP_QUEUE_MAGIC_VERSION == worker_chip_queue_magic_version() == (0x4C335132 << 32) | (1 << 16) | 1
    assert compat.WORKER_CHIP_QUEUE_DESC_SLOT_BYTES == 32
    assert compat.WORKER_CHIP_QUEUE_DESC_RING_ALIGNMENT == 8
    assert compat.WORKER_CHIP_QUEUE_PAYLOAD_ARENA_ALIGNMENT == 64
    assert compat.WORKER_CHIP_QUEUE_COUNTER_STRIDE == 64
    assert [compat.WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET, compat.WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET,
            compat.WORKER_CHIP_QUEUE_OUTPUT_DESC_TAIL_OFFSET, compat.WORKER_CHIP_QUEUE_OUTPUT_DESC_HEAD_OFFSET,
            compat.WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET, compat.WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET,
            compat.WORKER_CHIP_QUEUE_COUNTER_BYTES] == [0, 64, 128, 192, 256, 320, 384]
    assert compat.WORKER_CHIP_QUEUE_MAX_DEPTH == 1 << 30
    assert [(o.name, int(o)) for o in WorkerChipQueueOpcode] == [("INVALID", 0), ("DATA", 1), ("STOP", 2), ("ERROR", 3)]
    layout = make_worker_chip_queue_layout(4, 128, 192)
    assert isinstance(layout, WorkerChipQueueLayout)
    assert [f for f in layout.__dataclass_fields__] == [
        "depth", "input_desc_offset", "output_desc_offset", "input_arena_offset", "output_arena_offset",
        "input_arena_bytes", "output_arena_bytes", "payload_bytes", "input_desc_tail_offset",
        "input_desc_head_offset", "output_desc_tail_offset", "output_desc_head_offset",
        "worker_abort_flag_offset", "chip_abort_flag_offset", "counter_bytes"]
    assert (layout.depth, layout.output_desc_offset, layout.input_arena_offset, layout.output_arena_offset,
            layout.payload_bytes, layout.counter_bytes) == (4, 128, 256, 384, 576, 384)
    with pytest.raises(Exception):
        layout.depth = 8  # frozen
    for bad in [(3, 128, 128), (4, 100, 128), (4, 128, 0), (-1, 128, 128), (1 << 31, 64, 64)]:
        with pytest.raises(ValueError):
            make_worker_chip_queue_layout(*bad)
    assert WorkerChipQueueMessage(1, WorkerChipQueueOpcode.DATA, 0, 0).seq == 1


def test_host_code_runs_over_a_peer_region_object():
    region = PeerRegion()
    q = WorkerChipQueue(region, 8, 1024, 1024)
    assert q.region is region and q.magic_version == worker_chip_queue_magic_version()
    assert q.layout == make_worker_chip_queue_layout(8, 1024, 1024)
    scalars = q.chip_task_arg_scalars()
    assert len(scalars) == 12 and scalars[:6] == region.descriptor_scalars()
    ep = l3l2q.L2Endpoint(scalars, max_inflight=8)

    assert q.input.try_enqueue(b"hello", 5)
    q.input.enqueue(np.arange(4, dtype=np.uint8), 3, 1.0)
    q.input.enqueue(None, 0, 1.0)
    got = [bytes(ep.view(m)) for m in ep.try_peek_batch(8)]
    assert got == [b"hello", bytes([0, 1, 2]), b""]
    with pytest.raises(ValueError):
        q.input.try_enqueue(b"abc", 4)

    assert q.output.try_peek() is None
    ep.try_send_batch([b"out-1", b"out-2", b"out-3"])
    ep.try_send(b"failed", l3l2q.Opcode.ERROR)
    m = q.output.try_peek()
    assert m == WorkerChipQueueMessage(1, WorkerChipQueueOpcode.DATA, m.payload_offset, 5)
    buf = bytearray(16)
    assert q.output.read_into(m, buf) == 5 and buf[:5] == b"out-1"
    q.output.release(m)
    m2 = q.output.peek(1.0)
    assert m2.seq == 2
    q.output.release(m2)
    m3 = q.output.dequeue_into(buf, 1.0)
    assert (m3.seq, m3.payload_nbytes, bytes(buf[:5])) == (3, 5, b"out-3")
    m4 = q.output.try_dequeue_into(buf)
    assert m4.opcode is WorkerChipQueueOpcode.ERROR and bytes(buf[:6]) == b"failed"
    assert q.output.try_dequeue_into(buf) is None
    with pytest.raises(TimeoutError):
        q.output.peek(0.01)
    with pytest.raises(TimeoutError):
        q.output.dequeue_into(buf, 0.01)

    assert q.try_request_stop()
    with pytest.raises(RuntimeError):
        q.input.try_enqueue(b"late", 4)
    ep.close()
    q.free()
    q.free()  # idempotent
    assert region.freed == 1
    for call in (lambda: q.input.try_enqueue(b"x", 1), lambda: q.output.try_peek(), lambda: q.request_stop(1.0),
                 lambda: q.chip_task_arg_scalars()):
        with pytest.raises(RuntimeError, match="closed"):
            call()


def test_bad_output_buffers_are_value_errors():
    region = PeerRegion()
    q = WorkerChipQueue(region, 8, 1024, 1024)
    ep = l3l2q.L2Endpoint(q.chip_task_arg_scalars())
    ep.try_send(b"0123456789")
    m = q.output.try_peek()
    for bad in (b"readonly-buffer!", bytearray(4), np.zeros((4, 4), dtype=np.uint8)[:, ::2]):
        with pytest.raises(ValueError):
            q.output.read_into(m, bad)
    with pytest.raises(ValueError):
        q.output.release(WorkerChipQueueMessage(9, WorkerChipQueueOpcode.DATA, 0, 0))
    q.output.release(m)
    ep.close()
    q.free()


def test_poisoned_and_remote_aborted_queues_raise_runtime_error():
    region = PeerRegion()
    q = WorkerChipQueue(region, 8, 1024, 1024)
    struct.pack_into("<I", region.local.counters, compat.WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET, 1)
    with pytest.raises(RuntimeError, match="REMOTE_ABORTED"):
        q.output.peek(0.01)
    with pytest.raises(RuntimeError, match="REMOTE_ABORTED"):
        q.input.try_enqueue(b"x", 1)
    q.free()


def test_from_queue_wraps_a_shared_memory_queue(shm_name):
    with l3l2q.L3Queue.create_shm(shm_name, 4, 256, 256) as inner:
        q = WorkerChipQueue.from_queue(inner)
        ep = l3l2q.L2Endpoint.open_shm(shm_name, q.chip_task_arg_scalars())
        q.input.enqueue(b"ping", 4, 1.0)
        m = ep.peek(1.0)
        ep.try_send(bytes(ep.view(m)).upper())
        ep.release(m)
        buf = bytearray(4)
        assert q.output.dequeue_into(buf, 1.0).payload_nbytes == 4 and buf == b"PING"
        ep.close()
        q.free()
        assert inner.closed
