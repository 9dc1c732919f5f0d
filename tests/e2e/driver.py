"""A minimal tmux driver for the provider conformance suite.

It does only what a provider needs to be exercised in a real terminal: write the launch
plan's files, start its argv in a window of a private tmux server, type messages with
bracketed paste, read the pane (with scrollback) and ask the provider what it means.
The production terminal layer lives in cao.terminals; this stays small and independent
so the providers can be checked before (and separately from) it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path

from cao.providers.base import LaunchContext, LaunchPlan, Provider, TerminalStatus


class TmuxAgent:
    def __init__(self, provider: Provider, ctx: LaunchContext, socket: str,
                 width: int = 220, height: int = 50):
        self.provider = provider
        self.ctx = ctx
        self.socket = socket
        self.window = f"cao-{ctx.terminal_id}"
        self.width, self.height = width, height
        self.plan: LaunchPlan | None = None

    def tmux(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                             text=True, check=False)
        if check and out.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        plan = self.provider.build_launch(self.ctx)
        self.plan = plan
        for path, content in plan.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        for link, target in plan.links.items():
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(target)
        env = {**self.ctx.env, **plan.env}
        # tmux starts the command through a shell: every value is quoted with shlex, and
        # `exec env` leaves no shell process between tmux and the CLI.
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        command = f"exec env {exports} {shlex.join(plan.argv)}"
        self.tmux("new-session", "-d", "-s", self.window, "-x", str(self.width), "-y",
                  str(self.height), "-c", str(plan.cwd or self.ctx.working_directory),
                  command)
        self.tmux("set-option", "-t", self.window, "history-limit", "20000")
        self.tmux("set-option", "-t", self.window, "remain-on-exit", "on")

    def screen(self, scrollback: int = 2000) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", self.window, "-S", f"-{scrollback}",
                         check=False)

    def visible(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.window, check=False)

    def status(self) -> TerminalStatus:
        if self.dead():
            return TerminalStatus.EXITED
        return self.provider.classify(self.visible())

    def dead(self) -> bool:
        out = self.tmux("display-message", "-p", "-t", self.window, "#{pane_dead}", check=False)
        return out.strip() in ("1", "")

    def pane_pid(self) -> int | None:
        out = self.tmux("display-message", "-p", "-t", self.window, "#{pane_pid}", check=False)
        return int(out) if out.strip().isdigit() else None

    def send(self, text: str, kind: str = "message") -> None:
        message = self.provider.format_message(text, kind=kind)
        buf = f"cao-{uuid.uuid4().hex[:8]}"
        self.tmux("set-buffer", "-b", buf, message)
        self.tmux("paste-buffer", "-p", "-d", "-b", buf, "-t", self.window)
        time.sleep(0.3)
        # Some TUIs drop an Enter that arrives right after a paste: verify it landed (the
        # screen leaves the ready state) and press again if not.
        for _ in range(4):
            before = self.visible()
            for key in self.provider.submit_keys:
                self.tmux("send-keys", "-t", self.window, key)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                now = self.visible()
                if now != before and not self.status().ready_for_input:
                    return
                time.sleep(0.1)
            if not self.status().ready_for_input:
                return

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.window, *keys)

    def wait_for(self, wanted: set[TerminalStatus], timeout: float = 60.0,
                 settle: float = 0.0) -> TerminalStatus:
        """Poll until the status is in `wanted` (and stays so for `settle` seconds)."""
        deadline = time.monotonic() + timeout
        status = self.status()
        since = time.monotonic()
        last = status
        while time.monotonic() < deadline:
            status = self.status()
            if status != last:
                since, last = time.monotonic(), status
            if status in wanted and time.monotonic() - since >= settle:
                return status
            time.sleep(0.2)
        raise TimeoutError(f"{self.provider.name}: status {status.value}, wanted "
                           f"{sorted(s.value for s in wanted)}; screen:\n{self.visible()}")

    def exit(self, timeout: float = 20.0) -> bool:
        if self.provider.exit_command and not self.dead():
            self.send(self.provider.exit_command)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.dead():
                return True
            time.sleep(0.2)
        return False

    def kill(self) -> None:
        self.tmux("kill-session", "-t", self.window, check=False)
        self.provider.cleanup(self.ctx)


def kill_server(socket: str) -> None:
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)


def socket_name() -> str:
    return f"cao-e2e-{os.getpid()}-{uuid.uuid4().hex[:6]}"

