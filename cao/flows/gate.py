"""Gate scripts: a program that decides whether a flow fire runs.

Contract: the script runs with no stdin and prints one JSON object on stdout,
`{"execute": true|false, "output": {...}}` ("output" optional, default {}). When stdout
holds more than the object (log lines first), the last non-empty line is tried. Extra keys
are ignored. Anything else (non-zero exit, time limit, no JSON, wrong shape) means "do not
run", with `error` saying why.

How the script is started (never through a shell, so a path with spaces or `;` is a path):
* executable file: run directly, `argv = [script]`;
* readable but not executable, with a `#!` line: run the interpreter named there
  (`#!/usr/bin/env python3` -> `/usr/bin/env python3 script`);
* readable, not executable, no `#!`: run with `bash script` (gates are usually shell).

Each gate runs in its own process group (session); on timeout or cancellation the whole
group is killed, so `sleep` children or background jobs do not outlive it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

MAX_CAPTURE = 64 * 1024  # bytes of stdout/stderr kept in the result (and the history)


@dataclass
class GateResult:
    execute: bool
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    duration: float = 0.0


class _GateFailure(Exception):
    pass


def gate_argv(script: Path) -> list[str]:
    """The argv that runs `script` (see module docstring); raises _GateFailure if it cannot."""
    script = Path(script)
    if not script.exists():
        raise _GateFailure(f"gate script not found: {script}")
    if not script.is_file():
        raise _GateFailure(f"gate script is not a file: {script}")
    if os.access(script, os.X_OK):
        return [str(script)]
    if not os.access(script, os.R_OK):
        raise _GateFailure(f"gate script is not readable: {script}")
    with open(script, "rb") as fh:
        first = fh.readline(512)
    if first.startswith(b"#!"):
        interp = shlex.split(first[2:].decode("utf-8", "replace").strip())
        if not interp:
            raise _GateFailure(f"gate script {script} has an empty '#!' line")
        return [*interp, str(script)]
    return ["bash", str(script)]


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(os.environ)
    if env:
        merged.update({k: str(v) for k, v in env.items()})
    return merged


def _text(data: bytes | None) -> str:
    data = data or b""
    clipped = data[-MAX_CAPTURE:] if len(data) > MAX_CAPTURE else data
    return clipped.decode("utf-8", "replace")


def _tail(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def parse_gate_output(stdout: str) -> tuple[bool, dict[str, Any]]:
    """Read the gate's decision from its stdout; raises _GateFailure with the reason."""
    text = stdout.strip()
    if not text:
        raise _GateFailure('gate script printed nothing; it must print '
                           '{"execute": true|false, "output": {...}}')
    candidates = [text]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1:
        candidates.append(lines[-1].strip())
    data: Any = None
    for candidate in candidates:
        try:
            data = json.loads(candidate)
            break
        except json.JSONDecodeError:
            continue
    else:
        raise _GateFailure(f"gate script output is not JSON: {_tail(text, 200)!r}")
    if not isinstance(data, dict):
        raise _GateFailure(f"gate script output must be a JSON object, got {type(data).__name__}")
    if "execute" not in data:
        raise _GateFailure('gate script output has no "execute" key')
    if not isinstance(data["execute"], bool):
        raise _GateFailure(
            f'gate script "execute" must be true or false, got {data["execute"]!r}')
    output = data.get("output", {})
    if output is None:
        output = {}
    if not isinstance(output, dict):
        raise _GateFailure(
            f'gate script "output" must be a JSON object, got {type(output).__name__}')
    return data["execute"], output


def _decide(stdout: str, stderr: str, code: int, started: float) -> GateResult:
    result = GateResult(False, stdout=stdout, stderr=stderr, exit_code=code,
                        duration=time.monotonic() - started)
    if code != 0:
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        detail = _tail(stderr) or _tail(stdout)
        result.error = f"gate script {how}" + (f": {detail}" if detail else "")
        return result
    try:
        result.execute, result.output = parse_gate_output(stdout)
    except _GateFailure as exc:
        result.error = str(exc)
    return result


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_gate(script: Path, *, cwd: Path | str | None = None, timeout: float = 60.0,
             env: Mapping[str, str] | None = None) -> GateResult:
    """Run a gate script and wait for its decision (blocking)."""
    started = time.monotonic()
    try:
        argv = gate_argv(Path(script))
        proc = subprocess.Popen(argv, cwd=cwd, env=_env(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except _GateFailure as exc:
        return GateResult(False, error=str(exc), duration=time.monotonic() - started)
    except OSError as exc:
        return GateResult(False, error=f"gate script could not start: {exc}",
                          duration=time.monotonic() - started)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        return GateResult(False, error=f"gate script timed out after {timeout:g}s and was killed",
                          stdout=_text(out), stderr=_text(err), exit_code=proc.returncode,
                          duration=time.monotonic() - started)
    finally:
        _kill_group(proc.pid)  # leftovers of a finished script, e.g. `cmd &`
    return _decide(_text(out), _text(err), proc.returncode, started)


async def run_gate_async(script: Path, *, cwd: Path | str | None = None, timeout: float = 60.0,
                         env: Mapping[str, str] | None = None) -> GateResult:
    """Run a gate script without blocking the event loop; same result as `run_gate`."""
    started = time.monotonic()
    try:
        argv = gate_argv(Path(script))
    except _GateFailure as exc:
        return GateResult(False, error=str(exc), duration=time.monotonic() - started)
    # Shielded: if asyncio cancelled the start itself, its clean-up would wait on the pipes,
    # which a grandchild may hold open for as long as it likes.
    creating = asyncio.ensure_future(asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=_env(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True))
    try:
        proc = await asyncio.shield(creating)
    except OSError as exc:
        return GateResult(False, error=f"gate script could not start: {exc}",
                          duration=time.monotonic() - started)
    except asyncio.CancelledError:
        try:
            proc = await creating
        except OSError:
            raise asyncio.CancelledError from None
        await _kill_and_reap(proc)
        raise
    communicate = asyncio.ensure_future(proc.communicate())
    try:
        out, err = await asyncio.wait_for(asyncio.shield(communicate), timeout)
    except asyncio.TimeoutError:
        _kill_group(proc.pid)
        try:
            out, err = await asyncio.wait_for(communicate, 5)
        except asyncio.TimeoutError:  # a grandchild escaped the group and holds the pipes
            communicate.cancel()
            out, err = b"", b""
        return GateResult(False, error=f"gate script timed out after {timeout:g}s and was killed",
                          stdout=_text(out), stderr=_text(err), exit_code=proc.returncode,
                          duration=time.monotonic() - started)
    except asyncio.CancelledError:
        communicate.cancel()
        await _kill_and_reap(proc)
        raise
    finally:
        _kill_group(proc.pid)
    return _decide(_text(out), _text(err), proc.returncode, started)


async def _kill_and_reap(proc: asyncio.subprocess.Process) -> None:
    """Kill a gate's process group and reap it, so nothing outlives a cancelled run."""
    _kill_group(proc.pid)
    try:
        await asyncio.wait_for(asyncio.shield(proc.wait()), 5)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        pass
