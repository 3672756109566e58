"""Python benchmark: l3l2q against multiprocessing.Queue in the same run.

    python -m l3l2q.bench [--repeat N] [--scale X]

Both sides are Python processes: the host (this process) and a worker
process forked for each case. 64-byte messages:

- stream: the host sends N messages, the worker takes them (and answers
  one message at the end); single = one call per message, batched = 64 per
  call (l3l2q: try_enqueue_packed / try_take_packed, 64 messages in one
  buffer; multiprocessing: a list of 64 bytes objects per put);
- round trip: the host sends, the worker echoes, the host waits for the
  echo; batched = 64 messages out, 64 back.

Prints messages/s per case (best of --repeat runs) and the ratio l3l2q /
multiprocessing.Queue, for single vs single and batched vs batched, and
batched l3l2q vs single multiprocessing.Queue.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from typing import Callable, Dict, List, Tuple

from ._core import L2Endpoint, L3Queue, Opcode, Packed, Received

SIZE = 64
BATCH = 64
DEPTH = 1024
ARENA = 256 * 1024
TIMEOUT = 30.0


# ---- l3l2q worker (L2) -------------------------------------------------------


def _take_packed(ep: L2Endpoint, buf: bytearray) -> Packed:
    """The next 1..BATCH inputs, copied into `buf` and released."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        got = ep.try_take_packed(buf, BATCH)
        if got.sizes:
            return got
        os.sched_yield()
        if time.monotonic() > deadline:
            raise TimeoutError("the host sent nothing")


