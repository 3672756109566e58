"""The package's C declarations are the header's, and cffi lays the structs
out exactly as the C compiler does."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from l3l2q import _cdef, _header
from l3l2q._ffi import ffi, lib

from conftest import REPO

HEADER = REPO / "include" / "l3l2q.h"


def test_installed_declarations_are_generated_from_the_current_header():
    if not HEADER.is_file():
        pytest.skip("not run from a repository checkout")
    assert _cdef.CDEF == _header.header_to_cdef(HEADER.read_text())[0], (
        "the installed package was built from another include/l3l2q.h; reinstall it"
    )


def test_macros_are_evaluated_and_unknown_preprocessor_lines_rejected():
    cdef, macros = _header.header_to_cdef(
        "#define A 4\n#define B (1 << 30)\n#define C (A * 2)\ntypedef struct s { unsigned char m[C]; } s;\n"
    )
    assert macros == {"A": 4, "B": 1 << 30, "C": 8}
    assert "m[8]" in cdef
    with pytest.raises(ValueError):
        _header.header_to_cdef("#if FOO\n#endif\n")
    with pytest.raises(ValueError):
        _header.header_to_cdef("#define X foo(1)\n")


def _structs():
    return re.findall(r"typedef struct (l3l2q_\w+) \{", _cdef.CDEF)


def test_every_struct_layout_matches_the_c_compiler():
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not HEADER.is_file():
        pytest.skip("needs cc and the repository header")
    structs = _structs()
    assert {"l3l2q_message", "l3l2q_reservation", "l3l2q_error_info", "l3l2q_region_callbacks"} <= set(structs)
    lines, expected = [], []
    for s in structs:
        t = ffi.typeof(f"struct {s}")
        lines.append(f'printf("{s} %zu %zu\\n", sizeof(struct {s}), _Alignof(struct {s}));')
        expected.append(f"{s} {ffi.sizeof(t)} {ffi.alignof(t)}")
        for field, _ in t.fields:
            lines.append(f'printf("{s}.{field} %zu\\n", offsetof(struct {s}, {field}));')
            expected.append(f"{s}.{field} {ffi.offsetof(t, field)}")
    src = '#include <stddef.h>\n#include <stdio.h>\n#include "l3l2q.h"\nint main(void) {\n' + "\n".join(lines) + "\nreturn 0; }\n"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "layout.c")
        with open(path, "w") as f:
            f.write(src)
        exe = os.path.join(d, "layout")
        subprocess.run([cc, "-std=c11", f"-I{REPO / 'include'}", path, "-o", exe], check=True)
        got = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split("\n")
    assert got[:-1] == expected


def test_constants_come_from_the_header():
    assert lib.L3L2Q_DEPTH_MAX == 1 << 30
    assert lib.L3L2Q_SLOT_BYTES == 32
    assert lib.L3L2Q_STATUS_REMOTE_ABORTED == 21


def test_the_package_is_typed_and_bundles_its_library():
    import l3l2q
    from l3l2q import _ffi

    here = os.path.dirname(l3l2q.__file__)
    assert os.path.isfile(os.path.join(here, "py.typed"))
    if "L3L2Q_LIBRARY" not in os.environ:
        assert _ffi.LIBRARY_PATH == os.path.join(here, "libl3l2q.so.1")
