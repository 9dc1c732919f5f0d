"""Finding and stopping the processes a terminal left behind.

Killing a tmux window only signals the pane's process group; agent CLIs start daemons and
MCP servers in groups of their own, and some outlive the window (Codex's app-server,
rarely Claude Code). Every process cao starts for a terminal inherits its CAO_TERMINAL_ID,
and CLI processes see the terminal's own HOME: either mark is enough.
"""

from __future__ import annotations

import os

import psutil


def reap_processes(terminal_id: str, *, home: str | None = None, since: float | None = None,
                   grace: float = 2.0) -> list[int]:
    """Terminate (then kill) the terminal's processes; returns the pids signalled.

    `since` (epoch seconds): processes older than the terminal are skipped on their start
    time alone, which spares reading the environment of most of the machine.
    """
    me = os.getpid()
    victims = []
    for proc in psutil.process_iter(["pid", "create_time"]):
        if proc.pid == me or (since is not None and (proc.info["create_time"] or 0) < since - 1):
            continue
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        if env.get("CAO_TERMINAL_ID") == terminal_id or (home is not None and env.get("HOME") == home):
            victims.append(proc)
    for proc in victims:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(victims, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    if alive:
        psutil.wait_procs(alive, timeout=grace)
    return [p.pid for p in victims]
