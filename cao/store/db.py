"""SQLite connection setup and schema creation.

Each table module (sessions, terminals, inbox, runs, flows, ...) declares a `SCHEMA`
string of idempotent `CREATE ... IF NOT EXISTS` statements and lists itself in
`SCHEMA_MODULES`; `connect()` applies them all. WAL mode lets the CLI read while the
server writes, and `synchronous=FULL` makes every committed state change survive a
`kill -9` of the server (the journal is what resume trusts).
"""

from __future__ import annotations

import importlib
import sqlite3
import threading
from pathlib import Path

SCHEMA_MODULES = [
    "cao.store.sessions",
    "cao.store.inbox",
    "cao.store.runs",
    "cao.store.flows",
    "cao.store.handoffs",
]

_schema_lock = threading.Lock()


def connect(path: Path | str, *, check_same_thread: bool = False) -> sqlite3.Connection:
    """Open (and create if needed) the cao database at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=check_same_thread,
                           isolation_level=None)  # autocommit; use `transaction()` for groups
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    with _schema_lock:
        for module_name in SCHEMA_MODULES:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name:
                    continue
                raise
            conn.executescript(module.SCHEMA)
    return conn


class transaction:
    """`with transaction(conn): ...` runs the block in one IMMEDIATE transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
