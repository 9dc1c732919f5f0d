"""The server's long-lived parts, built once at start-up and shared by the routes."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass, field

from cao import config
from cao.store.db import connect
from cao.terminals.inbox import InboxService
from cao.terminals.manager import TerminalManager
from cao.terminals.tmux import Tmux
from cao.runtime.delegation import Delegation

log = logging.getLogger(__name__)

INBOX_SWEEP_INTERVAL = 5.0  # a safety net: deliveries are event-driven


@dataclass
class Services:
    conn: sqlite3.Connection
    terminals: TerminalManager
    inbox: InboxService
    delegation: Delegation
    extras: dict = field(default_factory=dict)  # runs, flows: attached by their modules
    _tasks: list = field(default_factory=list)

    @classmethod
    def build(cls) -> "Services":
        conn = connect(config.db_path())
        terminals = TerminalManager(conn, Tmux())
        inbox = InboxService(conn, terminals)
        return cls(conn=conn, terminals=terminals, inbox=inbox,
                   delegation=Delegation(conn, terminals, inbox))

    async def start(self) -> None:
        await self.terminals.start()
        await self.delegation.resume_handoffs()  # their workers were just re-adopted
        # Runs resume before the inbox starts, so callbacks queued for them find them.
        for starter in self.extras.get("starters", []):
            await starter(self)
        await self.inbox.start()
        self._tasks.append(asyncio.create_task(self._inbox_sweep()))

    async def _inbox_sweep(self) -> None:
        """Safety net: receivers with waiting messages are re-kicked now and then."""
        from cao.store import inbox as inbox_store

        while True:
            await asyncio.sleep(INBOX_SWEEP_INTERVAL)
            try:
                for receiver in inbox_store.receivers_with_pending(self.conn):
                    self.inbox.kick(receiver)
            except Exception:
                log.exception("inbox sweep failed")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for stopper in self.extras.get("stoppers", []):
            await stopper(self)
        await self.terminals.stop()
