"""Inbox delivery: stored messages reach their terminal oldest first, one at a time,
only when it is ready for input, exactly once.

A receiver is kicked when a message is posted and whenever its status becomes ready;
the slow sweep of the terminal manager also re-kicks receivers with waiting messages.
Ids that are not terminals but `run:` addresses are handed to the workflow runtime
(which acts as the receiver for a workflow's static assign nodes).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any, Awaitable, Callable

from cao.providers.base import TerminalStatus
from cao.store import inbox as store
from cao.store import sessions as terminals_store
from cao.terminals.manager import TerminalError, TerminalManager
from cao.terminals.state import READY

log = logging.getLogger(__name__)

VirtualReceiver = Callable[[str, str, str | None], Awaitable[None]]


def format_inbox_message(message: str, sender_id: str | None) -> str:
    return f"[Message from terminal {sender_id}] {message}" if sender_id else message


def _delivery_text(msg: dict[str, Any]) -> str:
    if msg.get("kind") == "assign":
        return msg["message"]
    return format_inbox_message(msg["message"], msg["sender_id"])


class InboxService:
    def __init__(self, conn: sqlite3.Connection, terminals: TerminalManager):
        self.conn = conn
        self.terminals = terminals
        self.virtual: dict[str, VirtualReceiver] = {}  # id prefix -> handler
        self._active: set[str] = set()
        self._again: set[str] = set()
        # message id -> future resolved with the monotonic time its turn started
        self._waiters: dict[int, asyncio.Future] = {}
        terminals.status_listeners.append(self._on_status)

    async def start(self) -> None:
        for receiver in store.receivers_with_pending(self.conn):
            self.kick(receiver)

    def post(self, receiver_id: str, message: str, sender_id: str | None = None,
             kind: str = "message") -> dict[str, Any]:
        """Store the message (first), then try to deliver it.

        `kind` "assign" marks a task for a new worker: delivered as is, without the
        "[Message from terminal ...]" header (the task carries its own callback note).
        """
        if not self._is_virtual(receiver_id):
            row = terminals_store.get_terminal(self.conn, receiver_id)
            if row is None:
                raise TerminalError(f"receiver terminal {receiver_id!r} does not exist")
            if row["status"] == TerminalStatus.EXITED.value:
                raise TerminalError(f"receiver terminal {receiver_id!r} has exited"
                                    + (f" ({row['exit_reason']})" if row.get("exit_reason") else "")
                                    + "; the message was not queued")
        msg = store.post(self.conn, receiver_id, message, sender_id, kind)
        self.kick(receiver_id)
        return msg

    def _is_virtual(self, receiver_id: str) -> bool:
        return any(receiver_id.startswith(prefix) for prefix in self.virtual)

    def _on_status(self, terminal_id: str, status: TerminalStatus) -> None:
        if status in READY or status == TerminalStatus.EXITED:
            self.kick(terminal_id)

    def kick(self, receiver_id: str) -> None:
        if receiver_id in self._active:
            self._again.add(receiver_id)
            return
        self._active.add(receiver_id)
        asyncio.ensure_future(self._run(receiver_id))

    async def _run(self, receiver_id: str) -> None:
        try:
            while True:
                self._again.discard(receiver_id)
                try:
                    await self._deliver_next(receiver_id)
                except Exception:
                    log.exception("inbox delivery to %s failed", receiver_id)
                if receiver_id not in self._again:
                    break
        finally:
            self._active.discard(receiver_id)

    async def _deliver_next(self, receiver_id: str) -> None:
        for prefix, handler in self.virtual.items():
            if receiver_id.startswith(prefix):
                while (msg := store.next_pending(self.conn, receiver_id)) is not None:
                    await handler(receiver_id, msg["message"], msg["sender_id"])
                    store.mark_delivered(self.conn, msg["id"])
                    self._resolve(msg["id"], None)
                return
        msg = store.next_pending(self.conn, receiver_id)
        if msg is None:
            return
        status = self.terminals.status(receiver_id)
        if status == TerminalStatus.EXITED:
            for pending in store.list_for(self.conn, receiver_id):
                if pending["state"] in ("pending", "delivering"):
                    store.mark_failed(self.conn, pending["id"], "receiver terminal exited")
            return
        if msg["state"] == "delivering" and self._already_delivered(receiver_id, msg):
            store.mark_delivered(self.conn, msg["id"])
            self._again.add(receiver_id)
            return
        if not self.terminals.ready_for_input(receiver_id, status):
            return  # delivered when the receiver's status next becomes ready
        live = self.terminals.live.get(receiver_id)
        store.mark_delivering(self.conn, msg["id"], live.log_size() if live else 0)
        try:
            started = await self.terminals.send_input(
                receiver_id, _delivery_text(msg), kind=msg.get("kind") or "message")
        except TerminalError as exc:
            # Not accepted: back to pending; the next kick tries again (or fails it on exit).
            log.warning("delivery of message %s to %s failed: %s", msg["id"], receiver_id, exc)
            store.mark_pending(self.conn, msg["id"])
            return
        store.mark_delivered(self.conn, msg["id"])
        self._resolve(msg["id"], started)

    def _resolve(self, message_id: int, started: float | None) -> None:
        fut = self._waiters.pop(message_id, None)
        if fut is not None and not fut.done():
            fut.set_result(started)

    async def wait_delivered(self, message_id: int, timeout: float | None = None) -> float | None:
        """Wait until the message is delivered; the monotonic start of the turn it began."""
        fut = self._waiters.get(message_id)
        if fut is None:
            fut = self._waiters[message_id] = asyncio.get_running_loop().create_future()
        if store.get(self.conn, message_id)["state"] == "delivered":
            self._resolve(message_id, None)
        return await asyncio.wait_for(asyncio.shield(fut), timeout)

    def _already_delivered(self, receiver_id: str, msg: dict[str, Any]) -> bool:
        """After a crash mid-delivery: is the message already in the receiver's transcript?"""
        return self.terminals.transcript_contains(receiver_id, _delivery_text(msg),
                                                  since=msg["log_offset"] or 0)
