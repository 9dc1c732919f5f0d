"""Terminal lifecycle: create, track, talk to, and remove agent terminals.

Every change is written to SQLite before it is acted on (a terminal row exists before
its tmux window, an exit reason before the window is killed), so a restarted server can
re-adopt live windows and explain dead ones.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Callable

from cao.processes import reap_processes
from cao import config
from cao.providers.base import (LaunchContext, McpServerLaunch, Provider, TerminalStatus,
                                strip_ansi)
from cao.providers.registry import get_provider
from cao.store import sessions as store
from cao.terminals.policy import check_working_directory
from cao.terminals.state import FINISHED, READY, LiveTerminal
from cao.terminals.tmux import Tmux, check_name
from cao.terminals.watcher import LogWatcher

log = logging.getLogger(__name__)

REFRESH_DEBOUNCE = 0.008   # coalesce bursts of output into one screen read
SWEEP_INTERVAL = 5.0       # safety net for missed events and dead panes
SUBMIT_VERIFY_TIMEOUT = 2.0
MCP_WAIT_LIMIT = 30.0
# After input, a CLI whose screen still shows the previous answer has not started the
# turn yet; believe "finished" without a busy sighting only after this long.
BUSY_SIGHTING_LIMIT = 3.0      # never hold a first message longer than this for MCP check-in


class TerminalError(RuntimeError):
    """A terminal operation that cannot be done, with a message for the user."""


class TerminalNotFound(TerminalError):
    pass


class TerminalManager:
    def __init__(self, conn: sqlite3.Connection, tmux: Tmux | None = None):
        self.conn = conn
        self.tmux = tmux or Tmux()
        self.live: dict[str, LiveTerminal] = {}
        self.changed = asyncio.Condition()
        self.status_listeners: list[Callable[[str, TerminalStatus], None]] = []
        self._watcher: LogWatcher | None = None
        self._sweeper: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- start/stop -----------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._watcher = LogWatcher(config.terminal_log_dir(), self._on_output)
        self._watcher.start(self._loop)
        await self.adopt_all()
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
        if self._watcher and self._loop:
            self._watcher.stop(self._loop)

    # -- creation -------------------------------------------------------------------
    async def create(self, *, session_name: str, profile: Any, provider_name: str,
                     working_directory: str | Path | None = None, new_session: bool = False,
                     parent_terminal_id: str | None = None, run_id: str | None = None,
                     node_id: str | None = None, yolo: bool = False) -> dict[str, Any]:
        check_name("session", session_name)
        workdir = check_working_directory(working_directory or os.getcwd())
        provider = get_provider(provider_name).for_profile(profile)
        problems = provider.validate_profile(profile)
        if problems:
            raise TerminalError(f"profile {profile.name!r} cannot run on provider "
                                f"{provider_name!r}: {'; '.join(problems)}")
        terminal_id = secrets.token_hex(4)
        home = config.terminal_home_dir(terminal_id)
        home.mkdir(parents=True, exist_ok=True)
        env = self._base_env(terminal_id)
        ctx = LaunchContext(
            terminal_id=terminal_id, profile=profile, working_directory=workdir,
            terminal_home=home, env=dict(env), yolo=yolo,
            cao_mcp=McpServerLaunch(command=sys.executable, args=["-m", "cao.mcp.server"],
                                    env=dict(env)))
        plan = provider.build_launch(ctx)
        for path, content in plan.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        for link, target in plan.links.items():
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink() and not link.exists():
                link.symlink_to(target)
        log_path = config.terminal_log_dir() / f"{terminal_id}.log"
        window_name = _window_name(profile.name, terminal_id)
        store.insert_terminal(
            self.conn, id=terminal_id, session_name=session_name, window_name=window_name,
            provider=provider_name, profile=profile.name, working_directory=str(workdir),
            log_path=str(log_path), status=TerminalStatus.STARTING.value,
            parent_terminal_id=parent_terminal_id, run_id=run_id, node_id=node_id,
            launch={"argv": plan.argv, "home": str(home),
                    # enough of the profile to rebuild a configured provider after a restart
                    "profile": {"name": profile.name, "custom": getattr(profile, "custom", None)}})
        try:
            if new_session:
                if store.get_session(self.conn, session_name) is None:
                    store.create_session(self.conn, session_name, run_id=run_id)
                if not await asyncio.to_thread(self.tmux.has_session, session_name):
                    await asyncio.to_thread(self.tmux.new_session, session_name)
            elif not await asyncio.to_thread(self.tmux.has_session, session_name):
                raise TerminalError(f"session {session_name!r} does not exist")
            pane = await asyncio.to_thread(
                self.tmux.new_window, session_name, window_name, plan.argv,
                cwd=plan.cwd or workdir, env={**env, **plan.env}, log_path=log_path)
        except Exception as exc:
            store.update_terminal(self.conn, terminal_id, status=TerminalStatus.EXITED.value,
                                  exit_reason=f"launch failed: {exc}")
            raise TerminalError(f"could not start terminal for {profile.name!r}: {exc}") from exc
        store.update_terminal(self.conn, terminal_id, window_id=pane.window_id,
                              pane_id=pane.pane_id, pane_pid=pane.pane_pid)
        live = LiveTerminal(id=terminal_id, session_name=session_name, pane_id=pane.pane_id,
                            provider=provider, log_path=log_path, profile=profile.name)
        self.live[terminal_id] = live
        self._schedule_refresh(live)
        return self.get(terminal_id)

    def _base_env(self, terminal_id: str) -> dict[str, str]:
        env = {
            "CAO_TERMINAL_ID": terminal_id,
            "CAO_SERVER_URL": config.server_url(),
            "CAO_HOME": str(config.cao_home()),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        for key in ("CAO_TMUX_SOCKET", "CAO_ENABLE_WORKING_DIRECTORY", "CAO_WORKDIR_ALLOW",
                    "PYTHONPATH", "VIRTUAL_ENV"):
            if os.environ.get(key):
                env[key] = os.environ[key]
        return env

    # -- queries --------------------------------------------------------------------
    def get(self, terminal_id: str) -> dict[str, Any]:
        row = store.get_terminal(self.conn, terminal_id)
        if row is None:
            raise TerminalNotFound(f"terminal {terminal_id!r} does not exist")
        return row

    def status(self, terminal_id: str) -> TerminalStatus:
        live = self.live.get(terminal_id)
        if live:
            return live.status
        return TerminalStatus(self.get(terminal_id)["status"])

    def screen(self, terminal_id: str, history: int = 0) -> str:
        live = self._live(terminal_id)
        return self.tmux.capture(live.pane_id, history=history)

    def transcript(self, terminal_id: str) -> str:
        path = Path(self.get(terminal_id)["log_path"])
        try:
            return path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    async def output(self, terminal_id: str, mode: str = "full") -> str:
        row = self.get(terminal_id)
        transcript = await asyncio.to_thread(self.transcript, terminal_id)
        if mode == "full":
            return strip_ansi(transcript).replace("\r\n", "\n")
        live = self.live.get(terminal_id)
        provider = live.provider if live else _provider_for_row(row)
        answer = await asyncio.to_thread(provider.session_answer, _cleanup_ctx(row))
        if answer is None:
            screen = ""
            if live:
                screen = await asyncio.to_thread(self.tmux.capture, live.pane_id, history=10_000)
            answer = provider.extract_last_answer(screen, transcript)
        if answer is None:
            raise TerminalError(f"terminal {terminal_id} has no answer to read yet "
                                f"(status {self.status(terminal_id).value})")
        return answer

    def _live(self, terminal_id: str) -> LiveTerminal:
        live = self.live.get(terminal_id)
        if live is None:
            row = self.get(terminal_id)
            raise TerminalError(f"terminal {terminal_id} has exited"
                                + (f": {row['exit_reason']}" if row.get("exit_reason") else ""))
        return live

    # -- status tracking ------------------------------------------------------------
    def _on_output(self, terminal_id: str) -> None:
        live = self.live.get(terminal_id)
        if live:
            self._schedule_refresh(live)

    def _schedule_refresh(self, live: LiveTerminal, delay: float = REFRESH_DEBOUNCE) -> None:
        if live.refresh_pending or self._loop is None:
            return
        live.refresh_pending = True
        self._loop.call_later(delay, lambda: asyncio.ensure_future(self._refresh(live)))

    async def _refresh(self, live: LiveTerminal) -> None:
        live.refresh_pending = False
        if self.live.get(live.id) is not live:
            return
        live.log_size_seen = live.log_size()
        try:
            alive = await asyncio.to_thread(self.tmux.pane_alive, live.pane_id)
            if not alive:
                await self._mark_exited(live, await asyncio.to_thread(self._death_note, live))
                return
            screen = await asyncio.to_thread(self.tmux.capture, live.pane_id)
        except Exception as exc:  # tmux hiccup: the sweep will try again
            log.warning("refresh of %s failed: %s", live.id, exc)
            return
        observed = live.provider.classify(screen)
        if observed in (TerminalStatus.STARTING, TerminalStatus.WAITING_USER_ANSWER):
            answer = live.provider.dialog_answer(screen)
            if answer is not None and live.dialogs_answered < 10:
                # A first-run dialog our config could not pre-empt, and safe to answer.
                live.dialogs_answered += 1
                log.info("terminal %s: answering dialog (%s)", live.id, answer.reason)
                await asyncio.to_thread(self.tmux.send_keys, live.pane_id, *answer.keys)
                self._schedule_refresh(live, delay=0.3)
                return
        now = time.monotonic()
        if live.awaiting_busy:
            if observed in (TerminalStatus.PROCESSING, TerminalStatus.WAITING_USER_ANSWER):
                live.awaiting_busy = False
            elif now - live.last_input_at < BUSY_SIGHTING_LIMIT:
                # The screen still shows the previous turn: a TUI has not redrawn yet.
                self._schedule_refresh(live, delay=0.1)
                return
            else:
                live.awaiting_busy = False
        accepted = live.accept(observed, now)
        if accepted is None:
            if live.busy_candidate_since is not None:
                self._schedule_refresh(live, delay=0.1)
            return
        await self._set_status(live, accepted)

    def _death_note(self, live: LiveTerminal) -> str:
        if not self.tmux.pane_exists(live.pane_id):
            return "tmux window is gone (closed by hand or tmux server stopped)"
        lines = [ln for ln in self.tmux.capture(live.pane_id, history=50).split("\n") if ln.strip()]
        tail = " | ".join(lines[-3:])[-300:]
        return f"agent process exited; last output: {tail}" if tail else "agent process exited"

    async def _set_status(self, live: LiveTerminal, status: TerminalStatus,
                          reason: str | None = None) -> None:
        live.status = status
        live.status_since = time.monotonic()
        fields: dict[str, Any] = {"status": status.value}
        if reason:
            fields["exit_reason"] = reason
        store.update_terminal(self.conn, live.id, **fields)
        for listener in list(self.status_listeners):
            try:
                listener(live.id, status)
            except Exception:
                log.exception("status listener failed")
        async with self.changed:
            self.changed.notify_all()

    async def _mark_exited(self, live: LiveTerminal, reason: str) -> None:
        self.live.pop(live.id, None)
        live.exit_reason = reason
        await self._set_status(live, TerminalStatus.EXITED, reason)

    async def wait_for(self, terminal_id: str, predicate: Callable[[TerminalStatus], bool],
                       timeout: float | None) -> TerminalStatus:
        """Wait until the terminal's status satisfies `predicate` (TimeoutError otherwise)."""
        async def _wait() -> TerminalStatus:
            async with self.changed:
                while True:
                    status = self.status(terminal_id)
                    if predicate(status) or status == TerminalStatus.EXITED:
                        return status
                    await self.changed.wait()
        return await asyncio.wait_for(_wait(), timeout)

    async def mcp_checked_in(self, terminal_id: str) -> None:
        """cao-mcp-server of this terminal has started: its tools are (about to be) visible."""
        live = self.live.get(terminal_id)
        if live and not live.mcp_ready:
            live.mcp_ready = True
            async with self.changed:
                self.changed.notify_all()

    def ready_for_input(self, terminal_id: str, status: TerminalStatus | None = None) -> bool:
        """Ready for an inbox message: idle, completed or errored, its MCP tools up (for
        CLIs that need it), and no turn of someone else's waiting to read its answer."""
        status = status or self.status(terminal_id)
        live = self.live.get(terminal_id)
        if live is not None and live.inbox_holds:
            return False
        return status in READY and self._ready(terminal_id, status)

    def hold_inbox(self, terminal_id: str, hold: bool) -> None:
        """Keep inbox deliveries back while a caller runs a turn and reads its answer."""
        live = self.live.get(terminal_id)
        if live is not None:
            live.inbox_holds = max(0, live.inbox_holds + (1 if hold else -1))

    def _ready(self, terminal_id: str, status: TerminalStatus) -> bool:
        if not (status in READY or status == TerminalStatus.WAITING_USER_ANSWER):
            return False
        live = self.live.get(terminal_id)
        if live and live.provider.wait_for_mcp_before_first_input and not live.mcp_ready \
                and live.last_input_at == 0 and time.monotonic() - live.created_at < MCP_WAIT_LIMIT:
            return False  # e.g. Claude Code: idle prompt before its MCP servers connect
        return True

    async def wait_ready(self, terminal_id: str, timeout: float | None = 60) -> TerminalStatus:
        status = await self.wait_for(terminal_id, lambda s: self._ready(terminal_id, s), timeout)
        if status == TerminalStatus.EXITED:
            raise TerminalError(f"terminal {terminal_id} exited before it was ready: "
                                f"{self.get(terminal_id).get('exit_reason')}")
        return status

    async def wait_finished(self, terminal_id: str, since: float,
                            timeout: float | None) -> TerminalStatus:
        """Wait for the turn that started at `since` (monotonic) to finish."""
        def done(status: TerminalStatus) -> bool:
            live = self.live.get(terminal_id)
            return status in FINISHED and (live is None or live.status_since >= since)
        return await self.wait_for(terminal_id, done, timeout)

    # -- input ----------------------------------------------------------------------
    async def send_input(self, terminal_id: str, text: str, *, kind: str = "message") -> float:
        """Deliver `text` and submit it; returns the monotonic time the turn started."""
        live = self._live(terminal_id)
        text = live.provider.format_message(text, kind=kind)
        async with live.input_lock:
            buffer_name = f"cao-{terminal_id}-{secrets.token_hex(3)}"
            keys = live.provider.submit_keys
            if live.provider.paste_settle <= 0:
                # The agent takes paste and submit in one read: one tmux call for both.
                size_before = live.log_size()
                live.last_input_at = started = time.monotonic()
                await asyncio.to_thread(self.tmux.paste, live.pane_id, text, buffer_name, keys)
                pressed = await self._grew(live, size_before, SUBMIT_VERIFY_TIMEOUT)
            else:
                await asyncio.to_thread(self.tmux.paste, live.pane_id, text, buffer_name)
                await self._settle(live, quiet=live.provider.paste_settle)
                live.last_input_at = started = time.monotonic()
                pressed = False
            await self._press_submit(live, pressed)
            return started

    async def submit(self, terminal_id: str) -> float:
        """Submit what is already typed in the agent's input box (text pasted by a server
        that died before it could press the key); returns the turn's start."""
        live = self._live(terminal_id)
        async with live.input_lock:
            live.last_input_at = started = time.monotonic()
            await self._press_submit(live, False)
            return started

    async def _press_submit(self, live: LiveTerminal, pressed: bool) -> None:
        """Press the submit key until the agent reacts (up to 4 times), then mark it busy."""
        keys = live.provider.submit_keys
        for _attempt in range(4):
            if pressed:
                break
            before = await asyncio.to_thread(self.tmux.capture, live.pane_id)
            await asyncio.to_thread(self.tmux.send_keys, live.pane_id, *keys)
            pressed = await self._submitted(live, before)
            if not pressed:
                log.info("terminal %s did not react to submit; pressing it again", live.id)
        if not pressed:
            raise TerminalError(f"terminal {live.id} did not accept the input "
                                "(no reaction to the submit key after 4 tries)")
        live.awaiting_busy = live.provider.busy_before_done
        if live.status != TerminalStatus.PROCESSING:
            await self._set_status(live, TerminalStatus.PROCESSING)
        self._schedule_refresh(live)

    def was_typed(self, terminal_id: str, text: str, *, kind: str = "message") -> bool:
        """Was `text` (as `send_input` would format it) ever pasted into this terminal?"""
        live = self.live.get(terminal_id)
        return live is not None and self.transcript_contains(
            terminal_id, live.provider.format_message(text, kind=kind))

    def transcript_contains(self, terminal_id: str, text: str, since: int = 0) -> bool:
        """Did the terminal print the first line of `text` (at most 60 characters) after
        byte `since` of its transcript? How a restarted server tells whether an input the
        previous one was sending reached the agent."""
        live = self.live.get(terminal_id)
        if live is None:
            return False
        try:
            with open(live.log_path, "rb") as fh:
                fh.seek(since)
                seen = strip_ansi(fh.read().decode("utf-8", "replace"))
        except OSError:
            return False
        return text.split("\n")[0][:60] in seen

    async def _settle(self, live: LiveTerminal, quiet: float = 0.03, limit: float = 0.5) -> None:
        """Wait until the pasted text has been echoed (output quiet for `quiet` s)."""
        deadline = time.monotonic() + limit
        size = live.log_size()
        while time.monotonic() < deadline:
            await asyncio.sleep(quiet)
            new = live.log_size()
            if new == size:
                return
            size = new

    async def _submitted(self, live: LiveTerminal, before: str) -> bool:
        """Did the submit key start a turn? Some TUIs drop an Enter that follows a paste
        too closely; the screen tells: it leaves the ready state, or at least changes."""
        deadline = time.monotonic() + SUBMIT_VERIFY_TIMEOUT
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            screen = await asyncio.to_thread(self.tmux.capture, live.pane_id)
            status = live.provider.classify(screen)
            if status not in READY:
                return True
            if screen != before and not _same_input_line(screen, before):
                return True
        return False

    async def _grew(self, live: LiveTerminal, size: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while time.monotonic() < deadline:
            if live.log_size() > size:
                return True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        return False

    async def send_keys(self, terminal_id: str, keys: list[str]) -> None:
        live = self._live(terminal_id)
        await asyncio.to_thread(self.tmux.send_keys, live.pane_id, *keys)

    # -- removal --------------------------------------------------------------------
    async def delete(self, terminal_id: str, reason: str = "deleted", graceful: bool = True) -> None:
        row = self.get(terminal_id)
        live = self.live.get(terminal_id)
        store.update_terminal(self.conn, terminal_id, exit_reason=reason)
        if live:
            if graceful and live.provider.exit_command and live.status in READY:
                try:
                    await asyncio.to_thread(self.tmux.send_literal, live.pane_id,
                                            live.provider.exit_command)
                    await asyncio.to_thread(self.tmux.send_keys, live.pane_id, "Enter")
                    for _ in range(40):
                        if not await asyncio.to_thread(self.tmux.pane_alive, live.pane_id):
                            break
                        await asyncio.sleep(0.05)
                except Exception:
                    pass
            await asyncio.to_thread(self.tmux.kill_window, live.pane_id)
        await asyncio.to_thread(functools.partial(reap_processes, terminal_id,
                                                  since=row.get("created_at")))
        try:
            (live.provider if live else _provider_for_row(row)).cleanup(_cleanup_ctx(row))
        except Exception:
            log.exception("provider cleanup failed for %s", terminal_id)
        if live:
            await self._mark_exited(live, reason)
        elif row["status"] != TerminalStatus.EXITED.value:
            store.update_terminal(self.conn, terminal_id, status=TerminalStatus.EXITED.value)

    async def delete_session(self, session_name: str, reason: str = "session closed") -> None:
        for row in store.list_terminals(self.conn, session_name=session_name, alive_only=True):
            await self.delete(row["id"], reason=reason, graceful=False)
        await asyncio.to_thread(self.tmux.kill_session, session_name)
        store.close_session(self.conn, session_name)

    # -- restart --------------------------------------------------------------------
    async def adopt_all(self) -> None:
        """Re-attach to terminals whose windows survived a server restart."""
        for row in store.list_terminals(self.conn, alive_only=True):
            pane_id = row.get("pane_id")
            alive = bool(pane_id) and await asyncio.to_thread(self.tmux.pane_alive, pane_id)
            if not alive:
                reason = ("window gone after server restart" if pane_id else
                          "server stopped before the window was created")
                store.update_terminal(self.conn, row["id"], status=TerminalStatus.EXITED.value,
                                      exit_reason=reason)
                await asyncio.to_thread(reap_processes, row["id"])
                continue
            try:
                provider = _provider_for_row(row)
            except (LookupError, ValueError) as exc:
                store.update_terminal(self.conn, row["id"], status=TerminalStatus.EXITED.value,
                                      exit_reason=str(exc))
                continue
            log_path = Path(row["log_path"])
            await asyncio.to_thread(self.tmux.ensure_pipe, pane_id, log_path)
            live = LiveTerminal(id=row["id"], session_name=row["session_name"], pane_id=pane_id,
                                provider=provider, log_path=log_path, profile=row["profile"],
                                status=TerminalStatus(row["status"]))
            self.live[row["id"]] = live
            # Classify now, not after a debounce: whoever resumes work on this terminal
            # next must not act on the status the previous server last stored.
            await self._refresh(live)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self._sweep()
            except Exception:
                log.exception("terminal sweep failed")

    async def _sweep(self) -> None:
        if not self.live:
            return
        panes = await asyncio.to_thread(self._pane_states)
        for live in list(self.live.values()):
            dead = panes.get(live.pane_id)
            if dead is None or dead or live.status == TerminalStatus.STARTING \
                    or live.log_size() != live.log_size_seen:
                self._schedule_refresh(live)
        async with self.changed:  # re-check time-based conditions of waiters
            self.changed.notify_all()

    def _pane_states(self) -> dict[str, bool]:
        out = self.tmux.run("list-panes", "-a", "-F", "#{pane_id} #{pane_dead}", check=False)
        states = {}
        for line in out:
            pane, _, dead = line.partition(" ")
            states[pane] = dead == "1"
        return states


def _same_input_line(screen: str, before: str) -> bool:
    """True when only cosmetic lines changed (a blinking cursor, a clock): the typed
    input is still sitting where it was."""
    a = [l.rstrip() for l in screen.split("\n") if l.strip()]
    b = [l.rstrip() for l in before.split("\n") if l.strip()]
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) <= 1 and a[-3:] == b[-3:]


def _provider_for_row(row: dict[str, Any]) -> Provider:
    from types import SimpleNamespace

    snapshot = row.get("launch", {}).get("profile") or {"name": row["profile"], "custom": None}
    return get_provider(row["provider"]).for_profile(SimpleNamespace(**snapshot))


def _window_name(profile_name: str, terminal_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in profile_name)[:40] or "agent"
    return f"{safe}-{terminal_id}"


def _cleanup_ctx(row: dict[str, Any]) -> LaunchContext:
    home = Path(row.get("launch", {}).get("home") or config.terminal_home_dir(row["id"]))
    return LaunchContext(terminal_id=row["id"], profile=None,
                         working_directory=Path(row["working_directory"]), terminal_home=home,
                         env={}, cao_mcp=McpServerLaunch(command=""))
