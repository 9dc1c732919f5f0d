"""The only module that speaks to tmux.

All commands go through libtmux's `Server.cmd`, which runs the tmux binary with an
argument list (never a shell). Agent commands are started with `respawn-pane` given
several arguments, which tmux executes directly, so no text of ours is parsed by a shell.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import libtmux

from cao import config

# libtmux logs every command line at DEBUG, environment values included; keep secrets out.
logging.getLogger("libtmux").setLevel(logging.WARNING)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
HISTORY_LIMIT = 100_000
# Wide panes keep answers from being wrapped mid-line on screen.
PANE_WIDTH, PANE_HEIGHT = 220, 50


class TmuxError(RuntimeError):
    pass


def check_name(kind: str, name: str) -> str:
    """Names reach tmux targets, so only a safe alphabet is allowed."""
    if not NAME_RE.match(name or ""):
        raise ValueError(
            f"invalid {kind} name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit")
    return name


@dataclass(frozen=True)
class PaneInfo:
    window_id: str
    pane_id: str
    pane_pid: int


class Tmux:
    def __init__(self, socket_name: str | None = None):
        self.socket_name = socket_name if socket_name is not None else config.tmux_socket_name()
        self.server = libtmux.Server(socket_name=self.socket_name)

    # -- plumbing -------------------------------------------------------------------
    def run(self, *args: str, check: bool = True) -> list[str]:
        result = self.server.cmd(*args)
        if check and result.returncode != 0:
            raise TmuxError(f"tmux {args[0]} failed: {' '.join(result.stderr) or result.returncode}")
        return result.stdout

    def base_argv(self) -> list[str]:
        """argv prefix for running tmux directly (used where stdin must be fed)."""
        argv = [self.server.tmux_bin or "tmux"]
        if self.socket_name:
            argv.append(f"-L{self.socket_name}")
        return argv

    # -- sessions and windows -------------------------------------------------------
    def has_session(self, name: str) -> bool:
        return self.server.cmd("has-session", "-t", f"={name}").returncode == 0

    def new_session(self, name: str) -> None:
        """A session whose first window is a placeholder.

        The placeholder lets session options (history size) apply to every agent pane, and
        it keeps the session alive while no agent window is open: tmux destroys a session
        with its last window, and a run closes finished workers while starting new ones.
        """
        check_name("session", name)
        session_id = self.run("new-session", "-d", "-P", "-F", "#{session_id}", "-s", name,
                              "-n", "_cao", "-x", str(PANE_WIDTH), "-y", str(PANE_HEIGHT), "--",
                              "sleep", "2147483647")[0]
        self.run("set-option", "-t", session_id, "history-limit", str(HISTORY_LIMIT))
        # Keep panes of exited agents so a status check can read why they died.
        self.run("set-option", "-t", session_id, "remain-on-exit", "on")

    def new_window(self, session: str, window_name: str, argv: list[str], *, cwd: Path,
                   env: dict[str, str], log_path: Path) -> PaneInfo:
        """Start `argv` in a new window with its output piped to `log_path` from the first byte."""
        check_name("window", window_name)
        out = self.run("new-window", "-d", "-P", "-F", "#{window_id} #{pane_id} #{pane_pid}",
                       "-t", f"={session}:", "-n", window_name, "-c", str(cwd), "--",
                       "sleep", "2147483647")
        window_id, pane_id, _ = out[0].split()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch()
        # pipe-pane takes a shell command; the only variable part is our own path, quoted.
        self.run("pipe-pane", "-t", pane_id, "-o", f"exec cat >> {shlex.quote(str(log_path))}")
        env_args: list[str] = []
        for key, value in env.items():
            env_args += ["-e", f"{key}={value}"]
        cmd = list(argv) if len(argv) > 1 else [shlex.quote(argv[0])]
        self.run("respawn-pane", "-k", "-t", pane_id, "-c", str(cwd), *env_args, "--", *cmd)
        pid = self.run("display-message", "-p", "-t", pane_id, "#{pane_pid}")[0]
        return PaneInfo(window_id, pane_id, int(pid))

    def kill_window(self, pane_or_window: str) -> None:
        self.server.cmd("kill-window", "-t", pane_or_window)

    def kill_session(self, name: str) -> None:
        self.server.cmd("kill-session", "-t", f"={name}")

    def pane_alive(self, pane_id: str) -> bool:
        """True while the pane exists and its process has not exited."""
        res = self.server.cmd("display-message", "-p", "-t", pane_id, "#{pane_dead}")
        return res.returncode == 0 and bool(res.stdout) and res.stdout[0] == "0"

    def pane_exists(self, pane_id: str) -> bool:
        res = self.server.cmd("display-message", "-p", "-t", pane_id, "#{pane_id}")
        return res.returncode == 0 and bool(res.stdout) and res.stdout[0] == pane_id

    def ensure_pipe(self, pane_id: str, log_path: Path) -> None:
        """Re-attach the transcript pipe if it is gone (e.g. after a tmux hiccup)."""
        res = self.server.cmd("display-message", "-p", "-t", pane_id, "#{pane_pipe}")
        if res.returncode == 0 and res.stdout and res.stdout[0] == "0":
            self.run("pipe-pane", "-t", pane_id, "-o", f"exec cat >> {shlex.quote(str(log_path))}")

    # -- screen ---------------------------------------------------------------------
    def capture(self, pane_id: str, *, history: int = 0) -> str:
        """The pane's text without escape sequences; `history` lines of scrollback above."""
        args = ["capture-pane", "-p", "-J", "-t", pane_id]
        if history:
            args += ["-S", f"-{history}"]
        return "\n".join(self.run(*args))

    # -- input ----------------------------------------------------------------------
    def paste(self, pane_id: str, text: str, buffer_name: str, then_keys: list[str] | None = None) -> None:
        """Paste `text` verbatim, bracketed when the app asked for bracketed paste.

        The text goes to tmux on stdin (load-buffer -), never on a command line, so its
        content cannot be interpreted by tmux or a shell and does not show in `ps`. One
        tmux invocation loads, pastes and (with `then_keys`) presses the submit keys.
        """
        argv = [*self.base_argv(), "load-buffer", "-b", buffer_name, "-", ";",
                "paste-buffer", "-p", "-d", "-r", "-b", buffer_name, "-t", pane_id]
        if then_keys:
            argv += [";", "send-keys", "-t", pane_id, *then_keys]
        result = subprocess.run(argv, input=text.encode("utf-8"), capture_output=True, timeout=30)
        if result.returncode != 0:
            raise TmuxError(f"tmux paste failed: {result.stderr.decode(errors='replace').strip()}")

    def send_keys(self, pane_id: str, *keys: str) -> None:
        self.run("send-keys", "-t", pane_id, *keys)

    def send_literal(self, pane_id: str, text: str) -> None:
        self.run("send-keys", "-l", "-t", pane_id, "--", text)
