"""Runs: workflow runs and `cao launch` sessions, their nodes, edges and event journal.

A run's nodes include the static ones of its workflow and the dynamic ones agents add
with handoff/assign/send_message at run time; both live in the same tables, so one
graph shows both. The events table is append-only: every state change of a run is
journaled there (in the same transaction as the change) before it is acted on.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from cao.store.db import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,            -- workflow | session
    name          TEXT NOT NULL,
    workflow_path TEXT,
    spec          TEXT NOT NULL DEFAULT '{}',
    inputs        TEXT NOT NULL DEFAULT '{}',
    options       TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL,            -- pending running succeeded failed cancelled
    output        TEXT,
    error         TEXT,
    session_name  TEXT,
    created_at    REAL NOT NULL,
    finished_at   REAL
);
CREATE TABLE IF NOT EXISTS run_nodes (
    run_id       TEXT NOT NULL,
    key          TEXT NOT NULL,             -- node id, `id[3]` for fan-out children, `d1`.. dynamic
    node_id      TEXT,                      -- static node id (null for dynamic nodes)
    kind         TEXT NOT NULL,             -- handoff assign send_message agent
    profile      TEXT,
    provider     TEXT,
    parent_key   TEXT,                      -- fan-out parent, or the delegating node
    item         TEXT,                      -- JSON of the for_each item
    dynamic      INTEGER NOT NULL DEFAULT 0,
    depth        INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL,             -- pending running succeeded failed skipped cancelled
    terminal_id  TEXT,                      -- the terminal this node created (owns)
    receiver_id  TEXT,                      -- send_message nodes: the receiving terminal
    attempt      INTEGER NOT NULL DEFAULT 0,
    message      TEXT,
    output       TEXT,
    error        TEXT,
    started_at   REAL,
    finished_at  REAL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS run_nodes_terminal ON run_nodes(terminal_id);
CREATE TABLE IF NOT EXISTS run_edges (
    run_id  TEXT NOT NULL,
    src     TEXT NOT NULL,
    dst     TEXT NOT NULL,
    kind    TEXT NOT NULL,
    PRIMARY KEY (run_id, src, dst, kind)
);
CREATE TABLE IF NOT EXISTS run_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    TEXT NOT NULL,
    ts        REAL NOT NULL,
    type      TEXT NOT NULL,
    node_key  TEXT,
    data      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS run_events_by_run ON run_events(run_id, id);
"""

_JSON_COLS = {"spec", "inputs", "options", "item"}


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    for col in _JSON_COLS & out.keys():
        if out[col] is not None:
            out[col] = json.loads(out[col])
    return out


def _dump(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(v) if k in _JSON_COLS and v is not None else v) for k, v in fields.items()}


def journal(conn: sqlite3.Connection, run_id: str, type_: str, node_key: str | None = None,
            **data: Any) -> None:
    conn.execute("INSERT INTO run_events(run_id, ts, type, node_key, data) VALUES (?, ?, ?, ?, ?)",
                 (run_id, time.time(), type_, node_key, json.dumps(data, default=str)))


def create_run(conn: sqlite3.Connection, **fields: Any) -> None:
    fields.setdefault("created_at", time.time())
    fields = _dump(fields)
    with transaction(conn):
        conn.execute(f"INSERT INTO runs({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
                     tuple(fields.values()))
        journal(conn, fields["id"], "run.created", state=fields.get("state"))


def update_run(conn: sqlite3.Connection, run_id: str, event: str | None = None, **fields: Any) -> None:
    fields = _dump(fields)
    with transaction(conn):
        if fields:
            conn.execute(f"UPDATE runs SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                         (*fields.values(), run_id))
        if event:
            journal(conn, run_id, event, **{k: v for k, v in fields.items() if k != "output"})


def get_run(conn: sqlite3.Connection, run_id: str) -> dict[str, Any] | None:
    return _row(conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())


def list_runs(conn: sqlite3.Connection, limit: int = 50, kind: str | None = None) -> list[dict[str, Any]]:
    sql, args = "SELECT * FROM runs", []
    if kind:
        sql += " WHERE kind = ?"
        args.append(kind)
    sql += " ORDER BY created_at DESC LIMIT ?"
    args.append(limit)
    return [_row(r) for r in conn.execute(sql, args)]


def runs_in_state(conn: sqlite3.Connection, *states: str) -> list[dict[str, Any]]:
    marks = ", ".join("?" * len(states))
    return [_row(r) for r in conn.execute(f"SELECT * FROM runs WHERE state IN ({marks})", states)]


def upsert_node(conn: sqlite3.Connection, run_id: str, key: str, event: str | None = None,
                **fields: Any) -> None:
    """Insert or update a node; journaled with `event` in the same transaction."""
    fields = _dump(fields)
    with transaction(conn):
        exists = conn.execute("SELECT 1 FROM run_nodes WHERE run_id = ? AND key = ?",
                              (run_id, key)).fetchone()
        if exists:
            if fields:
                conn.execute(
                    f"UPDATE run_nodes SET {', '.join(f'{k} = ?' for k in fields)} "
                    "WHERE run_id = ? AND key = ?", (*fields.values(), run_id, key))
        else:
            cols = {"run_id": run_id, "key": key, **fields}
            cols.setdefault("state", "pending")
            conn.execute(f"INSERT INTO run_nodes({', '.join(cols)}) VALUES "
                         f"({', '.join('?' * len(cols))})", tuple(cols.values()))
        if event:
            journal(conn, run_id, event, key,
                    **{k: v for k, v in fields.items() if k not in ("output", "message")})


def get_node(conn: sqlite3.Connection, run_id: str, key: str) -> dict[str, Any] | None:
    return _row(conn.execute("SELECT * FROM run_nodes WHERE run_id = ? AND key = ?",
                             (run_id, key)).fetchone())


def list_nodes(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    return [_row(r) for r in conn.execute(
        "SELECT * FROM run_nodes WHERE run_id = ? ORDER BY rowid", (run_id,))]


def node_for_terminal(conn: sqlite3.Connection, terminal_id: str) -> dict[str, Any] | None:
    """The node whose terminal this is (the terminal's owner, not a message to it)."""
    return _row(conn.execute("SELECT * FROM run_nodes WHERE terminal_id = ? "
                             "ORDER BY started_at DESC LIMIT 1", (terminal_id,)).fetchone())


def add_edge(conn: sqlite3.Connection, run_id: str, src: str, dst: str, kind: str) -> None:
    conn.execute("INSERT OR IGNORE INTO run_edges(run_id, src, dst, kind) VALUES (?, ?, ?, ?)",
                 (run_id, src, dst, kind))


def list_edges(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute("SELECT * FROM run_edges WHERE run_id = ?", (run_id,))]


def events(conn: sqlite3.Connection, run_id: str, after: int = 0) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM run_events WHERE run_id = ? AND id > ? ORDER BY id",
                        (run_id, after))
    return [{**dict(r), "data": json.loads(r["data"])} for r in rows]


def count_dynamic_children(conn: sqlite3.Connection, run_id: str, parent_key: str) -> int:
    return conn.execute("SELECT COUNT(*) FROM run_nodes WHERE run_id = ? AND parent_key = ? "
                        "AND dynamic = 1", (run_id, parent_key)).fetchone()[0]


def next_dynamic_key(conn: sqlite3.Connection, run_id: str) -> str:
    n = conn.execute("SELECT COUNT(*) FROM run_nodes WHERE run_id = ? AND dynamic = 1",
                     (run_id,)).fetchone()[0]
    return f"d{n + 1}"
