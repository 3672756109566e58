#!/usr/bin/env python3
"""l3_host.py: an L3 host in Python that loads libl3l2q with ctypes (dlopen)
and talks to a C or C++ L2 worker running in another process.

    usage: l3_host.py WORKER [--lib PATH] [--count N]

WORKER is examples/c/l2_worker.c or examples/cpp/l2_worker.cpp built as a
program. --lib is the shared library to dlopen; by default its SONAME,
libl3l2q.so.1, is looked up the usual way (LD_LIBRARY_PATH, ldconfig).

The host creates a named shared-memory region with l3l2q_shm_create, builds
the queue over its own mapping, starts `WORKER SHM_NAME S0 .. S11` with the
twelve task scalars, sends N requests one at a time (one ERROR, one of zero
bytes), checks every reply (letters upper-cased), publishes STOP and waits
for the worker. The scalars carry this process's addresses; the worker maps
the region itself and replaces scalars 2 and 4 with its own addresses
(l3l2q_shm_rebase_task_scalars), because addresses are per process.
"""

import argparse
import ctypes
import os
import subprocess
import sys

u64, u32 = ctypes.c_uint64, ctypes.c_uint32
SECOND_NS = 1_000_000_000
OK, NO_PROGRESS, TIMEOUT = 0, 1, 2
OPCODE_DATA, OPCODE_ERROR = 1, 3
TASK_SCALARS = 12


def fields(*names):
    return [(n, u64) for n in names]


class RegionDescriptor(ctypes.Structure):
    _fields_ = fields("magic_version", "region_id", "payload_base", "payload_bytes", "counter_base", "counter_bytes")


class L3Config(ctypes.Structure):
    _fields_ = fields("depth", "input_arena_bytes", "output_arena_bytes", "initial_count")


class ShmConfig(ctypes.Structure):
    _fields_ = fields("depth", "input_arena_bytes", "output_arena_bytes", "region_id") + [("reclaim_stale", ctypes.c_bool)]


class ErrorInfo(ctypes.Structure):
    _fields_ = [("kind", u32), ("operation", u32), ("region_id", u64), ("message", ctypes.c_char * 160)]


class VersionInfo(ctypes.Structure):
    _fields_ = [("library", ctypes.c_char_p)] + [(n, u32) for n in (
        "major", "minor", "patch", "c_abi_major", "region_abi_major", "region_abi_minor", "queue_abi_major",
        "queue_abi_minor")]


def load(path):
    """dlopens the library and declares the functions this host uses."""
    lib = ctypes.CDLL(path or "libl3l2q.so.1")
    P = ctypes.POINTER
    for name, args in {
        "l3l2q_version": [P(VersionInfo)],
        "l3l2q_shm_create": [ctypes.c_char_p, P(ShmConfig), P(ctypes.c_void_p), ctypes.c_void_p, P(ctypes.c_int32)],
        "l3l2q_shm_descriptor": [ctypes.c_void_p, P(RegionDescriptor), ctypes.c_void_p],
        "l3l2q_shm_free": [P(ctypes.c_void_p)],
        "l3l2q_l3_queue_create_mapped": [P(RegionDescriptor), P(L3Config), P(ctypes.c_void_p), ctypes.c_void_p],
        "l3l2q_l3_queue_free": [P(ctypes.c_void_p)],
        "l3l2q_l3_task_scalars": [ctypes.c_void_p, P(u64), ctypes.c_size_t],
        "l3l2q_l3_enqueue": [ctypes.c_void_p, u64, ctypes.c_char_p, ctypes.c_size_t, u64],
        "l3l2q_l3_dequeue_into": [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, P(u64), P(ctypes.c_size_t), u64],
        "l3l2q_l3_request_stop": [ctypes.c_void_p, u64],
        "l3l2q_l3_error": [ctypes.c_void_p, P(ErrorInfo)],
    }.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, ctypes.c_int
    lib.l3l2q_status_str.argtypes, lib.l3l2q_status_str.restype = [ctypes.c_int32], ctypes.c_char_p
    lib.l3l2q_error_kind_str.argtypes, lib.l3l2q_error_kind_str.restype = [u32], ctypes.c_char_p
    return lib


class Failed(Exception):
    pass


def check(lib, status, what):
    if status != OK:
        raise Failed(f"{what}: {lib.l3l2q_status_str(status).decode()}")