def _take(ep: L2Endpoint) -> Received:
    """The next input, copied out. The L2 endpoint's own blocking peek
    spins without yielding (a device task owns its core); this worker
    shares the host's cores, so it polls and yields instead."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        got = ep.try_take()
        if got is not None:
            return got
        os.sched_yield()
        if time.monotonic() > deadline:
            raise TimeoutError("the host sent nothing")


def _l2_worker(name: str, scalars: Tuple[int, ...], echo: bool, batched: bool) -> None:
    ep = L2Endpoint.open_shm(name, scalars, max_inflight=DEPTH)
    count = 0
    try:
        buf = bytearray(BATCH * SIZE)
        while batched:
            got = _take_packed(ep, buf)
            stop = got.opcodes[-1] == Opcode.STOP
            n = len(got.sizes) - stop
            if echo and n:
                # Every message is SIZE bytes here, so the echo is the same
                # buffer cut the same way.
                view = memoryview(buf)[: n * SIZE]
                while view:
                    view = view[ep.try_send_packed(view, SIZE) * SIZE :]
            count += n
            if stop:
                ep.try_send(count.to_bytes(8, "little"))
                return
        while True:
            opcode, data = _take(ep)
            if opcode == Opcode.STOP:
                ep.try_send(count.to_bytes(8, "little"))
                return
            if echo:
                while not ep.try_send(data):
                    os.sched_yield()
            count += 1
    finally:
        ep.close()


def _l3l2q_case(kind: str, batched: bool, n: int) -> float:
    name = f"/l3l2q-bench-{os.getpid()}"
    payload = bytes(range(SIZE))
    packed = payload * BATCH
    with L3Queue.create_shm(name, DEPTH, ARENA, ARENA, reclaim_stale=True) as q:
        worker = mp.get_context("fork").Process(
            target=_l2_worker, args=(name, q.task_scalars(), kind == "roundtrip", batched)
        )
        worker.start()
        try:
            start = time.perf_counter()
            if kind == "stream" and not batched:
                for _ in range(n):
                    while not q.try_enqueue(payload):
                        os.sched_yield()
            elif kind == "stream":
                for _ in range(n // BATCH):
                    view, left = memoryview(packed), BATCH
                    while left:
                        sent = q.try_enqueue_packed(view, SIZE)
                        left -= sent
                        view = view[sent * SIZE :]
                        if not sent:
                            os.sched_yield()
            elif not batched:
                for _ in range(n):
                    q.try_enqueue(payload)
                    while q.try_dequeue() is None:
                        os.sched_yield()
            else:
                back = bytearray(BATCH * SIZE)
                for _ in range(n // BATCH):
                    sent = q.try_enqueue_packed(packed, SIZE)
                    assert sent == BATCH
                    got = 0
                    while got < BATCH:
                        n_got = len(q.try_dequeue_packed(memoryview(back)[got * SIZE :], BATCH).sizes)
                        got += n_got
                        if not n_got:
                            os.sched_yield()
                    assert back == packed
            q.request_stop(TIMEOUT)
            done = q.dequeue(TIMEOUT).data
            elapsed = time.perf_counter() - start
            assert int.from_bytes(done, "little") == n, (done, n)
        finally:
            worker.join(TIMEOUT)
            if worker.is_alive():
                worker.kill()
    return n / elapsed


# ---- multiprocessing.Queue ----------------------------------------------------


def _mp_worker(inq: "mp.Queue[object]", outq: "mp.Queue[object]", echo: bool) -> None:
    count = 0
    while True:
        item = inq.get()
        if item is None:
            outq.put(count)
            return
        count += len(item) if isinstance(item, list) else 1
        if echo:
            outq.put(item)


def _mp_case(kind: str, batched: bool, n: int) -> float:
    ctx = mp.get_context("fork")
    inq, outq = ctx.Queue(), ctx.Queue()
    worker = ctx.Process(target=_mp_worker, args=(inq, outq, kind == "roundtrip"))
    worker.start()
    payload = bytes(range(SIZE))
    batch = [payload] * BATCH
    try:
        start = time.perf_counter()
        if kind == "stream" and not batched:
            for _ in range(n):
                inq.put(payload)
        elif kind == "stream":
            for _ in range(n // BATCH):
                inq.put(batch)
        elif not batched:
            for _ in range(n):
                inq.put(payload)
                outq.get()
        else:
            for _ in range(n // BATCH):
                inq.put(batch)
                assert len(outq.get()) == BATCH
        inq.put(None)
        done = outq.get(timeout=TIMEOUT)
        elapsed = time.perf_counter() - start
        assert done == n, (done, n)
    finally:
        worker.join(TIMEOUT)
        if worker.is_alive():
            worker.kill()
    return n / elapsed


CASES: List[Tuple[str, str, bool, int]] = [
    ("stream single", "stream", False, 50_000),
    ("stream batched x64", "stream", True, 400_000),
    ("round trip single", "roundtrip", False, 5_000),
    ("round trip batched x64", "roundtrip", True, 64_000),
]


def _best(fn: Callable[[], float], repeat: int) -> float:
    return max(fn() for _ in range(repeat))


def main(argv: "List[str] | None" = None) -> int:
    ap = argparse.ArgumentParser(description="l3l2q vs multiprocessing.Queue, 64-byte messages")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the best is reported")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    opts = ap.parse_args(argv)
    results: Dict[str, Tuple[float, float]] = {}
    print(f"{'case (64 B messages)':<26}{'l3l2q msg/s':>14}{'mp.Queue msg/s':>16}{'ratio':>8}")
    for label, kind, batched, n in CASES:
        n = max(BATCH, int(n * opts.scale) // BATCH * BATCH)
        ours = _best(lambda: _l3l2q_case(kind, batched, n), opts.repeat)
        theirs = _best(lambda: _mp_case(kind, batched, n), opts.repeat)
        results[label] = (ours, theirs)
        print(f"{label:<26}{ours:>14,.0f}{theirs:>16,.0f}{ours / theirs:>7.1f}x", flush=True)
    for kind in ("stream", "round trip"):
        ours = results[f"{kind} batched x64"][0]
        theirs = results[f"{kind} single"][1]
        print(f"{kind} batched l3l2q / single mp.Queue: {ours / theirs:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
