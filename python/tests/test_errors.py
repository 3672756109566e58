"""Bad input is refused before anything changes; statuses become typed
exceptions; poisoned and remote-aborted handles say why and stay failed."""

import struct

import numpy as np
import pytest

import l3l2q
from l3l2q import Opcode


# ---- bad input ---------------------------------------------------------------

@pytest.mark.parametrize("bad", ["text", 42, [1, 2], object(), 3.5], ids=["str", "int", "list", "object", "float"])
def test_non_buffers_are_type_errors(local, bad):
    _, q, ep = local
    with pytest.raises(TypeError):
        q.try_enqueue(bad)
    with pytest.raises(TypeError):
        q.try_enqueue_batch([b"ok", bad])
    ep.try_send(b"x")
    m = q.try_peek()
    with pytest.raises((TypeError, ValueError)):
        q.read_into(m, bad)
    assert ep.try_peek() is None, "nothing was sent"


def test_nbytes_beyond_the_buffer_and_buffer_without_nbytes(local):
    _, q, ep = local
    for nbytes in (5, -1):
        with pytest.raises(ValueError):
            q.try_enqueue(b"abcd", nbytes)
    with pytest.raises(ValueError):
        q.try_enqueue(None, 3)
    with pytest.raises(ValueError):
        q.enqueue(np.zeros(2, dtype=np.uint32), 9, timeout=1.0)
    assert ep.try_peek() is None


def test_non_contiguous_buffers_are_refused(local):
    _, q, _ = local
    strided = np.arange(16, dtype=np.uint8).reshape(4, 4)[:, ::2]
    with pytest.raises(ValueError):
        q.try_enqueue(strided)
    with pytest.raises(ValueError):
        q.try_dequeue_into(np.zeros((4, 4), dtype=np.uint8)[:, ::2])


@pytest.mark.parametrize(
    "readonly",
    [b"12345678", memoryview(bytearray(8)).toreadonly(), np.zeros(8, dtype=np.uint8)],
    ids=["bytes", "readonly-memoryview", "readonly-numpy"],
)
def test_read_only_output_buffers_are_value_errors(local, readonly):
    _, q, ep = local
    if isinstance(readonly, np.ndarray):
        readonly.flags.writeable = False
    ep.try_send(b"abc")
    m = q.try_peek()
    with pytest.raises(ValueError):
        q.read_into(m, readonly)
    with pytest.raises(ValueError):
        q.try_dequeue_into(readonly)
    assert q.try_dequeue() == (1, b"abc"), "the message stayed held"


def test_too_small_output_buffer_keeps_the_message(local):
    _, q, ep = local
    ep.try_send(b"0123456789")
    small = bytearray(4)
    with pytest.raises(l3l2q.BufferTooSmall) as e:
        q.try_dequeue_into(small)
    assert isinstance(e.value, ValueError)
    assert q.try_dequeue() == (1, b"0123456789")


def test_bad_sizes_and_timeouts(local):
    _, q, _ = local
    with pytest.raises(l3l2q.BadDescriptor) as e:
        l3l2q.Layout.compute(3, 64, 64)
    assert e.value.violation == l3l2q._ffi.lib.L3L2Q_VIOLATION_DEPTH and "depth" in str(e.value).lower()
    with pytest.raises(ValueError):
        l3l2q.LocalRegion(8, 100, 64)
    with pytest.raises(l3l2q.BadArgument):
        q.try_enqueue(bytes(2048))  # larger than the input arena
    for t in (-1.0, float("nan")):
        with pytest.raises(ValueError):
            q.peek(t)
    with pytest.raises(ValueError):
        q.try_enqueue_packed(b"abc", 0)


# ---- closed handles and use after free -----------------------------------------

def test_every_call_on_a_closed_queue_raises_queue_closed():
    region = l3l2q.LocalRegion(4, 256, 256)
    with l3l2q.L3Queue.over_local(region) as q:
        ep = l3l2q.L2Endpoint(q.task_scalars())
        ep.try_send(b"held")
        held = q.try_peek()
    assert q.closed
    q.close()  # idempotent
    calls = [
        lambda: q.try_enqueue(b"x"), lambda: q.enqueue(b"x", timeout=0), lambda: q.try_enqueue_batch([b"x"]),
        lambda: q.try_peek(), lambda: q.peek(0), lambda: q.read_into(held, bytearray(8)), lambda: q.release(held),
        lambda: q.view(held), lambda: q.try_dequeue(), lambda: q.dequeue_into(bytearray(8), 0),
        lambda: q.try_request_stop(), lambda: q.request_stop(0), lambda: q.task_scalars(), lambda: q.layout,
        lambda: q.error(), lambda: q.try_peek_batch(4), lambda: q.release_batch([held]), lambda: q.try_reserve(4),
    ]
    for call in calls:
        with pytest.raises(l3l2q.QueueClosed) as e:
            call()
        assert isinstance(e.value, RuntimeError)
    ep.close()
    with pytest.raises(l3l2q.QueueClosed):
        ep.try_peek()


def test_a_message_released_twice_or_to_another_queue_poisons_with_ownership(local):
    _, q, ep = local
    ep.try_send_batch([b"a", b"b"])
    m = q.try_peek()
    q.release(m)
    with pytest.raises(l3l2q.Poisoned) as e:
        q.release(m)  # use after release
    err = e.value
    assert isinstance(err, RuntimeError)
    assert err.kind == l3l2q._ffi.lib.L3L2Q_ERROR_KIND_OWNERSHIP and err.kind_name == "OWNERSHIP"
    assert err.operation == l3l2q._ffi.lib.L3L2Q_OPERATION_RELEASE
    assert err.detail and err.detail in str(err)
    # Poisoned is terminal: every later call fails the same way.
    with pytest.raises(l3l2q.Poisoned):
        q.try_dequeue()
    assert q.error().kind_name == "OWNERSHIP"
    with pytest.raises(l3l2q.BadArgument):
        ep.view(m)  # a message of another handle


def test_a_corrupt_descriptor_poisons_with_invalid_descriptor(local):
    region, q, ep = local
    ep.try_send(b"x")
    slot = region.layout.output_desc_offset
    struct.pack_into("<Q", region.payload, slot + 8, 77)  # opcode 77
    with pytest.raises(l3l2q.Poisoned) as e:
        q.try_peek()
    assert e.value.kind == l3l2q._ffi.lib.L3L2Q_ERROR_KIND_INVALID_DESCRIPTOR
    assert e.value.operation_name == "peek"
    assert e.value.region_id == region.descriptor.region_id


def test_remote_abort_is_reported_and_terminal(local):
    region, q, ep = local
    assert not q.remote_aborted()
    struct.pack_into("<I", region.counters, l3l2q._ffi.lib.L3L2Q_L2_ABORT_FLAG_OFFSET, 1)
    with pytest.raises(l3l2q.RemoteAborted) as e:
        q.peek(0.01)
    err = e.value
    assert isinstance(err, RuntimeError) and not isinstance(err, TimeoutError)
    assert err.kind_name == "REMOTE_ABORTED" and err.operation_name == "timeout"
    assert q.remote_aborted()
    with pytest.raises(l3l2q.RemoteAborted):
        q.try_enqueue(b"x")


def test_remote_abort_query_records_it(local):
    region, q, ep = local
    struct.pack_into("<I", region.counters, l3l2q._ffi.lib.L3L2Q_L3_ABORT_FLAG_OFFSET, 1)
    assert ep.remote_aborted()
    with pytest.raises(l3l2q.RemoteAborted) as e:
        ep.try_peek()
    assert e.value.operation_name == "timeout"
