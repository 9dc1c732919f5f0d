"""handoff, assign and send_message: the three ways one agent delegates to another.

Used by the REST API (and so by cao-mcp-server and `cao agent ...`) and by the workflow
runtime. Each call from a terminal that belongs to a run is recorded in that run's graph
as a dynamic node with an edge from the caller's node, and checked against the run's
delegation limits first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cao import config
from cao.providers.base import TerminalStatus
from cao.runtime.profiles import find_profile
from cao.store import handoffs as handoffs_store
from cao.store import runs as runs_store
from cao.store import sessions as sessions_store
from cao.terminals.inbox import InboxService
from cao.terminals.manager import TerminalError, TerminalManager
from cao.terminals.state import FINISHED
from cao.terminals.policy import check_working_directory

log = logging.getLogger(__name__)

HANDOFF_RETENTION = 7 * 86400  # seconds a finished handoff stays answerable by id

DEFAULT_HANDOFF_TIMEOUT = 600.0
ASSIGN_SUFFIX = ("[Assigned by terminal {caller}. When done, send results back to terminal "
                 "{caller} using send_message]")


class DelegationError(RuntimeError):
    """A refused or failed delegation, phrased for the agent that asked."""


@dataclass
class HandoffResult:
    terminal_id: str
    status: str
    output: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Delegation:
    def __init__(self, conn: sqlite3.Connection, terminals: TerminalManager, inbox: InboxService):
        self.conn = conn
        self.terminals = terminals
        self.inbox = inbox
        self._handoff_tasks: dict[str, asyncio.Task] = {}

    # -- provider choice ------------------------------------------------------------
    def resolve_provider(self, profile: Any, *, explicit: str | None = None,
                         inherited: str | None = None) -> str:
        if explicit:
            return explicit
        if getattr(profile, "provider", None):
            return profile.provider
        if inherited:
            return inherited
        from cao.providers.defaults import resolve_default_provider

        return resolve_default_provider()

    # -- callers --------------------------------------------------------------------
    def _caller(self, caller_id: str | None) -> dict[str, Any] | None:
        if not caller_id:
            return None
        row = sessions_store.get_terminal(self.conn, caller_id)
        if row is None:
            raise DelegationError(
                f"caller terminal {caller_id!r} is not known to this cao-server; CAO_TERMINAL_ID "
                "must be the id of a terminal cao started")
        return row

    def _caller_node(self, caller: dict[str, Any] | None) -> dict[str, Any] | None:
        if caller is None or not caller.get("run_id"):
            return None
        return runs_store.node_for_terminal(self.conn, caller["id"])

    def _check_limits(self, caller: dict[str, Any] | None, profile_name: str) -> None:
        if caller is None or not caller.get("run_id"):
            return
        run = runs_store.get_run(self.conn, caller["run_id"])
        limits = (run or {}).get("spec", {}).get("limits") or {}
        allowed = limits.get("allowed_profiles")
        if allowed is not None and profile_name not in allowed:
            raise DelegationError(
                f"profile {profile_name!r} is not allowed in this workflow run; allowed profiles: "
                f"{', '.join(allowed) or '(none)'}")
        node = self._caller_node(caller)
        if node is not None:
            if limits.get("max_depth") is not None and node["depth"] + 1 > limits["max_depth"]:
                raise DelegationError(
                    f"delegation depth limit reached (max_depth {limits['max_depth']}): this agent "
                    "is already at the deepest level allowed; do the work yourself instead")
            if limits.get("max_fanout") is not None:
                children = runs_store.count_dynamic_children(self.conn, run["id"], node["key"])
                if children >= limits["max_fanout"]:
                    raise DelegationError(
                        f"fan-out limit reached (max_fanout {limits['max_fanout']}): this agent has "
                        f"already delegated {children} times; wait for results or reuse workers "
                        "with send_message")
        if limits.get("max_terminals") is not None:
            alive = len(sessions_store.list_terminals(self.conn, run_id=caller["run_id"],
                                                      alive_only=True))
            if alive >= limits["max_terminals"]:
                raise DelegationError(
                    f"terminal limit reached (max_terminals {limits['max_terminals']}, {alive} alive); "
                    "wait for a worker to finish or send follow-up work to an existing one")

    def _record(self, caller: dict[str, Any] | None, kind: str, *, profile: str | None,
                provider: str | None, terminal_id: str | None, message: str,
                dst_key: str | None = None, receiver_id: str | None = None) -> str | None:
        """Add a dynamic node (and the edge from the caller's node) to the caller's run."""
        node = self._caller_node(caller)
        if node is None:
            return None
        run_id = caller["run_id"]
        key = runs_store.next_dynamic_key(self.conn, run_id)
        runs_store.upsert_node(
            self.conn, run_id, key, "node.added", kind=kind, profile=profile, provider=provider,
            parent_key=node["key"], dynamic=1, depth=node["depth"] + 1, state="running",
            terminal_id=terminal_id, receiver_id=receiver_id, message=message,
            started_at=time.time())
        runs_store.add_edge(self.conn, run_id, node["key"], key, kind)
        if dst_key:
            runs_store.add_edge(self.conn, run_id, key, dst_key, "delivers_to")
        return key

    def _finish(self, caller: dict[str, Any] | None, key: str | None, state: str,
                output: str | None = None, error: str | None = None) -> None:
        if key is None or caller is None:
            return
        runs_store.upsert_node(self.conn, caller["run_id"], key, f"node.{state}", state=state,
                               output=output, error=error, finished_at=time.time())

    # -- workers --------------------------------------------------------------------
    async def create_worker(self, caller: dict[str, Any] | None, profile_name: str, *,
                            working_directory: str | None = None, provider: str | None = None,
                            run_id: str | None = None, node_id: str | None = None,
                            near: Path | None = None) -> dict[str, Any]:
        if near is None and caller is not None and caller.get("run_id"):
            run = runs_store.get_run(self.conn, caller["run_id"])
            if run and run.get("workflow_path"):
                near = Path(run["workflow_path"])  # the workflow's own profiles/ folder
        profile = find_profile(profile_name, near=near)
        provider_name = self.resolve_provider(profile, explicit=provider,
                                              inherited=caller["provider"] if caller else None)
        if working_directory and caller is not None and not config.working_directory_enabled():
            raise DelegationError(
                "working_directory is disabled for agents; the server operator can enable it with "
                "CAO_ENABLE_WORKING_DIRECTORY=true")
        workdir = working_directory or (caller["working_directory"] if caller else None)
        if workdir:
            check_working_directory(workdir)
        session = caller["session_name"] if caller else None
        if session is None:
            raise DelegationError("a worker needs a session: call from a cao terminal")
        return await self.terminals.create(
            session_name=session, profile=profile, provider_name=provider_name,
            working_directory=workdir, parent_terminal_id=caller["id"] if caller else None,
            run_id=run_id if run_id is not None else (caller or {}).get("run_id"),
            node_id=node_id)

    async def run_turn(self, terminal_id: str, message: str, *, kind: str,
                       timeout: float | None) -> HandoffResult:
        """Wait until ready, send `message`, wait for the answer; never raise on timeout.

        The terminal's inbox is held meanwhile: a queued message delivered the moment the
        turn finishes would start another turn before this answer has been read.
        """
        with self._inbox_held(terminal_id):
            return await self._run_turn(terminal_id, message, kind=kind, timeout=timeout)

    @contextlib.contextmanager
    def _inbox_held(self, terminal_id: str):
        """Hold the terminal's inbox during a turn; deliver what waited once it is read."""
        self.terminals.hold_inbox(terminal_id, True)
        try:
            yield
        finally:
            self.terminals.hold_inbox(terminal_id, False)
            self.inbox.kick(terminal_id)

    async def _run_turn(self, terminal_id: str, message: str, *, kind: str,
                        timeout: float | None) -> HandoffResult:
        started = time.monotonic()
        try:
            await self.terminals.wait_ready(terminal_id, timeout=timeout)
            remaining = None if timeout is None else max(0.1, timeout - (time.monotonic() - started))
            turn = await self.terminals.send_input(terminal_id, message, kind=kind)
            status = await self.terminals.wait_finished(terminal_id, turn, remaining)
        except asyncio.TimeoutError:
            return self._timed_out(terminal_id, timeout)
        except TerminalError as exc:
            status = self.terminals.status(terminal_id)
            return HandoffResult(terminal_id, status.value, None, str(exc))
        return await self._conclude(terminal_id, status)

    async def _conclude(self, terminal_id: str, status: TerminalStatus) -> HandoffResult:
        """The outcome of a finished turn: the answer, or an error with the screen's tail."""
        if status == TerminalStatus.COMPLETED:
            try:
                return HandoffResult(terminal_id, status.value,
                                     await self.terminals.output(terminal_id, "last"))
            except TerminalError as exc:
                return HandoffResult(terminal_id, status.value, None, str(exc))
        detail = {
            TerminalStatus.ERROR: "the worker reported an error",
            TerminalStatus.WAITING_USER_ANSWER: "the worker is waiting for a user's answer "
                                                "(a permission or question prompt)",
            TerminalStatus.EXITED: "the worker exited: "
                                   + str(self.terminals.get(terminal_id).get("exit_reason")),
        }.get(status, f"the worker ended in status {status.value}")
        tail = ""
        try:
            tail = (await self.terminals.output(terminal_id, "full"))[-1500:]
        except Exception:
            pass
        return HandoffResult(terminal_id, status.value, None,
                             f"{detail} (terminal {terminal_id}); last output:\n{tail}")

    async def resume_turn(self, terminal_id: str, message: str, *, kind: str,
                          timeout: float | None) -> HandoffResult | None:
        """After a restart: finish the turn a re-adopted worker was given before.

        A worker that answered keeps its answer; one still working is waited for; one whose
        input box holds the message (the server died between paste and submit key) gets the
        key; one that never got the message gets it now. Workers are fresh terminals, so the
        message in the transcript means this turn's paste. None when the worker has exited
        (the caller decides whether a new worker takes over).
        """
        status = self.terminals.status(terminal_id)
        if status == TerminalStatus.EXITED:
            return None
        if status == TerminalStatus.IDLE and self.terminals.was_typed(terminal_id, message,
                                                                      kind=kind):
            log.info("terminal %s holds its task unsent; submitting it", terminal_id)
            with self._inbox_held(terminal_id):
                try:
                    turn = await self.terminals.submit(terminal_id)
                    status = await self.terminals.wait_finished(terminal_id, turn, timeout)
                except asyncio.TimeoutError:
                    return self._timed_out(terminal_id, timeout)
                except TerminalError as exc:
                    return HandoffResult(terminal_id, self.terminals.status(terminal_id).value,
                                         None, str(exc))
                if status in FINISHED:  # read the answer before the inbox may start a turn
                    return await self._conclude(terminal_id, status)
        elif status == TerminalStatus.PROCESSING:
            try:
                status = await self.terminals.wait_finished(terminal_id, 0, timeout)
            except asyncio.TimeoutError:
                return self._timed_out(terminal_id, timeout)
        if status in FINISHED:  # it got the message: answered, failed or asks the user
            return await self._conclude(terminal_id, status)
        return await self.run_turn(terminal_id, message, kind=kind, timeout=timeout)

    def _timed_out(self, terminal_id: str, timeout: float | None) -> HandoffResult:
        status = self.terminals.status(terminal_id)
        return HandoffResult(terminal_id, status.value, None,
                             f"timed out after {timeout or 0:.0f}s waiting for terminal "
                             f"{terminal_id} (status {status.value}); the worker was left running "
                             "so you can inspect it")

    # -- the three operations -------------------------------------------------------
    async def start_handoff(self, caller_id: str | None, agent_profile: str, message: str, *,
                            timeout: float | None = None, working_directory: str | None = None,
                            provider: str | None = None) -> dict[str, Any]:
        """Create the worker, record the handoff, and start the turn; returns the record.

        The record is written before the worker gets its task, so the handoff survives a
        server restart: `resume_handoffs()` finishes it and `wait_handoff()` reports it.
        """
        caller = self._caller(caller_id)
        self._check_limits(caller, agent_profile)
        worker = await self.create_worker(caller, agent_profile,
                                          working_directory=working_directory, provider=provider)
        key = self._record(caller, "handoff", profile=agent_profile, provider=worker["provider"],
                           terminal_id=worker["id"], message=message)
        record = handoffs_store.create(
            self.conn, caller_id=caller_id, agent_profile=agent_profile, worker_id=worker["id"],
            message=message, timeout=timeout or DEFAULT_HANDOFF_TIMEOUT, node_key=key)
        self._track_handoff(record, self.run_turn(worker["id"], message, kind="handoff",
                                                  timeout=timeout or DEFAULT_HANDOFF_TIMEOUT))
        return record

    def _track_handoff(self, record: dict[str, Any], turn: Any) -> None:
        async def finish() -> HandoffResult:
            result = await turn
            handoffs_store.finish(self.conn, record["id"], ok=result.ok, status=result.status,
                                  output=result.output, error=result.error)
            caller = self._caller_or_none(record["caller_id"])
            self._finish(caller, record["node_key"], "succeeded" if result.ok else "failed",
                         result.output, result.error)
            if result.ok:
                asyncio.ensure_future(self._retire(record["worker_id"], "handoff finished"))
            return result

        task = asyncio.ensure_future(finish())
        self._handoff_tasks[record["id"]] = task
        task.add_done_callback(lambda _t: self._handoff_tasks.pop(record["id"], None))

    def _caller_or_none(self, caller_id: str | None) -> dict[str, Any] | None:
        return sessions_store.get_terminal(self.conn, caller_id) if caller_id else None

    async def wait_handoff(self, handoff_id: str, wait: float | None) -> dict[str, Any]:
        """The handoff's record once it has finished, or as it stands after `wait` seconds
        (None: however long it takes)."""
        task = self._handoff_tasks.get(handoff_id)
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), wait)
            except asyncio.TimeoutError:
                pass
        record = handoffs_store.get(self.conn, handoff_id)
        if record is None:
            raise LookupError(f"no handoff {handoff_id!r} on this cao-server")
        return record

    async def resume_handoffs(self) -> None:
        """On server start: finish the handoffs a previous server process left running,
        and forget finished ones older than a week (a caller that lost its connection
        has had time to ask)."""
        handoffs_store.prune(self.conn, older_than=HANDOFF_RETENTION)
        for record in handoffs_store.unfinished(self.conn):
            remaining = max(1.0, record["deadline"] - time.time())
            self._track_handoff(record, self._resumed_turn(record, remaining))
            log.info("resuming handoff %s (worker %s)", record["id"], record["worker_id"])

    async def _resumed_turn(self, record: dict[str, Any], timeout: float) -> HandoffResult:
        worker_id = record["worker_id"]
        try:
            result = await self.resume_turn(worker_id, record["message"], kind="handoff",
                                            timeout=timeout)
        except (TerminalError, KeyError) as exc:
            result = HandoffResult(worker_id, "exited", None,
                                   f"the worker could not be re-adopted after a server restart: {exc}")
        if result is None:
            result = HandoffResult(worker_id, "exited", None,
                                   f"the worker (terminal {worker_id}) exited while the cao-server "
                                   "was down; hand the task off again")
        return result

    async def _retire(self, terminal_id: str, reason: str) -> None:
        try:
            await self.terminals.delete(terminal_id, reason=reason)
        except Exception:
            log.exception("could not remove worker %s", terminal_id)

    async def assign(self, caller_id: str | None, agent_profile: str, message: str, *,
                     working_directory: str | None = None, provider: str | None = None,
                     reply_to: str | None = None) -> dict[str, Any]:
        caller = self._caller(caller_id)
        reply_to = reply_to or caller_id
        if not reply_to:
            raise DelegationError("assign needs a caller terminal to send results back to")
        self._check_limits(caller, agent_profile)
        worker = await self.create_worker(caller, agent_profile,
                                          working_directory=working_directory, provider=provider)
        key = self._record(caller, "assign", profile=agent_profile, provider=worker["provider"],
                           terminal_id=worker["id"], message=message)
        text = f"{message}\n\n{ASSIGN_SUFFIX.format(caller=reply_to)}"
        # The task goes through the worker's inbox: stored now, delivered once the worker
        # is ready, and still delivered (once) if the server restarts in between.
        self.inbox.post(worker["id"], text, kind="assign")
        return {"terminal_id": worker["id"], "node": key}

    def send_message(self, sender_id: str | None, receiver_id: str, message: str) -> dict[str, Any]:
        sender = self._caller(sender_id)
        msg = self.inbox.post(receiver_id, message, sender_id)
        node = self._caller_node(sender)
        if node is not None:
            # A worker answering its assigner closes the assign node it belongs to.
            if node.get("dynamic") and node["kind"] == "assign" and node["state"] == "running":
                runs_store.upsert_node(self.conn, sender["run_id"], node["key"], "node.succeeded",
                                       state="succeeded", output=message, finished_at=time.time())
            key = self._record(sender, "send_message", profile=None, provider=None,
                               terminal_id=None, receiver_id=receiver_id, message=message,
                               dst_key=self._receiver_key(sender["run_id"], receiver_id))
            self._finish(sender, key, "succeeded")
        return msg

    def _receiver_key(self, run_id: str, receiver_id: str) -> str | None:
        if receiver_id.startswith("run:"):  # the runtime, receiving for a static assign node
            from cao.runtime.nodes import key_of_receiver

            target_run, key = key_of_receiver(receiver_id)
            return key if target_run == run_id else None
        node = runs_store.node_for_terminal(self.conn, receiver_id)
        return node["key"] if node and node["run_id"] == run_id else None
