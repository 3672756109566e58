"""Named shared memory: create/open, errors, and a two-process exchange with
the C L2 worker (examples/c/l2_worker.c)."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

import l3l2q


def test_create_open_and_name_errors(shm_name):
    with l3l2q.SharedMemory.create(shm_name, 4, 256, 512, region_id=7) as shm:
        assert Path("/dev/shm" + shm_name).exists()
        assert shm.queue_args() == (4, 256, 512)
        assert shm.descriptor().region_id == 7
        with pytest.raises(l3l2q.ShmExists) as e:
            l3l2q.SharedMemory.create(shm_name, 4, 256, 512)
        assert isinstance(e.value, FileExistsError)
        with l3l2q.SharedMemory.open(shm_name) as other:
            assert other.queue_args() == (4, 256, 512)
            assert other.descriptor().payload_base != shm.descriptor().payload_base
    with pytest.raises(l3l2q.ShmNotFound) as e:
        l3l2q.SharedMemory.open(shm_name)
    assert isinstance(e.value, FileNotFoundError)
    for bad in ("no-slash", "/a/b", "/" + "x" * 300):
        with pytest.raises(l3l2q.BadArgument):
            l3l2q.SharedMemory.create(bad, 4, 256, 256)
    with pytest.raises(l3l2q.BadDescriptor):
        l3l2q.SharedMemory.create(shm_name, 5, 256, 256)


def test_l3_and_l2_over_two_mappings_in_one_process(shm_name):
    with l3l2q.L3Queue.create_shm(shm_name, 8, 1024, 1024) as q:
        with l3l2q.L3Queue.open_shm(shm_name) as reopened:
            assert reopened.layout == q.layout
        with l3l2q.L2Endpoint.open_shm(shm_name, q.task_scalars(), max_inflight=2) as ep:
            q.enqueue(b"over shm", timeout=1.0)
            m = ep.peek(1.0)
            assert bytes(ep.view(m)) == b"over shm"
            ep.release(m)
        with pytest.raises(l3l2q.BadDescriptor):
            with l3l2q.SharedMemory.open(shm_name) as shm:
                shm.rebase([0] * 12)


def test_python_host_and_c_worker_in_two_processes(shm_name, c_worker):
    count = 300
    with l3l2q.L3Queue.create_shm(shm_name, 8, 4096, 4096) as q:
        worker = subprocess.Popen(
            [str(c_worker), shm_name] + [hex(s) for s in q.task_scalars()],
            stderr=subprocess.PIPE, text=True,
        )
        try:
            buf = np.zeros(256, dtype=np.uint8)
            for i in range(count):
                payload = f"request {i} abc".encode() * (i % 5)
                opcode = l3l2q.Opcode.ERROR if i % 17 == 0 else l3l2q.Opcode.DATA
                q.enqueue(payload, timeout=10.0, opcode=opcode)
                op, n = q.dequeue_into(buf, timeout=10.0)
                assert (op, buf[:n].tobytes()) == (opcode, payload.upper())
            # Batches both ways: the worker answers each input in turn.
            batch = [f"b{i}".encode() for i in range(8)]
            sent = q.try_enqueue_batch(batch)
            got = []
            while len(got) < sent:
                got += [r.data for r in q.try_dequeue_batch(8)]
            assert got == [b.upper() for b in batch[:sent]]
            q.request_stop(timeout=10.0)
            _, err = worker.communicate(timeout=20)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert worker.returncode == 0, err
        assert f"drained after {count + sent} messages" in err


def test_a_dropped_queue_is_freed_and_unlinks_its_name(shm_name):
    import gc

    def use_and_drop():
        q = l3l2q.L3Queue.create_shm(shm_name, 8, 1024, 1024)
        with l3l2q.L2Endpoint.open_shm(shm_name, q.task_scalars()) as ep:
            ep.try_send_batch([b"a", b"b"])
        assert q.try_dequeue_batch(1)[0].data == b"a"
        held = q.try_peek()
        assert bytes(q.view(held)) == b"b"  # a view keeps the queue alive...

    use_and_drop()
    gc.collect()  # ...and goes with it
    assert not Path("/dev/shm" + shm_name).exists()
