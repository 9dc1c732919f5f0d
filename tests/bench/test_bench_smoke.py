"""The benchmarks run and print their tables (`--quick`); figures are never checked.

All three scripts start at once (each has its own server, tmux socket and port), so the
whole file takes about as long as the slowest one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"terminals": "== cao terminals benchmark", "delegation": "== cao delegation benchmark",
           "runtime": "== cao runtime benchmark"}


@pytest.fixture(scope="module")
def runs():
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAO_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    procs = {name: subprocess.Popen([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick"],
                                    cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
             for name in SCRIPTS}
    try:
        yield {name: (p.communicate(timeout=150)[0], p.returncode) for name, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait(20)


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_benchmark_runs_and_prints_its_table(runs, name):
    out, code = runs[name]
    assert code == 0, out[-3000:]
    assert SCRIPTS[name] in out, out[-3000:]
    assert "figure" in out and "median" in out and "CAO 2.5.4" in out
