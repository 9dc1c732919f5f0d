"""One attempt of one workflow node: handoff, assign or send_message.

Each function returns the node's output or raises NodeFailed with a reason. They record
the terminal they create on the node before waiting, so a restarted server can find
and re-adopt it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cao.providers.base import TerminalStatus
from cao.runtime.delegation import ASSIGN_SUFFIX
from cao.store import inbox as inbox_store
from cao.store import runs as runs_store


class NodeFailed(RuntimeError):
    pass


def virtual_receiver(run_id: str, key: str) -> str:
    """The inbox address the runtime listens on for an assign node's callback.

    Terminal-id alphabet only (agents copy it into tool calls): `analyze[2]` -> `analyze.2`.
    """
    return f"run:{run_id}:{key.replace('[', '.').replace(']', '')}"


def key_of_receiver(receiver_id: str) -> tuple[str, str]:
    """(run id, node key) of a virtual receiver address."""
    _, run_id, key = receiver_id.split(":", 2)
    base, dot, index = key.rpartition(".")
    return run_id, (f"{base}[{index}]" if dot and index.isdigit() else key)


async def run_handoff(ex: Any, key: str, profile: Any, provider: str, message: str,
                      timeout: float | None, workdir: str | None, resume_terminal: str | None) -> str:
    delegation = ex.services.delegation
    if resume_terminal is not None:
        # Re-adopted after a restart: finish the turn it was given (None: it has exited).
        result = await delegation.resume_turn(resume_terminal, message, kind="handoff",
                                              timeout=timeout)
        if result is not None:
            if not result.ok:
                raise NodeFailed(result.error or "handoff failed")
            return result.output or ""
    worker = await ex.create_terminal(key, profile, provider, workdir)
    result = await delegation.run_turn(worker["id"], message, kind="handoff", timeout=timeout)
    if not result.ok:
        raise NodeFailed(result.error or "handoff failed")
    return result.output or ""


async def run_assign(ex: Any, key: str, profile: Any, provider: str, message: str,
                     timeout: float | None, workdir: str | None, resume_terminal: str | None) -> str:
    terminals = ex.services.terminals
    callback = ex.expect_callback(key, fresh=resume_terminal is None)
    terminal_id = resume_terminal
    if terminal_id is not None and terminals.status(terminal_id) == TerminalStatus.EXITED:
        terminal_id = None
    if terminal_id is None:
        worker = await ex.create_terminal(key, profile, provider, workdir)
        terminal_id = worker["id"]
    if not inbox_store.list_for(ex.conn, terminal_id):
        # Queued in the worker's inbox: delivered once it is ready, and exactly once even
        # if the server restarts before or during delivery.
        text = f"{message}\n\n{ASSIGN_SUFFIX.format(caller=virtual_receiver(ex.run_id, key))}"
        msg = ex.services.inbox.post(terminal_id, text, kind="assign")
        runs_store.journal(ex.conn, ex.run_id, "node.task_queued", key, terminal_id=terminal_id,
                           message_id=msg["id"])
    watcher = asyncio.ensure_future(_fail_on_exit(terminals, terminal_id))
    try:
        done, _ = await asyncio.wait({callback, watcher}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if callback in done:
        return callback.result()
    if watcher in done:
        reason = terminals.get(terminal_id).get("exit_reason")
        raise NodeFailed(f"worker exited before reporting back (terminal {terminal_id}): {reason}")
    raise NodeFailed(f"no callback within {timeout:.0f}s (terminal {terminal_id} left running)")


async def _fail_on_exit(terminals: Any, terminal_id: str) -> None:
    await terminals.wait_for(terminal_id, lambda s: s == TerminalStatus.EXITED, None)


async def run_send_message(ex: Any, key: str, target_terminal: str, message: str, reply: bool,
                           timeout: float | None) -> str:
    inbox = ex.services.inbox
    terminals = ex.services.terminals
    msg = inbox.post(target_terminal, message, sender_id=virtual_receiver(ex.run_id, key))
    runs_store.journal(ex.conn, ex.run_id, "node.message_queued", key, message_id=msg["id"],
                       receiver_id=target_terminal)
    started = time.monotonic()
    try:
        turn = await inbox.wait_delivered(msg["id"], timeout)
    except asyncio.TimeoutError:
        raise NodeFailed(f"message not delivered within {timeout:.0f}s: terminal "
                         f"{target_terminal} stayed busy") from None
    if not reply:
        return ""
    remaining = None if timeout is None else max(0.1, timeout - (time.monotonic() - started))
    try:
        status = await terminals.wait_finished(target_terminal, turn or 0, remaining)
    except asyncio.TimeoutError:
        raise NodeFailed(f"no reply within {timeout:.0f}s from terminal {target_terminal}") from None
    if status != TerminalStatus.COMPLETED:
        raise NodeFailed(f"receiver ended in status {status.value} (terminal {target_terminal})")
    return await terminals.output(target_terminal, "last")