def request(i):
    """Request i: (opcode, bytes); #5 is an ERROR, #7 has zero bytes."""
    if i == 5:
        return OPCODE_ERROR, f"host-side error report #{i}".encode()
    if i == 7:
        return OPCODE_DATA, b""
    return OPCODE_DATA, f"request {i} from the python host {'abcdefghijklmnopqrstuvwxyz'[:i % 26]}".encode()


def exchange(lib, queue, count):
    buf = ctypes.create_string_buffer(256)
    opcode, length = u64(), ctypes.c_size_t()
    for i in range(count):
        op, payload = request(i)
        check(lib, lib.l3l2q_l3_enqueue(queue, op, payload, len(payload), 5 * SECOND_NS), f"enqueue {i}")
        check(lib, lib.l3l2q_l3_dequeue_into(queue, buf, len(buf), ctypes.byref(opcode), ctypes.byref(length),
                                             5 * SECOND_NS), f"reply {i}")
        reply = buf.raw[:length.value]
        if opcode.value != op or reply != payload.upper():
            raise Failed(f"reply {i} wrong: opcode {opcode.value}, {reply!r}")
        if i in (0, 5, 7):
            print(f"reply {i} ({'ERROR' if op == OPCODE_ERROR else 'DATA'}): {reply.decode()!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("worker")
    ap.add_argument("--lib", help="path of libl3l2q.so (default: dlopen libl3l2q.so.1)")
    ap.add_argument("--count", type=int, default=200)
    opts = ap.parse_args()

    lib = load(opts.lib)
    version = VersionInfo()
    check(lib, lib.l3l2q_version(ctypes.byref(version)), "version")
    if version.c_abi_major != 1:
        raise Failed(f"C ABI {version.c_abi_major} loaded, this host speaks 1")

    sizes = dict(depth=8, input_arena_bytes=1024, output_arena_bytes=1024)
    config = L3Config(**sizes)

    # 1. The shared-memory region, sized for the queue; freeing it unlinks the name.
    name = f"/l3l2q-py-{os.getpid()}".encode()
    shm, queue, worker, err = ctypes.c_void_p(), ctypes.c_void_p(), None, ctypes.c_int32()
    shm_config = ShmConfig(**sizes, reclaim_stale=True)
    status = lib.l3l2q_shm_create(name, ctypes.byref(shm_config), ctypes.byref(shm), None, ctypes.byref(err))
    check(lib, status, f"shm_create {name.decode()} (errno {err.value})")
    try:
        # 2. The queue over this process's mapping (it zeroes the counters).
        region = RegionDescriptor()
        check(lib, lib.l3l2q_shm_descriptor(shm, ctypes.byref(region), None), "descriptor")
        check(lib, lib.l3l2q_l3_queue_create_mapped(ctypes.byref(region), ctypes.byref(config), ctypes.byref(queue),
                                                    None), "create")

        # 3. Start the worker with the name and the task scalars (our addresses).
        scalars = (u64 * TASK_SCALARS)()
        check(lib, lib.l3l2q_l3_task_scalars(queue, scalars, TASK_SCALARS), "task scalars")
        worker = subprocess.Popen([opts.worker, name.decode()] + [hex(s) for s in scalars])

        # 4. Talk, then STOP (returns once STOP is published).
        try:
            exchange(lib, queue, opts.count)
            check(lib, lib.l3l2q_l3_request_stop(queue, 5 * SECOND_NS), "request_stop")
        except Failed:
            info = ErrorInfo()
            lib.l3l2q_l3_error(queue, ctypes.byref(info))
            kind = lib.l3l2q_error_kind_str(info.kind).decode()
            print(f"error record: {kind}: {info.message.decode()}", file=sys.stderr)
            worker.kill()
            raise
        worker_rc = worker.wait(timeout=10)
        print(f"l3_host.py: {opts.count} requests answered; worker exited with {worker_rc}")
        return 0 if worker_rc == 0 else 1
    finally:
        # 5. Clean up: the worker, the queue, then the region (unmaps and unlinks).
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        lib.l3l2q_l3_queue_free(ctypes.byref(queue))
        lib.l3l2q_shm_free(ctypes.byref(shm))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Failed, OSError, subprocess.TimeoutExpired) as e:
        print(f"l3_host.py: {e}", file=sys.stderr)
        sys.exit(1)
