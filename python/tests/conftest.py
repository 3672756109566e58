import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

import l3l2q

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def local():
    """An L3 queue and an L2 endpoint over one in-process region."""
    region = l3l2q.LocalRegion(8, 1024, 1024)
    with l3l2q.L3Queue.over_local(region) as q, l3l2q.L2Endpoint(q.task_scalars(), max_inflight=8) as ep:
        yield region, q, ep


@pytest.fixture
def shm_name():
    name = f"/l3l2q-pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield name
    assert not Path("/dev/shm" + name).exists(), f"{name} left behind"


@pytest.fixture(scope="session")
def c_worker(tmp_path_factory):
    """examples/c/l2_worker.c built against the library this package bundles."""
    cc = shutil.which("cc") or shutil.which("gcc")
    source = REPO / "examples" / "c" / "l2_worker.c"
    if cc is None or not source.is_file():
        pytest.skip("needs cc and the repository's examples/c/l2_worker.c")
    libdir = Path(l3l2q._ffi.LIBRARY_PATH).parent
    exe = tmp_path_factory.mktemp("worker") / "l2_worker"
    subprocess.run(
        [cc, "-std=c11", "-O1", f"-I{REPO / 'include'}", str(source), "-o", str(exe),
         f"-L{libdir}", "-l:libl3l2q.so.1", f"-Wl,-rpath,{libdir}"],
        check=True,
    )
    return exe
