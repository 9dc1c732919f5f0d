"""Helpers for the flow tests: a recording launcher, scripts on disk, real-time polling."""

from __future__ import annotations

import asyncio
import stat
import time
from datetime import datetime, timezone
from pathlib import Path

from cao.flows.scheduler import LaunchOutcome

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def write_script(path: Path, body: str, *, executable: bool = True) -> Path:
    path.write_text(body)
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IXUSR if executable else mode & ~0o111)
    return path


async def wait_until(predicate, timeout: float = 10.0, interval: float = 0.01) -> None:
    """Poll in real time (for real subprocesses) until `predicate()` is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def flow(name: str, schedule: str = "0 * * * *", **kw) -> dict:
    return {"name": name, "schedule": schedule, "agent_profile": "developer",
            "prompt": kw.pop("prompt", f"do {name}"), **kw}


class Launcher:
    """A launcher that records its calls; with `hold=True` each run waits for `release()`."""

    def __init__(self, hold: bool = False, fail: Exception | None = None):
        self.calls: list[dict] = []
        self.hold = hold
        self.fail = fail
        self._gates: dict[int, asyncio.Event] = {}

    async def __call__(self, spec: dict, prompt: str, flow_run_id: int) -> LaunchOutcome:
        self.calls.append({"name": spec["name"], "prompt": prompt, "id": flow_run_id,
                           "spec": spec, "fire_time": spec["fire_time"],
                           "trigger": spec["trigger"]})
        if self.fail:
            raise self.fail
        if self.hold:
            await self._gates.setdefault(flow_run_id, asyncio.Event()).wait()
        return LaunchOutcome("succeeded", answer=f"answer of run {flow_run_id}",
                             session_name=f"cao-flow-{flow_run_id}")

    def release(self, flow_run_id: int) -> None:
        self._gates.setdefault(flow_run_id, asyncio.Event()).set()

    def names(self) -> list[str]:
        return [c["name"] for c in self.calls]
