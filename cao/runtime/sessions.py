"""Sessions with one agent terminal: what `cao launch` (POST /sessions) and flows start.

A session gets a run record of kind 'session', so `cao runs` and the run graph show it
like a workflow run; closing the session marks that run finished.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

from cao.runtime.profiles import find_profile
from cao.store import runs as runs_store
from cao.store import sessions as sessions_store
from cao.terminals.manager import TerminalError
from cao.terminals.tmux import check_name


def session_name(raw: str | None) -> str:
    """A valid session name: random when missing, always with the 'cao-' prefix."""
    name = raw or f"cao-{secrets.token_hex(3)}"
    if not name.startswith("cao-"):
        name = f"cao-{name}"
    return check_name("session", name)


async def launch_session(services: Any, profile_name: str, provider: str | None,
                         session_name: str, working_directory: str | None = None,
                         yolo: bool = False, near: Path | None = None) -> dict[str, Any]:
    """Start a new tmux session running one agent; returns session name, run id, terminal.

    `near` is a document path whose sibling profiles/ folder is searched first.
    """
    s = services
    name = session_name
    if sessions_store.get_session(s.conn, name) or await asyncio.to_thread(
            s.terminals.tmux.has_session, name):
        raise TerminalError(f"session {name!r} already exists; pick another --session-name")
    profile = find_profile(profile_name, near=near)
    provider_name = s.delegation.resolve_provider(profile, explicit=provider)
    run_id = f"s-{secrets.token_hex(4)}"
    runs_store.create_run(s.conn, id=run_id, kind="session", name=name, state="running",
                          session_name=name, spec={}, options={"provider": provider_name})
    terminal = await s.terminals.create(
        session_name=name, profile=profile, provider_name=provider_name,
        working_directory=working_directory, new_session=True, run_id=run_id,
        node_id="root", yolo=yolo)
    runs_store.upsert_node(s.conn, run_id, "root", "node.started", node_id="root", kind="agent",
                           profile=profile.name, provider=provider_name, state="running",
                           terminal_id=terminal["id"], started_at=time.time())
    return {"session_name": name, "run_id": run_id, "terminal": terminal}


async def close_session(services: Any, name: str, *, state: str = "succeeded",
                        error: str | None = None, reason: str = "session closed") -> None:
    """Stop a session's terminals and close its run; transcripts stay on disk."""
    s = services
    row = sessions_store.get_session(s.conn, name)
    if row is None:
        raise LookupError(f"session {name!r} does not exist")
    await s.terminals.delete_session(name, reason=reason)
    if row.get("run_id"):
        run = runs_store.get_run(s.conn, row["run_id"])
        if run and run["kind"] == "session" and run["state"] == "running":
            runs_store.update_run(s.conn, run["id"], f"run.{state}", state=state, error=error,
                                  finished_at=time.time())
