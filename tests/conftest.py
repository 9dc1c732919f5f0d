"""Shared fixtures: an isolated cao home, a private tmux server, a real cao-server.

Nothing here touches the user's own tmux server or ~/.aws: every test run gets its
own CAO_HOME and tmux socket, and everything started is stopped afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run, so CI is reproducible; set
# HYPOTHESIS_PROFILE=explore locally to search fresh random examples.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parent.parent
TEST_AGENTS = Path(__file__).resolve().parent / "agents"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cao_env(tmp_path, monkeypatch):
    """Environment for one test: own CAO_HOME, own tmux socket, own port."""
    home = tmp_path / "cao-home"
    work = tmp_path / "work"
    work.mkdir()
    socket_name = f"cao-test-{secrets.token_hex(4)}"
    port = free_port()
    env = {
        "CAO_HOME": str(home),
        "CAO_TMUX_SOCKET": socket_name,
        "CAO_PORT": str(port),
        "CAO_SERVER_URL": f"http://127.0.0.1:{port}",
        # pytest's tmp_path lives under /tmp, which the directory policy blocks.
        "CAO_WORKDIR_ALLOW": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(TEST_AGENTS), str(ROOT)]),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(work)
    yield {**env, "work": work, "home": home, "tmp": tmp_path}
    subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True)


class ServerProcess:
    def __init__(self, env: dict, extra_args: list[str] | None = None):
        self.env = env
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.url = env["CAO_SERVER_URL"]

    def start(self, wait: float = 20) -> "ServerProcess":
        import httpx

        full_env = {**os.environ, **{k: str(v) for k, v in self.env.items() if k.isupper()}}
        log = open(Path(self.env["CAO_HOME"]).parent / "server.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cao.server.main", "--port", self.env["CAO_PORT"], *self.extra_args],
            env=full_env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cao-server exited with {self.proc.returncode}; see server.log")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("cao-server did not become healthy")

    def kill9(self) -> None:
        """Simulate a crash: SIGKILL, no cleanup of any kind."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


@pytest.fixture
def server(cao_env):
    srv = ServerProcess(cao_env).start()
    yield srv
    srv.stop()


@pytest.fixture
def api(server):
    from cao.client import CaoClient

    c = CaoClient(server.url, timeout=60)
    yield c
    c.close()


@pytest.fixture
def profiles_dir(cao_env):
    """Profiles installed into the test's agent store (found by name like built-ins)."""
    store = Path(cao_env["CAO_HOME"]) / "agent-store"
    store.mkdir(parents=True, exist_ok=True)
    return store


def write_profile(store: Path, name: str, entrypoint: str, provider: str = "python", **extra) -> Path:
    lines = ["---", f"name: {name}", f"description: test agent {name}", f"provider: {provider}",
             f"entrypoint: {entrypoint}"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    lines += ["---", f"You are {name}, a test agent.", ""]
    path = store / f"{name}.md"
    path.write_text("\n".join(lines))
    return path


def wait_until(predicate, timeout: float = 10, interval: float = 0.02, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def tmux_windows(socket_name: str) -> list[str]:
    out = subprocess.run(["tmux", "-L", socket_name, "list-windows", "-a", "-F",
                          "#{session_name}:#{window_name}"], capture_output=True, text=True)
    return [l for l in out.stdout.splitlines() if l.strip()]


def processes_with_env(key: str, value: str) -> list[int]:
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(key) == value:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


@pytest.fixture(autouse=True)
def _no_stray_tmux_binary_missing():
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
