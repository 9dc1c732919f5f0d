"""The inbox: messages to a terminal, stored before any delivery is attempted.

States: pending -> delivering -> delivered (or failed). `delivering` is written, with the
receiver's transcript size at that moment, before the text is pasted; after a crash a
message left in `delivering` is settled by looking for it in the transcript beyond that
offset, so it is neither lost nor delivered twice.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver_id   TEXT NOT NULL,
    sender_id     TEXT,
    kind          TEXT NOT NULL DEFAULT 'message',   -- message | assign (a worker's task)
    message       TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending',
    log_offset    INTEGER,
    error         TEXT,
    created_at    REAL NOT NULL,
    delivered_at  REAL
);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox(receiver_id, state, id);
"""


def post(conn: sqlite3.Connection, receiver_id: str, message: str,
         sender_id: str | None = None, kind: str = "message") -> dict[str, Any]:
    cur = conn.execute(
        "INSERT INTO inbox(receiver_id, sender_id, kind, message, created_at) VALUES (?, ?, ?, ?, ?)",
        (receiver_id, sender_id, kind, message, time.time()))
    return get(conn, cur.lastrowid)


def get(conn: sqlite3.Connection, message_id: int) -> dict[str, Any]:
    return dict(conn.execute("SELECT * FROM inbox WHERE id = ?", (message_id,)).fetchone())


def next_pending(conn: sqlite3.Connection, receiver_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM inbox WHERE receiver_id = ? AND state IN ('pending', 'delivering') "
        "ORDER BY id LIMIT 1", (receiver_id,)).fetchone()
    return dict(row) if row else None


def receivers_with_pending(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT receiver_id FROM inbox WHERE state IN ('pending', 'delivering')")]


def mark_delivering(conn: sqlite3.Connection, message_id: int, log_offset: int) -> None:
    conn.execute("UPDATE inbox SET state = 'delivering', log_offset = ? WHERE id = ?",
                 (log_offset, message_id))


def mark_pending(conn: sqlite3.Connection, message_id: int) -> None:
    conn.execute("UPDATE inbox SET state = 'pending', log_offset = NULL WHERE id = ?", (message_id,))


def mark_delivered(conn: sqlite3.Connection, message_id: int) -> None:
    conn.execute("UPDATE inbox SET state = 'delivered', delivered_at = ? WHERE id = ?",
                 (time.time(), message_id))


def mark_failed(conn: sqlite3.Connection, message_id: int, error: str) -> None:
    conn.execute("UPDATE inbox SET state = 'failed', error = ? WHERE id = ?", (error, message_id))


def list_for(conn: sqlite3.Connection, receiver_id: str, state: str | None = None) -> list[dict[str, Any]]:
    sql, args = "SELECT * FROM inbox WHERE receiver_id = ?", [receiver_id]
    if state:
        sql += " AND state = ?"
        args.append(state)
    return [dict(r) for r in conn.execute(sql + " ORDER BY id", args)]
