"""REST routes for sessions, terminals, inbox, delegation and profiles."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from cao.runtime.profiles import find_profile
from cao.runtime.sessions import close_session, launch_session, session_name
from cao.store import inbox as inbox_store
from cao.store import sessions as sessions_store

router = APIRouter()


def svc(request: Request):
    return request.app.state.services


# -- models ---------------------------------------------------------------------------
class SessionCreate(BaseModel):
    profile: str = Field(description="Agent profile name")
    provider: str | None = None
    session_name: str | None = Field(None, description="Name; 'cao-' is prefixed when missing")
    working_directory: str | None = None
    yolo: bool = False


class TerminalCreate(BaseModel):
    profile: str
    provider: str | None = None
    working_directory: str | None = None


class InputBody(BaseModel):
    message: str
    wait: bool = Field(False, description="Wait for the agent's answer and return it")
    timeout: float | None = Field(None, description="Seconds to wait for readiness and the answer")


class InboxPost(BaseModel):
    message: str
    sender_id: str | None = None


class KeysBody(BaseModel):
    keys: list[str]


class HandoffBody(BaseModel):
    caller_id: str | None = None
    agent_profile: str
    message: str
    timeout: float | None = None
    working_directory: str | None = None
    provider: str | None = None
    wait: bool = Field(True, description=(
        "true: answer when the worker has finished. false: answer at once with the handoff's "
        "id; then poll GET /orchestration/handoffs/{id}, which survives a server restart."))


class AssignBody(BaseModel):
    caller_id: str | None = None
    agent_profile: str
    message: str
    working_directory: str | None = None
    provider: str | None = None


class SendMessageBody(BaseModel):
    sender_id: str | None = None
    receiver_id: str
    message: str


class InstallBody(BaseModel):
    source: str = Field(description="Profile name, Markdown file path or http(s) URL")


# -- sessions -------------------------------------------------------------------------
@router.post("/sessions", tags=["sessions"], status_code=201)
async def create_session(body: SessionCreate, request: Request) -> dict[str, Any]:
    """Start a session with one agent terminal (what `cao launch` does)."""
    return await launch_session(svc(request), body.profile, body.provider,
                                session_name(body.session_name), body.working_directory,
                                body.yolo)


@router.get("/sessions", tags=["sessions"])
async def list_sessions(request: Request) -> list[dict[str, Any]]:
    s = svc(request)
    out = []
    for row in sessions_store.list_sessions(s.conn):
        terms = sessions_store.list_terminals(s.conn, session_name=row["name"])
        out.append({**row, "terminals": len(terms),
                    "alive": sum(1 for t in terms if t["status"] != "exited")})
    return out


@router.get("/sessions/{name}", tags=["sessions"])
async def get_session(name: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    row = sessions_store.get_session(s.conn, name)
    if row is None:
        raise LookupError(f"session {name!r} does not exist")
    return {**row, "terminals": sessions_store.list_terminals(s.conn, session_name=name)}


@router.delete("/sessions/{name}", tags=["sessions"])
async def delete_session(name: str, request: Request) -> dict[str, Any]:
    await close_session(svc(request), name)
    return {"deleted": name}


@router.post("/sessions/{name}/terminals", tags=["terminals"], status_code=201)
async def create_terminal(name: str, body: TerminalCreate, request: Request) -> dict[str, Any]:
    s = svc(request)
    if sessions_store.get_session(s.conn, name) is None:
        raise LookupError(f"session {name!r} does not exist")
    profile = find_profile(body.profile)
    provider = s.delegation.resolve_provider(profile, explicit=body.provider)
    return await s.terminals.create(session_name=name, profile=profile, provider_name=provider,
                                    working_directory=body.working_directory)


# -- terminals ------------------------------------------------------------------------
@router.get("/terminals/{terminal_id}", tags=["terminals"])
async def get_terminal(terminal_id: str, request: Request) -> dict[str, Any]:
    s = svc(request)
    row = s.terminals.get(terminal_id)
    row["status"] = s.terminals.status(terminal_id).value
    return row


@router.delete("/terminals/{terminal_id}", tags=["terminals"])
async def delete_terminal(terminal_id: str, request: Request) -> dict[str, Any]:
    await svc(request).terminals.delete(terminal_id, reason="deleted through the API")
    return {"deleted": terminal_id}


@router.post("/terminals/{terminal_id}/input", tags=["terminals"])
async def send_input(terminal_id: str, body: InputBody, request: Request) -> dict[str, Any]:
    """Send text to the agent (after it is ready); optionally wait for its answer."""
    s = svc(request)
    if not body.wait:
        await s.terminals.wait_ready(terminal_id, timeout=body.timeout or 120)
        await s.terminals.send_input(terminal_id, body.message)
        return {"terminal_id": terminal_id, "delivered": True}
    result = await s.delegation.run_turn(terminal_id, body.message, kind="message",
                                         timeout=body.timeout)
    return {"terminal_id": terminal_id, "status": result.status, "output": result.output,
            "error": result.error}


@router.get("/terminals/{terminal_id}/output", tags=["terminals"])
async def get_output(terminal_id: str, request: Request,
                     mode: Literal["full", "last"] = Query("full")) -> dict[str, Any]:
    return {"terminal_id": terminal_id, "mode": mode,
            "output": await svc(request).terminals.output(terminal_id, mode)}


@router.get("/terminals/{terminal_id}/screen", tags=["terminals"])
async def get_screen(terminal_id: str, request: Request, history: int = 0) -> dict[str, Any]:
    s = svc(request)
    return {"terminal_id": terminal_id,
            "screen": await asyncio.to_thread(s.terminals.screen, terminal_id, history)}


@router.post("/terminals/{terminal_id}/keys", tags=["terminals"])
async def send_keys(terminal_id: str, body: KeysBody, request: Request) -> dict[str, Any]:
    await svc(request).terminals.send_keys(terminal_id, body.keys)
    return {"terminal_id": terminal_id, "sent": body.keys}


@router.post("/terminals/{terminal_id}/mcp_checkin", tags=["terminals"])
async def mcp_checkin(terminal_id: str, request: Request) -> dict[str, Any]:
    """Called by cao-mcp-server at start-up, so first input can wait for cao's tools."""
    await svc(request).terminals.mcp_checked_in(terminal_id)
    return {"terminal_id": terminal_id}


