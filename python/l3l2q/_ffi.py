"""The cffi handle on the bundled library (ABI mode: no compiled extension)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import cffi

try:
    from ._cdef import CDEF

    _BUNDLED: "Path | None" = Path(__file__).with_name("libl3l2q.so.1")
except ImportError:
    # Not installed: running from a checkout (PYTHONPATH=python), so read
    # the repository's header and load the library by SONAME.
    from ._header import header_to_cdef

    _HEADER = Path(__file__).resolve().parents[2] / "include" / "l3l2q.h"
    if not _HEADER.is_file():
        raise ImportError("l3l2q is not built; install it with `pip install ./python`") from None
    CDEF = header_to_cdef(_HEADER.read_text())[0]
    _BUNDLED = None

ffi = cffi.FFI()
ffi.cdef(CDEF)

#: The library this package loads: $L3L2Q_LIBRARY, else the bundled copy,
#: else (uninstalled) the SONAME through the loader's search path.
LIBRARY_PATH = os.environ.get("L3L2Q_LIBRARY") or (str(_BUNDLED) if _BUNDLED is not None else "libl3l2q.so.1")

#: cffi types neither the library's functions nor struct fields, so both
#: the library and the C objects it reads and writes are untyped here.
lib: Any = ffi.dlopen(LIBRARY_PATH)

CData = Any
"""A cffi C object (pointer, array or struct): cffi gives its fields no types."""


def c_string(p: CData, errors: str = "strict") -> str:
    """The NUL-terminated UTF-8 string at the `char *` `p`."""
    # ffi.string returns bytes for a char pointer (str only for wchar_t).
    return cast(bytes, ffi.string(p)).decode("utf-8", errors)


def _check_version() -> None:
    info: CData = ffi.new("l3l2q_version_info *")
    if lib.l3l2q_version(info) != lib.L3L2Q_STATUS_OK:
        raise ImportError(f"l3l2q: l3l2q_version failed in {LIBRARY_PATH}")
    if info.c_abi_major != lib.L3L2Q_C_ABI_MAJOR or info.major != lib.L3L2Q_VERSION_MAJOR:
        raise ImportError(
            f"l3l2q: {LIBRARY_PATH} has C ABI {info.c_abi_major} (library {info.major}.x), "
            f"the package was built for {lib.L3L2Q_C_ABI_MAJOR} ({lib.L3L2Q_VERSION_MAJOR}.x)"
        )


_check_version()
