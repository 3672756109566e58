"""Build step of the l3l2q Python package.

`pip install ./python` lands here: it builds the Rust library with cargo
(release), bundles `libl3l2q.so.1` into the package and turns
`include/l3l2q.h` into the cffi declarations (`_cdef.py`), so nothing in the
package re-declares the C API by hand. The package loads the library with
cffi in ABI mode (no compiled extension), so the wheel is tagged
`py3-none-<platform>`: one build serves every CPython 3.9+.

The crate is found one directory up, or at $L3L2Q_SOURCE_DIR; cargo's
target directory is $CARGO_TARGET_DIR or the crate's own `target/`.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent


def crate_root() -> Path:
    root = Path(os.environ.get("L3L2Q_SOURCE_DIR", HERE.parent)).resolve()
    manifest = root / "Cargo.toml"
    if not manifest.is_file() or 'name = "l3l2q"' not in manifest.read_text():
        sys.exit(
            f"l3l2q: no l3l2q crate at {root}; build from a clone of the repository "
            "(pip install ./python) or set L3L2Q_SOURCE_DIR"
        )
    return root


def load_header_module():
    """Imports l3l2q/_header.py by path: the package itself cannot be
    imported before its library exists."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_l3l2q_header", HERE / "l3l2q" / "_header.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithCargo(build_py):
    def run(self):
        super().run()
        root = crate_root()
        target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
        cargo = os.environ.get("CARGO", "cargo")
        cmd = [cargo, "build", "--release", "--lib", "--manifest-path", str(root / "Cargo.toml")]
        print("l3l2q:", " ".join(cmd), flush=True)
        env = dict(os.environ, CARGO_TARGET_DIR=str(target))
        try:
            subprocess.run(cmd, check=True, env=env)
        except FileNotFoundError:
            sys.exit("l3l2q: cargo not found; install a Rust toolchain (https://rustup.rs)")
        out = Path(self.build_lib) / "l3l2q"
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target / "release" / "libl3l2q.so", out / "libl3l2q.so.1")

        header = (root / "include" / "l3l2q.h").read_text()
        module = load_header_module()
        # Parse once here so a header cffi cannot read fails the build, not
        # the first import.
        import cffi

        cffi.FFI().cdef(module.header_to_cdef(header)[0])
        (out / "_cdef.py").write_text(module.render_module(header))


class PlatformWheel(bdist_wheel):
    """A binary (platform) wheel that is not tied to a Python version."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(cmdclass={"build_py": BuildWithCargo, "bdist_wheel": PlatformWheel})
