"""L3 queue and L2 endpoint over one in-process region: every way in and out."""

import array

import numpy as np
import pytest

import l3l2q
from l3l2q import Opcode


def roundtrip_input(q, ep, payload, **kw):
    assert q.try_enqueue(payload, **kw)
    m = ep.try_peek()
    data = bytes(ep.view(m))
    op = m.opcode
    ep.release(m)
    return op, data


@pytest.mark.parametrize(
    "payload",
    [b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"), array.array("I", [1, 2, 3]),
     np.arange(10, dtype=np.uint16), np.zeros((3, 4), dtype=np.float32)],
    ids=["bytes", "bytearray", "memoryview", "array", "numpy1d", "numpy2d"],
)
def test_any_buffer_goes_in_whole(local, payload):
    _, q, ep = local
    assert roundtrip_input(q, ep, payload) == (Opcode.DATA, memoryview(payload).tobytes())


def test_nbytes_sends_a_prefix_and_none_sends_an_empty_message(local):
    _, q, ep = local
    assert roundtrip_input(q, ep, b"abcdef", nbytes=3) == (1, b"abc")
    assert roundtrip_input(q, ep, None, nbytes=0) == (1, b"")
    assert roundtrip_input(q, ep, b"err", opcode=Opcode.ERROR) == (Opcode.ERROR, b"err")


def test_outputs_by_peek_read_into_view_and_dequeue(local):
    _, q, ep = local
    assert q.try_peek() is None and q.try_dequeue() is None
    assert ep.try_send_batch([b"one", b"two", np.frombuffer(b"three", dtype=np.uint8)]) == 3
    m = q.try_peek()
    assert (m.seq, m.opcode, m.nbytes) == (1, 1, 3)
    assert q.try_peek().seq == 1  # the same message until released
    buf = bytearray(8)
    assert q.read_into(m, buf) == 3 and buf[:3] == b"one"
    out = np.zeros(8, dtype=np.uint8)
    assert q.read_into(m, out) == 3 and out[:3].tobytes() == b"one"
    view = q.view(m)
    assert view.readonly and bytes(view) == b"one"
    q.release(m)
    with pytest.raises(ValueError):
        view[0]  # invalidated by the release
    assert q.try_dequeue_into(buf) == (1, 3) and buf[:3] == b"two"
    assert q.dequeue(timeout=1.0) == (1, b"three")
    with pytest.raises(l3l2q.QueueTimeout) as e:
        q.dequeue(timeout=0.01)
    assert isinstance(e.value, TimeoutError)


def test_reservations_are_zero_copy_on_both_sides(local):
    _, q, ep = local
    q.try_enqueue(b"first")
    ep.release(ep.try_peek())
    r = q.try_reserve(16)
    assert r.seq == 2 and r.capacity == 16  # the seq it will be published with
    r.buffer[:5] = b"hello"
    q.commit(r, 5)
    m = ep.peek(1.0)
    assert m.seq == 2 and bytes(ep.view(m)) == b"hello"
    ep.release(m)
    r = q.try_reserve(4)
    q.write_reserved(r, b"xy", at=2)
    q.commit(r, 4, opcode=Opcode.ERROR)
    m = ep.peek(1.0)
    assert m.opcode == Opcode.ERROR and bytes(ep.view(m))[2:] == b"xy"
    ep.release(m)
    out = ep.reserve(6, timeout=1.0)
    assert out.seq == 1
    out.buffer[:] = b"ABCDEF"
    ep.publish(out, 4)
    assert q.dequeue(1.0) == (1, b"ABCD")


def test_batches_both_ways_in_order_across_many_wraps(local):
    _, q, ep = local
    sent = received = 0
    for round_ in range(300):
        msgs = [f"m{sent + i}".encode() * (1 + (sent + i) % 7) for i in range(5)]
        n = q.try_enqueue_batch(msgs)
        assert n >= 1
        got = ep.try_peek_batch(16)
        assert [bytes(ep.view(m)) for m in got] == msgs[:n]
        assert ep.try_send_batch([bytes(ep.view(m)).upper() for m in got]) == n
        ep.release_batch(got)
        back = q.try_dequeue_batch(16)
        assert [r.data for r in back] == [m.upper() for m in msgs[:n]]
        sent += n
        received += len(back)
    assert sent == received >= 300


def test_packed_batches_cut_one_buffer_into_messages(local):
    _, q, ep = local
    data = np.arange(20, dtype=np.uint8)
    assert q.try_enqueue_packed(data, 8) == 3
    got = ep.try_peek_batch(8)
    assert [bytes(ep.view(m)) for m in got] == [bytes(range(8)), bytes(range(8, 16)), bytes(range(16, 20))]
    ep.release_batch(got)


def test_held_batches_release_in_pieces_and_peek_batch_on_l3(local):
    _, q, ep = local
    ep.try_send_batch([b"a", b"b", b"c"])
    held = q.try_peek_batch(8)
    assert [q.view(m).tobytes() for m in held] == [b"a", b"b", b"c"]
    q.release_batch(held[:1])
    q.release_batch(held[1:])
    assert q.try_peek() is None


def test_views_die_with_release_and_close(local):
    _, q, ep = local
    ep.try_send_batch([b"12345678", b"abc"])
    m = q.try_peek()
    view = q.view(m)
    assert q.view(m) is view  # one view per held message
    assert np.frombuffer(view, dtype=np.uint8).sum() == sum(b"12345678")
    q.release(m)
    with pytest.raises(ValueError):
        bytes(view)
    m2 = q.try_peek()
    view2 = q.view(m2)
    q.close()
    with pytest.raises(ValueError):
        view2.tobytes()
    with pytest.raises(l3l2q.QueueClosed):
        q.view(m2)


