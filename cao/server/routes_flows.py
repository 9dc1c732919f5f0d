"""REST routes for scheduled flows: add, list, enable/disable, run now, remove, history."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from cao.store import flows as store

router = APIRouter(tags=["flows"])


def attach(services: Any) -> None:
    """Give the services a flow scheduler (it starts with the server)."""
    from cao.runtime.flow_launcher import attach_flows

    attach_flows(services)


def _scheduler(request: Request) -> Any:
    return request.app.state.services.extras["flows"]


def _view(flow: dict[str, Any]) -> dict[str, Any]:
    """The fields a user asks about first, then the whole stored spec."""
    spec = flow["spec"]
    return {
        "name": flow["name"], "path": flow["path"], "enabled": flow["enabled"],
        "schedule": spec["schedule"], "timezone": spec.get("timezone") or "UTC",
        "kind": "workflow" if spec.get("workflow") else "agent",
        "target": spec.get("workflow") or spec.get("agent_profile"),
        "next_fire_time": flow["next_fire_time"], "last_fire_time": flow["last_fire_time"],
        "last_state": flow.get("last_state"), "last_reason": flow.get("last_reason"),
        "spec": spec,
    }


def _get(request: Request, name: str) -> dict[str, Any]:
    from cao.flows.scheduler import FlowNotFound

    conn = _scheduler(request).conn
    flow = store.get_flow(conn, name)
    if flow is None:
        raise FlowNotFound(name)
    last = store.history(conn, name, limit=1)
    return _view({**flow, "last_state": last[0]["state"] if last else None,
                  "last_reason": last[0]["reason"] if last else None})


class FlowAdd(BaseModel):
    path: str = Field(description="Path of the flow file on the server's machine")


@router.post("/flows", status_code=201)
async def add_flow(body: FlowAdd, request: Request) -> dict[str, Any]:
    """Load and validate a flow file, then schedule it (re-adding updates it)."""
    from cao.flows.spec import FlowSpecError
    from cao.runtime.flow_launcher import spec_from_file
    from cao.spec.diagnostics import SpecError

    path = Path(body.path).expanduser()
    if not path.is_file():
        raise HTTPException(400, f"flow file {body.path!r} does not exist on the server's "
                                 "machine (relative paths are taken from the server's "
                                 "working directory; pass an absolute path)")
    try:
        spec = await asyncio.to_thread(spec_from_file, path)
        await asyncio.to_thread(_check_target, request.app.state.services, spec)
        flow = _scheduler(request).add_flow(spec)
    except SpecError as exc:
        raise HTTPException(422, str(exc)) from None
    except (FlowSpecError, LookupError, RuntimeError) as exc:
        raise HTTPException(422, f"{path}: {exc}") from None
    return _get(request, flow["name"])


def _check_target(services: Any, spec: dict[str, Any]) -> None:
    """Fail at `cao flow add`, not at the first fire hours later, when the profile or the
    workflow the flow runs cannot be found or does not compile."""
    from cao.runtime.profiles import find_profile

    if spec.get("workflow"):
        services.extras["runs"].compile(spec["workflow"])  # RunError lists the problems
    else:
        find_profile(spec["agent_profile"], near=Path(spec["path"]))


@router.get("/flows")
async def list_flows(request: Request) -> list[dict[str, Any]]:
    return [_view(f) for f in store.list_flows(_scheduler(request).conn)]


@router.get("/flows/{name}")
async def get_flow(name: str, request: Request) -> dict[str, Any]:
    return _get(request, name)


@router.post("/flows/{name}/enable")
async def enable_flow(name: str, request: Request) -> dict[str, Any]:
    _scheduler(request).set_enabled(name, True)
    return _get(request, name)


@router.post("/flows/{name}/disable")
async def disable_flow(name: str, request: Request) -> dict[str, Any]:
    _scheduler(request).set_enabled(name, False)
    return _get(request, name)


@router.post("/flows/{name}/run", status_code=202)
async def run_flow(name: str, request: Request) -> dict[str, Any]:
    """Fire now, ignoring the schedule and the enabled flag; the overlap policy applies."""
    scheduler = _scheduler(request)
    flow_run_id = await scheduler.run_now(name)
    return store.get_flow_run(scheduler.conn, flow_run_id)


@router.delete("/flows/{name}")
async def remove_flow(name: str, request: Request) -> dict[str, Any]:
    _scheduler(request).remove_flow(name)
    return {"removed": name}


@router.get("/flows/{name}/history")
async def flow_history(name: str, request: Request, limit: int = 20) -> list[dict[str, Any]]:
    _get(request, name)  # 404 for an unknown flow rather than an empty list
    return store.history(_scheduler(request).conn, name, limit=max(1, min(limit, 1000)))


@router.get("/flows/{name}/runs/{flow_run_id}")
async def flow_run(name: str, flow_run_id: int, request: Request) -> dict[str, Any]:
    row = store.get_flow_run(_scheduler(request).conn, flow_run_id)
    if row is None or row["flow_name"] != name:
        raise LookupError(f"flow {name!r} has no run #{flow_run_id}; "
                          f"`cao flow history {name}` lists its runs")
    return row
