"""Handoffs in progress: one row per blocking delegation, written before the worker gets
its task and closed with the worker's answer or error.

The row is what lets a handoff outlive the server: after a restart the server finds the
rows still `running`, re-adopts their workers and finishes the wait, and a caller that lost
its connection asks for the outcome by id (`GET /orchestration/handoffs/{id}`).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS handoffs (
    id            TEXT PRIMARY KEY,
    caller_id     TEXT,
    agent_profile TEXT NOT NULL,
    worker_id     TEXT NOT NULL,
    message       TEXT NOT NULL,
    node_key      TEXT,                             -- the dynamic node in the caller's run
    state         TEXT NOT NULL DEFAULT 'running',  -- running | succeeded | failed
    status        TEXT,                             -- the worker's terminal status at the end
    output        TEXT,
    error         TEXT,
    deadline      REAL NOT NULL,                    -- epoch seconds: when waiting gives up
    created_at    REAL NOT NULL,
    finished_at   REAL
);
CREATE INDEX IF NOT EXISTS handoffs_state ON handoffs(state);
"""


def create(conn: sqlite3.Connection, *, caller_id: str | None, agent_profile: str,
           worker_id: str, message: str, timeout: float, node_key: str | None) -> dict[str, Any]:
    handoff_id = f"h-{secrets.token_hex(5)}"
    now = time.time()
    conn.execute(
        "INSERT INTO handoffs(id, caller_id, agent_profile, worker_id, message, node_key, "
        "deadline, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (handoff_id, caller_id, agent_profile, worker_id, message, node_key, now + timeout, now))
    return get(conn, handoff_id)


def get(conn: sqlite3.Connection, handoff_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM handoffs WHERE id = ?", (handoff_id,)).fetchone()
    return dict(row) if row else None


def finish(conn: sqlite3.Connection, handoff_id: str, *, ok: bool, status: str,
           output: str | None, error: str | None) -> None:
    conn.execute(
        "UPDATE handoffs SET state = ?, status = ?, output = ?, error = ?, finished_at = ? "
        "WHERE id = ?", ("succeeded" if ok else "failed", status, output, error, time.time(),
                         handoff_id))


def prune(conn: sqlite3.Connection, older_than: float) -> int:
    """Forget finished handoffs that ended more than `older_than` seconds ago (their
    answers also live in the caller's run graph); returns how many went."""
    cur = conn.execute("DELETE FROM handoffs WHERE state != 'running' AND finished_at < ?",
                       (time.time() - older_than,))
    return cur.rowcount


def unfinished(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        "SELECT * FROM handoffs WHERE state = 'running' ORDER BY created_at")]