def test_stop_drains_the_endpoint(local):
    _, q, ep = local
    q.enqueue(b"last", timeout=1.0)
    assert q.try_request_stop()
    with pytest.raises(l3l2q.Stopped):
        q.try_enqueue(b"late")
    m = ep.try_peek()
    ep.release(m)
    stop = ep.try_peek()
    assert stop.opcode == Opcode.STOP and not ep.drained()
    ep.release(stop)
    assert ep.drained()


def test_full_ring_is_false_not_an_error(local):
    _, q, ep = local
    sent = 0
    while q.try_enqueue(b"x" * 100):
        sent += 1
    assert sent == 8  # the depth, or the arena, whichever fills first
    with pytest.raises(l3l2q.QueueTimeout):
        q.enqueue(b"x", timeout=0.01)
    assert not q.try_request_stop() or True


def test_layout_scalars_and_identity(local):
    region, q, ep = local
    assert q.layout == ep.layout == region.layout == l3l2q.Layout.compute(8, 1024, 1024)
    s = q.task_scalars()
    assert len(s) == l3l2q.TASK_SCALARS and s[1] == region.descriptor.region_id
    assert q.error().kind == 0 and q.error().kind_name == "NONE"
    assert l3l2q.version() == l3l2q.__version__


def test_packed_dequeue_and_take_fill_one_buffer_without_objects_per_message(local):
    _, q, ep = local
    for round_ in range(40):  # wraps the arenas, so some batches are split in two
        data = np.arange(7 * 24, dtype=np.uint8) + round_
        assert q.try_enqueue_packed(data, 24) == 7
        out = np.zeros(7 * 24, dtype=np.uint8)
        got = ep.try_take_packed(out, 16)
        assert got.sizes == [24] * 7 and got.opcodes == [1] * 7
        assert (out == data).all()
        assert ep.try_send_packed(out[:100], 30) == 4  # 30, 30, 30, 10
        back = bytearray(200)
        got = q.try_dequeue_packed(back, 16)
        assert got.sizes == [30, 30, 30, 10] and bytes(back[:100]) == data[:100].tobytes()
    assert q.try_dequeue_packed(bytearray(8), 4) == ([], [])


def test_packed_takes_the_prefix_that_fits(local):
    _, q, ep = local
    ep.try_send_batch([b"aaaa", b"bbbbbb", b"cc"], l3l2q.Opcode.ERROR)
    buf = bytearray(8)
    assert q.try_dequeue_packed(buf, 8) == ([3], [4]) and buf[:4] == b"aaaa"
    with pytest.raises(l3l2q.BufferTooSmall):
        q.try_dequeue_packed(bytearray(5), 8)
    with pytest.raises(ValueError):
        q.try_dequeue_packed(b"read-only buffer", 8)
    assert q.try_dequeue_packed(buf, 8) == ([3, 3], [6, 2]) and buf == b"bbbbbbcc"


def test_take_copies_one_input_out_and_releases_it(local):
    _, q, ep = local
    assert ep.try_take() is None
    q.try_enqueue(b"one")
    q.try_enqueue(None, 0, opcode=Opcode.ERROR)
    q.try_request_stop()
    assert ep.try_take() == (Opcode.DATA, b"one")
    assert ep.try_take() == (Opcode.ERROR, b"")
    assert ep.try_take() == (Opcode.STOP, b"")
    assert ep.drained() and ep.try_take() is None


@pytest.mark.parametrize(
    "kind", [bytes, bytearray, memoryview, lambda b: np.frombuffer(b, dtype=np.uint8)],
    ids=["bytes", "bytearray", "memoryview", "numpy"],
)
def test_single_message_paths_copy_every_buffer_kind_across_the_arena(local, kind):
    """Sizes chosen so payloads land all over both arenas (and wrap)."""
    _, q, ep = local
    buf = bytearray(1024)
    for i in range(40):
        payload = bytes((i + j) % 251 for j in range(i * 7 % 300))
        src = kind(bytearray(payload))
        assert q.try_enqueue(src)
        got = ep.try_take()
        assert type(got) is l3l2q.Received and type(got.data) is bytes
        assert got == (Opcode.DATA, payload)
        assert ep.try_send(src, Opcode.ERROR if i % 2 else Opcode.DATA)
        if i % 3 == 0:
            out = q.try_dequeue()
            assert type(out) is l3l2q.Received and type(out.data) is bytes
            assert out == (Opcode.ERROR if i % 2 else Opcode.DATA, payload)
        elif i % 3 == 1:
            assert q.try_dequeue_into(buf) == (Opcode.ERROR if i % 2 else Opcode.DATA, len(payload))
            assert buf[: len(payload)] == payload
        else:
            m = q.try_peek()
            assert q.read_into(m, buf) == len(payload) and buf[: len(payload)] == payload
            q.release(m)
    assert ep.try_take() is None and q.try_dequeue() is None


def test_single_message_paths_refuse_after_close(local):
    _, q, ep = local
    ep.try_send(b"held")
    m = q.try_peek()
    q.close()
    ep.close()
    for call in (lambda: q.try_enqueue(b"x"), lambda: q.try_enqueue(bytearray(1)), lambda: q.try_dequeue(),
                 lambda: q.try_dequeue_into(bytearray(8)), lambda: q.read_into(m, bytearray(8)),
                 lambda: q.release(m), lambda: ep.try_take(), lambda: ep.try_send(b"x"),
                 lambda: ep.try_send(bytearray(1))):
        with pytest.raises(l3l2q.QueueClosed):
            call()
