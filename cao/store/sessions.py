"""Sessions (one tmux session each) and their terminals (one tmux window each)."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    name        TEXT PRIMARY KEY,
    created_at  REAL NOT NULL,
    run_id      TEXT,
    state       TEXT NOT NULL DEFAULT 'active'
);
CREATE TABLE IF NOT EXISTS terminals (
    id                 TEXT PRIMARY KEY,
    session_name       TEXT NOT NULL,
    window_name        TEXT NOT NULL,
    window_id          TEXT,
    pane_id            TEXT,
    pane_pid           INTEGER,
    provider           TEXT NOT NULL,
    profile            TEXT NOT NULL,
    working_directory  TEXT NOT NULL,
    log_path           TEXT NOT NULL,
    status             TEXT NOT NULL,
    exit_reason        TEXT,
    parent_terminal_id TEXT,
    run_id             TEXT,
    node_id            TEXT,
    launch             TEXT NOT NULL DEFAULT '{}',
    created_at         REAL NOT NULL,
    updated_at         REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS terminals_by_session ON terminals(session_name);
CREATE INDEX IF NOT EXISTS terminals_by_status ON terminals(status);
"""


def create_session(conn: sqlite3.Connection, name: str, run_id: str | None = None) -> None:
    conn.execute("INSERT INTO sessions(name, created_at, run_id) VALUES (?, ?, ?)",
                 (name, time.time(), run_id))


def get_session(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM sessions WHERE name = ?", (name,)).fetchone()
    return dict(row) if row else None


def list_sessions(conn: sqlite3.Connection, *, include_closed: bool = False) -> list[dict[str, Any]]:
    sql = "SELECT * FROM sessions"
    if not include_closed:
        sql += " WHERE state = 'active'"
    return [dict(r) for r in conn.execute(sql + " ORDER BY created_at")]


def close_session(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("UPDATE sessions SET state = 'closed' WHERE name = ?", (name,))


def insert_terminal(conn: sqlite3.Connection, **fields: Any) -> None:
    now = time.time()
    fields.setdefault("created_at", now)
    fields.setdefault("updated_at", now)
    if isinstance(fields.get("launch"), dict):
        fields["launch"] = json.dumps(fields["launch"])
    cols = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    conn.execute(f"INSERT INTO terminals({cols}) VALUES ({marks})", tuple(fields.values()))


def update_terminal(conn: sqlite3.Connection, terminal_id: str, **fields: Any) -> None:
    fields["updated_at"] = time.time()
    sets = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE terminals SET {sets} WHERE id = ?", (*fields.values(), terminal_id))


def _terminal(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    out["launch"] = json.loads(out.get("launch") or "{}")
    return out


def get_terminal(conn: sqlite3.Connection, terminal_id: str) -> dict[str, Any] | None:
    return _terminal(conn.execute("SELECT * FROM terminals WHERE id = ?", (terminal_id,)).fetchone())


def list_terminals(conn: sqlite3.Connection, *, session_name: str | None = None,
                   alive_only: bool = False, run_id: str | None = None) -> list[dict[str, Any]]:
    sql, args = "SELECT * FROM terminals WHERE 1=1", []
    if session_name is not None:
        sql += " AND session_name = ?"
        args.append(session_name)
    if run_id is not None:
        sql += " AND run_id = ?"
        args.append(run_id)
    if alive_only:
        sql += " AND status != 'exited'"
    return [_terminal(r) for r in conn.execute(sql + " ORDER BY created_at", args)]