@router.post("/terminals/{terminal_id}/wait", tags=["terminals"])
async def wait_terminal(terminal_id: str, request: Request, timeout: float = 60) -> dict[str, Any]:
    """Wait until the terminal is ready for input (idle/completed) or exited."""
    s = svc(request)
    try:
        status = await s.terminals.wait_ready(terminal_id, timeout=timeout)
    except asyncio.TimeoutError:
        status = s.terminals.status(terminal_id)
        return {"terminal_id": terminal_id, "status": status.value, "timed_out": True}
    return {"terminal_id": terminal_id, "status": status.value, "timed_out": False}


# -- inbox ----------------------------------------------------------------------------
@router.post("/terminals/{terminal_id}/inbox", tags=["inbox"], status_code=201)
async def post_inbox(terminal_id: str, body: InboxPost, request: Request) -> dict[str, Any]:
    return svc(request).inbox.post(terminal_id, body.message, body.sender_id)


@router.get("/terminals/{terminal_id}/inbox", tags=["inbox"])
async def list_inbox(terminal_id: str, request: Request, state: str | None = None) -> list[dict[str, Any]]:
    return inbox_store.list_for(svc(request).conn, terminal_id, state)


# -- delegation -----------------------------------------------------------------------
@router.post("/orchestration/handoff", tags=["orchestration"])
async def handoff(body: HandoffBody, request: Request) -> dict[str, Any]:
    """Blocking delegation: returns the worker's final answer (or a clear error).

    With `wait: false` it returns the handoff record at once (`id`, `worker_id`, `state`).
    """
    delegation = svc(request).delegation
    record = await delegation.start_handoff(
        body.caller_id, body.agent_profile, body.message, timeout=body.timeout,
        working_directory=body.working_directory, provider=body.provider)
    if body.wait:
        record = await delegation.wait_handoff(record["id"], wait=None)
    return _handoff_view(record)


@router.get("/orchestration/handoffs/{handoff_id}", tags=["orchestration"])
async def get_handoff(handoff_id: str, request: Request,
                      wait: float = Query(0, ge=0, le=300, description=(
                          "Seconds to wait for the handoff to finish before answering"))
                      ) -> dict[str, Any]:
    """A handoff's state; with `wait`, a long poll that answers as soon as it finishes."""
    return _handoff_view(await svc(request).delegation.wait_handoff(handoff_id, wait))


def _handoff_view(record: dict[str, Any]) -> dict[str, Any]:
    return {"id": record["id"], "terminal_id": record["worker_id"], "state": record["state"],
            "status": record["status"], "output": record["output"], "error": record["error"],
            "ok": record["state"] == "succeeded", "done": record["state"] != "running"}


@router.post("/orchestration/assign", tags=["orchestration"])
async def assign(body: AssignBody, request: Request) -> dict[str, Any]:
    return await svc(request).delegation.assign(
        body.caller_id, body.agent_profile, body.message,
        working_directory=body.working_directory, provider=body.provider)


@router.post("/orchestration/send_message", tags=["orchestration"])
async def send_message(body: SendMessageBody, request: Request) -> dict[str, Any]:
    return svc(request).delegation.send_message(body.sender_id, body.receiver_id, body.message)


# -- profiles -------------------------------------------------------------------------
@router.get("/agents/profiles", tags=["profiles"])
async def list_profiles(request: Request) -> list[dict[str, Any]]:
    from cao.runtime.profiles import catalog

    out = []
    for entry in catalog().entries():
        name, source, path, profile = entry
        out.append({"name": name, "source": source, "path": str(path) if path else None,
                    "provider": getattr(profile, "provider", None),
                    "description": getattr(profile, "description", None)})
    return out


@router.post("/agents/profiles/install", tags=["profiles"], status_code=201)
async def install_profile(body: InstallBody) -> dict[str, Any]:
    from cao.runtime.install import install_profile as do_install

    return await asyncio.to_thread(do_install, body.source)


@router.get("/info", tags=["server"])
async def info(request: Request) -> dict[str, Any]:
    from cao import config

    s = svc(request)
    return {"home": str(config.cao_home()), "db": str(config.db_path()),
            "agent_store": str(config.agent_store_dir()), "tmux_socket": s.terminals.tmux.socket_name,
            "terminals_alive": len(s.terminals.live)}

