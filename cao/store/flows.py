"""Flows and their fire history.

`flows` holds one row per registered flow. Its `next_fire_time` is the durable cursor of
the scheduler: the first fire time not yet handled. Recording a fire and advancing that
cursor happen in one transaction, so after a crash every fire time is either recorded or
still pending, never both and never lost.

`flow_runs` holds one row per fire time that was handled, including the ones that did not
run (skipped, gated off), each with its reason. UNIQUE(flow_name, fire_time, trigger) makes
recording a fire idempotent. Times are ISO-8601 UTC strings with microseconds, so text order
is time order.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Any, Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS flows (
    name            TEXT PRIMARY KEY,
    path            TEXT,
    spec            TEXT NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    last_fire_time  TEXT,
    next_fire_time  TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flow_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_name     TEXT NOT NULL,
    fire_time     TEXT NOT NULL,
    trigger       TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'catch_up')),
    state         TEXT NOT NULL CHECK (state IN
                    ('running', 'succeeded', 'failed', 'skipped', 'gated_off', 'queued')),
    gate_output   TEXT,
    reason        TEXT,
    session_name  TEXT,
    run_id        TEXT,
    terminal_id   TEXT,
    answer        TEXT,
    recorded_at   TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    UNIQUE (flow_name, fire_time, trigger)
);
CREATE INDEX IF NOT EXISTS flow_runs_by_flow ON flow_runs (flow_name, id);
CREATE INDEX IF NOT EXISTS flow_runs_by_state ON flow_runs (state);
"""

TRIGGERS = ("schedule", "manual", "catch_up")
STATES = ("running", "succeeded", "failed", "skipped", "gated_off", "queued")
ACTIVE_STATES = ("running", "queued")
_RUN_FIELDS = {"state", "gate_output", "reason", "session_name", "run_id", "terminal_id",
               "answer", "started_at", "finished_at"}


def iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()}; store aware UTC times only")
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_time(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def _now() -> str:
    return iso(datetime.now(timezone.utc))


def _flow_row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    d = dict(row)
    d["spec"] = json.loads(d["spec"])
    d["enabled"] = bool(d["enabled"])
    return d


def _run_row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    d = dict(row)
    d["gate_output"] = json.loads(d["gate_output"]) if d["gate_output"] else None
    return d


# --- flows -------------------------------------------------------------------------------

def upsert_flow(conn: sqlite3.Connection, *, name: str, spec: dict[str, Any],
                path: str | None = None, enabled: bool = True,
                next_fire_time: datetime | None = None, now: datetime | None = None) -> bool:
    """Insert or replace a flow's definition; returns True when the flow is new.

    History and `last_fire_time` survive a replace; `next_fire_time` is set to the given
    value (the caller decides whether a changed schedule restarts the cursor).
    """
    stamp = iso(now) if now else _now()
    existed = conn.execute("SELECT 1 FROM flows WHERE name = ?", (name,)).fetchone()
    conn.execute(
        """INSERT INTO flows (name, path, spec, enabled, next_fire_time, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET path = excluded.path, spec = excluded.spec,
               enabled = excluded.enabled, next_fire_time = excluded.next_fire_time,
               updated_at = excluded.updated_at""",
        (name, path, json.dumps(spec, sort_keys=True), int(enabled), iso(next_fire_time),
         stamp, stamp))
    return existed is None


def get_flow(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    return _flow_row(conn.execute("SELECT * FROM flows WHERE name = ?", (name,)).fetchone())


def list_flows(conn: sqlite3.Connection, *, enabled_only: bool = False) -> list[dict[str, Any]]:
    """All flows by name, each with `last_state`/`last_reason` of its latest recorded fire."""
    rows = conn.execute(
        """SELECT f.*,
                  (SELECT state FROM flow_runs r WHERE r.flow_name = f.name
                   ORDER BY r.id DESC LIMIT 1) AS last_state,
                  (SELECT reason FROM flow_runs r WHERE r.flow_name = f.name
                   ORDER BY r.id DESC LIMIT 1) AS last_reason
           FROM flows f""" + (" WHERE f.enabled = 1" if enabled_only else "")
        + " ORDER BY f.name").fetchall()
    return [_flow_row(r) for r in rows]


def set_enabled(conn: sqlite3.Connection, name: str, enabled: bool, *,
                next_fire_time: datetime | None = None, now: datetime | None = None) -> bool:
    """Enable or disable a flow and set its cursor; returns False when there is no such flow."""
    cur = conn.execute(
        "UPDATE flows SET enabled = ?, next_fire_time = ?, updated_at = ? WHERE name = ?",
        (int(enabled), iso(next_fire_time), iso(now) if now else _now(), name))
    return cur.rowcount > 0


def set_fire_times(conn: sqlite3.Connection, name: str, *, next_fire_time: datetime | None,
                   last_fire_time: datetime | None = None) -> None:
    """Advance the cursor (and, when given, the last handled fire time)."""
    if last_fire_time is None:
        conn.execute("UPDATE flows SET next_fire_time = ? WHERE name = ?",
                     (iso(next_fire_time), name))
    else:
        conn.execute("UPDATE flows SET next_fire_time = ?, last_fire_time = ? WHERE name = ?",
                     (iso(next_fire_time), iso(last_fire_time), name))


def remove_flow(conn: sqlite3.Connection, name: str, *, keep_history: bool = False) -> bool:
    """Delete a flow (and by default its history); returns False when there is no such flow."""
    cur = conn.execute("DELETE FROM flows WHERE name = ?", (name,))
    if not keep_history:
        conn.execute("DELETE FROM flow_runs WHERE flow_name = ?", (name,))
    return cur.rowcount > 0


def earliest_next_fire(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute("SELECT MIN(next_fire_time) FROM flows WHERE enabled = 1").fetchone()
    return parse_time(row[0])


def due_flows(conn: sqlite3.Connection, now: datetime) -> list[dict[str, Any]]:
    """Enabled flows whose cursor is at or before `now`, or not yet set."""
    rows = conn.execute(
        """SELECT * FROM flows WHERE enabled = 1
           AND (next_fire_time IS NULL OR next_fire_time <= ?) ORDER BY next_fire_time""",
        (iso(now),)).fetchall()
    return [_flow_row(r) for r in rows]


# --- flow runs ---------------------------------------------------------------------------

def record_fire(conn: sqlite3.Connection, *, flow_name: str, fire_time: datetime, trigger: str,
                state: str, reason: str | None = None, now: datetime | None = None) -> int | None:
    """Record a fire time before acting on it; returns the new row id, or None when this
    fire time was already recorded (so the caller must not act on it again).

    A scheduled fire time counts once whether it ran on time or as a catch-up.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}; expected one of {TRIGGERS}")
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; expected one of {STATES}")
    ft = iso(fire_time)
    if trigger != "manual" and conn.execute(
            """SELECT 1 FROM flow_runs WHERE flow_name = ? AND fire_time = ?
               AND trigger IN ('schedule', 'catch_up')""", (flow_name, ft)).fetchone():
        return None
    stamp = iso(now) if now else _now()
    cur = conn.execute(
        """INSERT OR IGNORE INTO flow_runs
               (flow_name, fire_time, trigger, state, reason, recorded_at, started_at,
                finished_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        (flow_name, ft, trigger, state, reason, stamp,
         stamp if state == "running" else None,
         stamp if state not in ACTIVE_STATES else None))
    return cur.lastrowid if cur.rowcount else None


def update_flow_run(conn: sqlite3.Connection, flow_run_id: int, /, **fields: Any) -> None:
    """Set fields of one flow run (`run_id` here is the workflow run the flow started)."""
    unknown = set(fields) - _RUN_FIELDS
    if unknown:
        raise ValueError(f"unknown flow_runs field(s): {', '.join(sorted(unknown))}")
    if "state" in fields and fields["state"] not in STATES:
        raise ValueError(f"unknown state {fields['state']!r}; expected one of {STATES}")
    if "gate_output" in fields and fields["gate_output"] is not None:
        fields["gate_output"] = json.dumps(fields["gate_output"], sort_keys=True)
    for key in ("started_at", "finished_at"):
        if isinstance(fields.get(key), datetime):
            fields[key] = iso(fields[key])
    if not fields:
        return
    cols = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE flow_runs SET {cols} WHERE id = ?", (*fields.values(), flow_run_id))


def get_flow_run(conn: sqlite3.Connection, flow_run_id: int) -> dict[str, Any] | None:
    return _run_row(conn.execute("SELECT * FROM flow_runs WHERE id = ?",
                                 (flow_run_id,)).fetchone())


def history(conn: sqlite3.Connection, flow_name: str, limit: int = 50) -> list[dict[str, Any]]:
    """The latest recorded fires of a flow, newest first."""
    rows = conn.execute(
        "SELECT * FROM flow_runs WHERE flow_name = ? ORDER BY id DESC LIMIT ?",
        (flow_name, limit)).fetchall()
    return [_run_row(r) for r in rows]


def running_count(conn: sqlite3.Connection, flow_name: str) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM flow_runs WHERE flow_name = ? AND state = 'running'",
        (flow_name,)).fetchone()[0]


def running_ids(conn: sqlite3.Connection, flow_name: str) -> list[int]:
    return [r[0] for r in conn.execute(
        "SELECT id FROM flow_runs WHERE flow_name = ? AND state = 'running' ORDER BY id",
        (flow_name,))]


def queued_run(conn: sqlite3.Connection, flow_name: str) -> dict[str, Any] | None:
    """The oldest queued fire of a flow, if any."""
    return _run_row(conn.execute(
        "SELECT * FROM flow_runs WHERE flow_name = ? AND state = 'queued' ORDER BY id LIMIT 1",
        (flow_name,)).fetchone())


def open_runs(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Flow runs still 'running' or 'queued', oldest first (after a restart: a gone process's)."""
    return [_run_row(r) for r in conn.execute(
        "SELECT * FROM flow_runs WHERE state IN ('running', 'queued') ORDER BY id")]


def recover_interrupted(conn: sqlite3.Connection, now: datetime | None = None, *,
                        keep: Iterable[int] = (), keep_queued_of: Iterable[str] = ()) -> list[int]:
    """Close runs left active by a previous server process; returns their ids.

    Called once when a scheduler starts, before it fires anything: a row still 'running'
    or 'queued' then belongs to a process that is gone, except the runs in `keep` (the
    scheduler follows them again) and the queued runs of the flows in `keep_queued_of`
    (they still wait behind a followed run).
    """
    stamp = iso(now) if now else _now()
    keep, keep_queued_of = set(keep), set(keep_queued_of)
    closed = []
    for row in open_runs(conn):
        if row["id"] in keep or (row["state"] == "queued" and row["flow_name"] in keep_queued_of):
            continue
        if row["state"] == "running":
            update_flow_run(conn, row["id"], state="failed", finished_at=stamp,
                            reason="interrupted: the cao server stopped while this run was in progress")
        else:
            update_flow_run(conn, row["id"], state="skipped", finished_at=stamp,
                            reason="the cao server stopped before this queued run could start")
        closed.append(row["id"])
    return closed
