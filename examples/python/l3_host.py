#!/usr/bin/env python3
"""l3_host.py: an L3 host in Python, on the l3l2q package, talking to a C or
C++ L2 worker running in another process.

    usage: l3_host.py WORKER [--lib PATH] [--count N]

Install the package first (`pip install ./python`), or run from a checkout
with `PYTHONPATH=python` and cffi installed. WORKER is examples/c/l2_worker.c
or examples/cpp/l2_worker.cpp built as a program. --lib picks the shared
library to load (default: the one the package bundles, or libl3l2q.so.1
from the loader path when running from a checkout).

The host creates a named shared-memory region sized for the queue, starts
`WORKER SHM_NAME S0 .. S11` with the twelve task scalars, sends N requests
one at a time (one ERROR, one of zero bytes), checks every reply (letters
upper-cased), publishes STOP and waits for the worker. The scalars carry
this process's addresses; the worker maps the region itself and rebases
them to its own mapping.
"""

import argparse
import os
import subprocess
import sys


def request(i):
    """Request i: (opcode, bytes); #5 is an ERROR, #7 has zero bytes."""
    if i == 5:
        return l3l2q.Opcode.ERROR, f"host-side error report #{i}".encode()
    if i == 7:
        return l3l2q.Opcode.DATA, b""
    return l3l2q.Opcode.DATA, f"request {i} from the python host {'abcdefghijklmnopqrstuvwxyz'[:i % 26]}".encode()


def wait_reply(q, worker, reply):
    """The next reply, noticing a worker that died instead of waiting 5 s."""
    for _ in range(50):
        try:
            return q.dequeue_into(reply, timeout=0.1)
        except TimeoutError:
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited early with {worker.returncode}") from None
    raise RuntimeError("no reply within 5 s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("worker")
    ap.add_argument("--lib", help="path of libl3l2q.so to load instead of the default")
    ap.add_argument("--count", type=int, default=200)
    opts = ap.parse_args()
    if opts.lib:
        os.environ["L3L2Q_LIBRARY"] = opts.lib
    global l3l2q
    import l3l2q

    # The queue over a new shared-memory object; closing it unlinks the name.
    with l3l2q.L3Queue.create_shm(f"/l3l2q-py-{os.getpid()}", 8, 1024, 1024, reclaim_stale=True) as q:
        args = [opts.worker, q.shm.name] + [hex(s) for s in q.task_scalars()]
        worker = subprocess.Popen(args)
        try:
            reply = bytearray(256)
            for i in range(opts.count):
                opcode, payload = request(i)
                q.enqueue(payload, timeout=5.0, opcode=opcode)
                got_opcode, n = wait_reply(q, worker, reply)
                if got_opcode != opcode or reply[:n] != payload.upper():
                    raise RuntimeError(f"reply {i} wrong: opcode {got_opcode}, {bytes(reply[:n])!r}")
                if i in (0, 5, 7):
                    print(f"reply {i} ({l3l2q.Opcode(opcode).name}): {reply[:n].decode()!r}")
            q.request_stop(timeout=5.0)  # returns once STOP is published
            worker_rc = worker.wait(timeout=10)
        except BaseException:
            print(f"error record: {q.error()}", file=sys.stderr)
            raise
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
    print(f"l3_host.py: {opts.count} requests answered; worker exited with {worker_rc}")
    return 0 if worker_rc == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"l3_host.py: {e}", file=sys.stderr)
        sys.exit(1)
