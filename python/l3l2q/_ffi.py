"""The cffi handle on the bundled library (ABI mode: no compiled extension)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cffi

from ._cdef import CDEF

ffi = cffi.FFI()
ffi.cdef(CDEF)

#: Path of the library this package loaded; $L3L2Q_LIBRARY overrides the
#: bundled copy (to test another build of the same C ABI).
LIBRARY_PATH = os.environ.get("L3L2Q_LIBRARY") or str(Path(__file__).with_name("libl3l2q.so.1"))

lib: Any = ffi.dlopen(LIBRARY_PATH)


def _check_version() -> None:
    info = ffi.new("l3l2q_version_info *")
    if lib.l3l2q_version(info) != lib.L3L2Q_STATUS_OK:
        raise ImportError(f"l3l2q: l3l2q_version failed in {LIBRARY_PATH}")
    if info.c_abi_major != lib.L3L2Q_C_ABI_MAJOR or info.major != lib.L3L2Q_VERSION_MAJOR:
        raise ImportError(
            f"l3l2q: {LIBRARY_PATH} has C ABI {info.c_abi_major} (library {info.major}.x), "
            f"the package was built for {lib.L3L2Q_C_ABI_MAJOR} ({lib.L3L2Q_VERSION_MAJOR}.x)"
        )


_check_version()
