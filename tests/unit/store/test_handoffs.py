"""The handoffs table on a real SQLite file: the record a handoff leaves for a restart."""

from __future__ import annotations

import time

from cao.store import handoffs
from cao.store.db import connect


def test_create_finish_unfinished_and_prune(tmp_path):
    conn = connect(tmp_path / "cao.db")
    old = handoffs.create(conn, caller_id="c1", agent_profile="dev", worker_id="w1",
                          message="old task", timeout=60, node_key="d1")
    new = handoffs.create(conn, caller_id="c1", agent_profile="dev", worker_id="w2",
                          message="new task", timeout=60, node_key="d2")
    running = handoffs.create(conn, caller_id=None, agent_profile="dev", worker_id="w3",
                              message="still going", timeout=60, node_key=None)
    assert old["id"].startswith("h-") and old["state"] == "running"
    assert old["deadline"] - old["created_at"] == 60
    handoffs.finish(conn, old["id"], ok=True, status="completed", output="done", error=None)
    handoffs.finish(conn, new["id"], ok=False, status="error", output=None, error="boom")
    assert [r["id"] for r in handoffs.unfinished(conn)] == [running["id"]]
    assert handoffs.get(conn, new["id"])["state"] == "failed"
    conn.execute("UPDATE handoffs SET finished_at = ? WHERE id = ?",
                 (time.time() - 8 * 86400, old["id"]))
    assert handoffs.prune(conn, older_than=7 * 86400) == 1
    assert handoffs.get(conn, old["id"]) is None
    assert handoffs.get(conn, new["id"])["error"] == "boom"
    assert handoffs.get(conn, running["id"]) is not None  # running ones are never pruned
    # The record is on disk, for the next server process.
    assert handoffs.get(connect(tmp_path / "cao.db"), new["id"])["state"] == "failed"
