"""Shared plumbing for the benchmarks: an isolated cao-server, timing helpers, tables.

Every benchmark gets its own scratch directory (under /tmp, allowed through
CAO_WORKDIR_ALLOW), its own CAO_HOME, tmux socket and loopback port. Everything started
is stopped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="short smoke run: fewer repetitions, smaller sizes")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    return parser.parse_args()


def _sigterm(signum, frame):  # turn SIGTERM into the same clean-up path as Ctrl-C
    raise KeyboardInterrupt


class Env:
    """Scratch directory + environment for one isolated cao installation."""

    def __init__(self, name: str, keep: bool = False):
        self.keep = keep
        self.tmp = Path(tempfile.mkdtemp(prefix=f"cao-bench-{name}-"))
        self.home = self.tmp / "cao-home"
        self.work = self.tmp / "work"
        self.work.mkdir()
        self.store = self.home / "agent-store"
        self.store.mkdir(parents=True)
        self.socket = f"cao-bench-{secrets.token_hex(4)}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.vars = {
            "CAO_HOME": str(self.home),
            "CAO_TMUX_SOCKET": self.socket,
            "CAO_PORT": str(self.port),
            "CAO_SERVER_URL": self.url,
            "CAO_WORKDIR_ALLOW": str(self.tmp),
            "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), str(ROOT)]),
        }
        self.servers: list[Server] = []
        signal.signal(signal.SIGTERM, _sigterm)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background

    def new_port(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.vars.update(CAO_PORT=str(self.port), CAO_SERVER_URL=self.url)

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAO_")}
        env.update(self.vars)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def profile(self, name: str, entrypoint: str, folder: Path | None = None) -> Path:
        folder = folder or self.store
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.md"
        path.write_text(f"---\nname: {name}\ndescription: bench agent {name}\nprovider: python\n"
                        f"entrypoint: {entrypoint}\n---\nYou are {name}, a benchmark agent.\n")
        return path

    def server(self, **extra: str) -> "Server":
        srv = Server(self, extra)
        self.servers.append(srv)
        return srv

    def close(self) -> None:
        for srv in self.servers:
            srv.stop()
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        # tmux leaves its socket file behind after kill-server
        tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
        Path(tmpdir, f"tmux-{os.getuid()}", self.socket).unlink(missing_ok=True)
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"(scratch kept in {self.tmp})")

    def __enter__(self) -> "Env":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Server:
    def __init__(self, env: Env, extra: dict[str, str]):
        self.env = env
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=env.url, timeout=120, trust_env=False)

    def start(self, wait: float = 30) -> float:
        """Start the server; return seconds from spawn to the first healthy answer.

        The port was free when chosen, but a parallel job may take it first: when our
        server cannot listen, or another server answers there, move to a new port.
        """
        for _attempt in range(3):
            seconds = self._start_once(wait)
            if seconds is not None:
                return seconds
            self.stop()
            self.env.new_port()
            self.http = httpx.Client(base_url=self.env.url, timeout=120, trust_env=False)
        raise RuntimeError("cao-server could not get a free port after 3 tries")

    def _start_once(self, wait: float) -> float | None:
        log = open(self.env.tmp / "server.log", "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cao.server.main", "--port", str(self.env.port)],
            env=self.env.environ(**self.extra), cwd=self.env.work, stdout=log, stderr=log,
            stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()  # the child has its own copy
        deadline = t0 + wait
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                text = (self.env.tmp / "server.log").read_text(errors="replace")
                if "address already in use" in text.lower():
                    return None
                raise RuntimeError(f"cao-server exited with {self.proc.returncode}; "
                                   f"see {self.env.tmp / 'server.log'}")
            try:
                if self.http.get("/health", timeout=1).status_code == 200:
                    seconds = time.perf_counter() - t0
                    home = self.http.get("/info", timeout=5).json().get("home")
                    return seconds if home == str(self.env.home) else None
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
        raise RuntimeError("cao-server did not become healthy")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """CPU time of the server so far. Linux's schedstat counts nanoseconds per thread;
        cpu_times counts 10 ms clock ticks, too coarse for an idle server over 10 s."""
        tasks = Path(f"/proc/{self.pid}/task")
        if tasks.is_dir():
            total = 0
            for task in tasks.iterdir():
                try:
                    total += int((task / "schedstat").read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    pass  # a thread that just ended
            if total:
                return total / 1e9
        import psutil

        t = psutil.Process(self.pid).cpu_times()
        return t.user + t.system

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    # -- API helpers ------------------------------------------------------------------
    def req(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, path, **kw)
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text[:500]}")
        return resp.json()

    def get(self, path: str, **kw: Any) -> Any:
        return self.req("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.req("POST", path, json=body, **kw)

    def status(self, tid: str) -> str:
        return self.get(f"/terminals/{tid}")["status"]

    def wait_status(self, tid: str, wanted: set[str] | str, timeout: float = 30,
                    interval: float = 0.005) -> float:
        """Poll until the terminal's status is one of `wanted`; return perf_counter() then."""
        wanted = {wanted} if isinstance(wanted, str) else wanted
        deadline = time.perf_counter() + timeout
        while True:
            st = self.status(tid)
            now = time.perf_counter()
            if st in wanted:
                return now
            if now > deadline:
                raise TimeoutError(f"terminal {tid} still {st!r} after {timeout}s (wanted {wanted})")
            time.sleep(interval)


def wait_until(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.005) -> Any:
    deadline = time.perf_counter() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.perf_counter() > deadline:
            raise TimeoutError("timed out")
        time.sleep(interval)


# -- figures --------------------------------------------------------------------------
def p90(values: list[float]) -> float:
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    k = 0.9 * (len(s) - 1)
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def cpu_percent(srv: "Server", seconds: float) -> float:
    """The server's CPU use over the next `seconds`, in % of one core."""
    c0, t0 = srv.cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    return 100 * (srv.cpu_seconds() - c0) / (time.perf_counter() - t0)


def fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    if v < 0.01:
        return f"{v * 1000:.2f} ms"
    if v < 1:
        return f"{v * 1000:.0f} ms"
    return f"{v:.2f} s"


class Table:
    """Rows of (what, N, median, p90, reference, ratio); printed at the end."""

    def __init__(self, title: str):
        self.title = title
        self.rows: list[tuple[str, ...]] = []

    def timing(self, what: str, values: list[float], ref: float | None = None,
               target: str = "") -> None:
        med = statistics.median(values)
        ratio = "-"
        if ref is not None and med > 0:
            ratio = f"{ref / med:.1f}x faster" if med <= ref else f"{med / ref:.1f}x slower"
        self.rows.append((what, str(len(values)), fmt_s(med), fmt_s(p90(values)),
                          fmt_s(ref) if ref is not None else "-", ratio, target))

    def value(self, what: str, n: int, med: str, p: str = "-", ref: str = "-", ratio: str = "-",
              target: str = "") -> None:
        self.rows.append((what, str(n), med, p, ref, ratio, target))

    def print(self) -> None:
        head = ("figure", "N", "median", "p90", "CAO 2.5.4", "ratio", "target")
        rows = [head, *self.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        line = "  ".join("-" * w for w in widths)
        print()
        print(f"== {self.title} ==")
        for i, r in enumerate(rows):
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if i == 0:
                print(line)
        print(flush=True)


def machine_line() -> str:
    import platform

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load avg {load:.1f} at start")


def read_stamps(folder: Path, terminal_id: str) -> list[dict[str, Any]]:
    import json

    path = folder / f"{terminal_id}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
