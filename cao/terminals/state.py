"""In-memory companion of one terminals row: live status and the debounce rules."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from cao.providers.base import Provider, TerminalStatus

# A finished agent whose screen suddenly looks busy, with no input sent since, must look
# busy this long before we believe it (a redraw is not work; a person typing is).
REDRAW_GRACE = 0.3

READY = frozenset({TerminalStatus.IDLE, TerminalStatus.COMPLETED, TerminalStatus.ERROR})
FINISHED = frozenset({TerminalStatus.COMPLETED, TerminalStatus.ERROR,
                      TerminalStatus.WAITING_USER_ANSWER, TerminalStatus.EXITED})


@dataclass
class LiveTerminal:
    id: str
    session_name: str
    pane_id: str
    provider: Provider
    log_path: Path
    profile: str
    status: TerminalStatus = TerminalStatus.STARTING
    status_since: float = field(default_factory=time.monotonic)
    last_input_at: float = 0.0
    busy_candidate_since: float | None = None
    refresh_pending: bool = False
    log_size_seen: int = 0
    input_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    exit_reason: str | None = None
    dialogs_answered: int = 0
    mcp_ready: bool = False
    awaiting_busy: bool = False  # input sent, no busy screen seen yet
    inbox_holds: int = 0         # turns in progress whose answer is still to be read
    created_at: float = field(default_factory=time.monotonic)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def accept(self, observed: TerminalStatus, now: float) -> TerminalStatus | None:
        """Apply the debounce rules; the status to record, or None to keep the current one."""
        if observed == self.status:
            self.busy_candidate_since = None
            return None
        if (observed == TerminalStatus.PROCESSING and self.status in READY
                and self.last_input_at < self.status_since):
            if self.busy_candidate_since is None:
                self.busy_candidate_since = now
                return None
            if now - self.busy_candidate_since < REDRAW_GRACE:
                return None
        self.busy_candidate_since = None
        return observed
