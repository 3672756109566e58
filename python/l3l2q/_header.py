"""Turns include/l3l2q.h into a cffi cdef.

The package declares nothing by hand: setup.py runs this over the header at
build time and writes the result to ``_cdef.py``, so every struct, enum and
function the package uses is the header's own declaration (cffi computes the
layouts from it). The tests run it again over the repository's header and
compare, so a stale build is caught.

Only what cbindgen emits is handled: comments, include guards, ``#include``
lines, the ``__cplusplus`` blocks, and ``#define NAME <integer expression>``.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Callable, Dict, Type

_BINOPS: Dict[Type[ast.operator], Callable[[int, int], int]] = {
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
}


def _eval_int(expr: str, known: dict[str, int]) -> int:
    """Evaluates a C integer constant expression of literals, earlier
    macros and the operators cbindgen emits; anything else is an error."""
    text = re.sub(r"(?<=[0-9a-fA-FxX])[uUlL]+\b", "", expr.strip())

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in known:
            return known[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        raise ValueError(f"unsupported #define expression: {expr!r}")

    return ev(ast.parse(text, mode="eval"))


def header_to_cdef(header: str) -> tuple[str, dict[str, int]]:
    """Returns (cdef text, macros): the declarations with every macro use
    replaced by its value, and the integer macros by name."""
    text = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    # The C++ linkage blocks: `#ifdef __cplusplus ... #endif` hold only
    # `extern "C" {` / `}`.
    text = re.sub(r"#ifdef __cplusplus.*?#endif", "", text, flags=re.S)
    macros: dict[str, int] = {}
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            body.append(line)
            continue
        m = re.match(r"#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)(?:\s+(.*))?$", stripped)
        if m and m.group(2):
            macros[m.group(1)] = _eval_int(m.group(2), macros)
        elif m or re.match(r"#\s*(ifndef|endif|include|pragma)\b", stripped):
            continue  # the include guard, system includes
        else:
            raise ValueError(f"unexpected preprocessor line in the header: {stripped!r}")
    decls = "\n".join(body)
    if macros:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, macros)) + r")\b")
        decls = pattern.sub(lambda m: str(macros[m.group(1)]), decls)
    consts = "".join(f"#define {k} {v}\n" for k, v in macros.items() if v >= 0)
    decls = re.sub(r"\n\s*\n+", "\n", decls).strip() + "\n"
    return consts + decls, macros


def render_module(header: str) -> str:
    """The text of ``_cdef.py`` for this header."""
    cdef, _ = header_to_cdef(header)
    return (
        '"""Generated at build time from include/l3l2q.h by l3l2q._header; do not edit."""\n\n'
        f"CDEF = {cdef!r}\n"
    )
