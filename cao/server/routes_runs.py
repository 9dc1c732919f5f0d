"""REST routes for runs: workflow runs and launched sessions, their graphs and events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from cao.store import runs as runs_store

router = APIRouter()


def attach(services: Any) -> None:
    """Give the services a workflow runtime (resumes unfinished runs on start)."""
    try:
        from cao.runtime.executor import attach_runtime
    except ModuleNotFoundError:
        return
    attach_runtime(services)


def _svc(request: Request) -> Any:
    return request.app.state.services


@router.get("/runs", tags=["runs"])
async def list_runs(request: Request, limit: int = 50, kind: str | None = None) -> list[dict[str, Any]]:
    return runs_store.list_runs(_svc(request).conn, limit=limit, kind=kind)


@router.get("/runs/{run_id}", tags=["runs"])
async def get_run(run_id: str, request: Request) -> dict[str, Any]:
    conn = _svc(request).conn
    run = runs_store.get_run(conn, run_id)
    if run is None:
        raise LookupError(f"run {run_id!r} does not exist; `cao runs` lists the recent ones")
    return {**run, "nodes": runs_store.list_nodes(conn, run_id),
            "edges": runs_store.list_edges(conn, run_id)}


@router.get("/runs/{run_id}/events", tags=["runs"])
async def run_events(run_id: str, request: Request, after: int = 0) -> list[dict[str, Any]]:
    return runs_store.events(_svc(request).conn, run_id, after)


class RunCreate(BaseModel):
    workflow_path: str = Field(description="Absolute path of the workflow file on this machine")
    inputs: dict[str, Any] = Field(default_factory=dict)
    provider: str | None = None
    keep: bool = False
    working_directory: str | None = None


def _runs(request: Request) -> Any:
    return _svc(request).extras["runs"]


@router.post("/runs", tags=["runs"], status_code=201)
async def create_run(body: RunCreate, request: Request) -> dict[str, Any]:
    """Compile the workflow and start executing it; returns at once."""
    return await _runs(request).start_run(body.workflow_path, body.inputs, provider=body.provider,
                                          keep=body.keep, working_directory=body.working_directory)


@router.post("/runs/{run_id}/cancel", tags=["runs"])
async def cancel_run(run_id: str, request: Request) -> dict[str, Any]:
    return await _runs(request).cancel(run_id)


@router.post("/runs/{run_id}/resume", tags=["runs"])
async def resume_run(run_id: str, request: Request) -> dict[str, Any]:
    return await _runs(request).resume(run_id)
