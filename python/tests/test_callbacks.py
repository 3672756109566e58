"""An L3 queue over a region reached only through callbacks (as a host
reaching device memory through its own runtime would), talking to an L2
endpoint that maps the same memory directly."""

import struct

import numpy as np
import pytest

import l3l2q


class MemRegion:
    """A Region over a LocalRegion's memory, counting calls."""

    def __init__(self, local):
        self.local = local
        self.calls = {"payload_write": 0, "payload_read": 0, "counter_store": 0, "counter_load": 0}
        self.fail = None

    def _hit(self, name):
        self.calls[name] += 1
        if self.fail == name:
            raise OSError(f"injected {name} failure")

    def payload_write(self, offset, data):
        self._hit("payload_write")
        self.local.payload[offset : offset + len(data)] = data

    def payload_read(self, offset, nbytes):
        self._hit("payload_read")
        return bytes(self.local.payload[offset : offset + nbytes])

    def counter_store(self, offset, value):
        self._hit("counter_store")
        struct.pack_into("<I", self.local.counters, offset, value)

    def counter_load(self, offset):
        self._hit("counter_load")
        return struct.unpack_from("<I", self.local.counters, offset)[0]


@pytest.fixture
def over_callbacks():
    local = l3l2q.LocalRegion(4, 512, 512)
    region = MemRegion(local)
    assert isinstance(region, l3l2q.Region)
    q = l3l2q.L3Queue.over_region(region, local.descriptor, 4, 512, 512)
    ep = l3l2q.L2Endpoint(q.task_scalars(), max_inflight=4)
    yield region, q, ep
    ep.close()
    q.close()


def test_messages_flow_through_the_callbacks(over_callbacks):
    region, q, ep = over_callbacks
    for i in range(20):  # several wraps of a depth-4 ring
        payload = np.full(3 + i, i, dtype=np.uint8)
        q.enqueue(payload, timeout=1.0)
        m = ep.peek(1.0)
        assert bytes(ep.view(m)) == payload.tobytes()
        ep.release(m)
        ep.try_send(payload.tobytes()[::-1])
        assert q.dequeue(1.0) == (1, payload.tobytes()[::-1])
    assert all(n > 0 for n in region.calls.values()), region.calls
    ep.try_send_batch([b"a", b"bc"])
    assert [r.data for r in q.try_dequeue_batch(4)] == [b"a", b"bc"]


def test_no_zero_copy_view_without_a_mapping(over_callbacks):
    _, q, ep = over_callbacks
    ep.try_send(b"xyz")
    m = q.try_peek()
    with pytest.raises(l3l2q.BadArgument):
        q.view(m)
    buf = bytearray(3)
    assert q.read_into(m, buf) == 3 and buf == b"xyz"
    q.release(m)
    r = q.try_reserve(4)
    with pytest.raises(l3l2q.BadArgument):
        r.buffer
    q.write_reserved(r, b"abcd")
    q.commit(r)
    assert bytes(ep.view(ep.try_peek())) == b"abcd"


def test_a_failing_callback_raises_with_the_cause(over_callbacks):
    region, q, ep = over_callbacks
    region.fail = "counter_load"
    with pytest.raises(l3l2q.L3L2QError) as e:
        q.try_peek()
    assert isinstance(e.value.__cause__, OSError)
    assert "injected counter_load" in str(e.value.__cause__)


def test_a_failing_payload_write_is_reported(over_callbacks):
    region, q, _ = over_callbacks
    region.fail = "payload_write"
    with pytest.raises(l3l2q.L3L2QError) as e:
        q.try_enqueue(b"data")
    assert isinstance(e.value.__cause__, OSError)


def test_an_impossible_counter_value_fails_the_call():
    local = l3l2q.LocalRegion(4, 512, 512)

    class Liar(MemRegion):
        def counter_load(self, offset):
            return -1

    q = l3l2q.L3Queue.over_region(Liar(local), local.descriptor, 4, 512, 512)
    with pytest.raises(l3l2q.L3L2QError) as e:
        q.try_peek()
    assert isinstance(e.value.__cause__, ValueError)
    q.close()
