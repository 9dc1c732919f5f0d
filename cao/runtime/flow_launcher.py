"""Flows inside the server: the scheduler's launcher and its wiring into the services.

The scheduler (`cao.flows.scheduler`) decides *when* a flow fires and records every
fire; this module decides *what* a fire does: start a session with the flow's agent and
hand it the prompt, or start a workflow run, and report how it ended.
"""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path
from typing import Any

from cao import config
from cao.flows.scheduler import FlowScheduler, LaunchOutcome
from cao.flows.spec import flow_dir
from cao.runtime.sessions import close_session, launch_session
from cao.store import flows as flow_store
from cao.store import runs as runs_store
from cao.store import sessions as sessions_store
from cao.store.db import connect
from cao.terminals.tmux import check_name

log = logging.getLogger(__name__)

# How long one agent turn of a flow may take. A flow's run stays "in progress" until the
# agent answers, and with `overlap: skip` that blocks later fires, so a hung agent must
# not hold its flow forever.
AGENT_TURN_TIMEOUT = 3600.0
SESSION_PREFIX = "cao-flow-"


def spec_from_file(path: str | Path) -> dict[str, Any]:
    """Load a flow file (SpecError on bad input) as the scheduler's plain dict spec.

    Relative `workflow` and `script` paths are resolved here, against the flow file, so
    the stored spec still works when the server's working directory changes.
    """
    from cao.spec.loader import load_flow

    path = Path(path).expanduser().resolve()
    doc = load_flow(path)
    base = path.parent

    def resolve(value: str | None) -> str | None:
        return str((base / Path(value).expanduser()).resolve()) if value else None

    return {
        "name": doc.name, "schedule": doc.schedule, "timezone": doc.timezone or "UTC",
        "agent_profile": doc.agent_profile, "provider": doc.provider,
        "workflow": resolve(doc.workflow), "inputs": dict(doc.inputs or {}),
        "script": resolve(doc.script), "script_timeout": doc.script_timeout_seconds,
        "overlap": doc.overlap, "catch_up": doc.catch_up_seconds, "enabled": doc.enabled,
        "working_directory": resolve(doc.working_directory), "prompt": doc.prompt,
        "path": str(path),
    }


def flow_session_name(flow_name: str) -> str:
    """`cao-flow-<name>-<shortid>`, with characters tmux names cannot carry replaced."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", flow_name).strip("-.") or "flow"
    return check_name("session", f"{SESSION_PREFIX}{safe[:44]}-{secrets.token_hex(3)}")


async def close_orphaned_sessions(services: Any) -> None:
    """Close flow sessions a previous server process left open.

    Their flow runs are closed as interrupted (not re-run) when the scheduler starts, so
    nothing will ever talk to these agents again; left alone they would pile up. (Workflow
    runs of flows are different: the runtime resumes them and the scheduler follows them.)
    """
    for row in sessions_store.list_sessions(services.conn):
        if row["name"].startswith(SESSION_PREFIX):
            log.warning("closing flow session %s left by a previous server", row["name"])
            await close_session(services, row["name"], state="failed",
                                error="interrupted: the cao server stopped",
                                reason="flow run interrupted by a server restart")


def _workdir(spec: dict[str, Any]) -> str:
    """Agents and workflows of a flow run where its gate runs: by default the flow's folder."""
    return spec.get("working_directory") or str(flow_dir(spec))


class FlowLauncher:
    """The `launcher` the scheduler calls for every admitted fire."""

    def __init__(self, services: Any):
        self.services = services

    async def __call__(self, spec: dict[str, Any], prompt: str,
                       flow_run_id: int) -> LaunchOutcome:
        if spec.get("workflow"):
            return await self._run_workflow(spec, flow_run_id)
        return await self._run_agent(spec, prompt, flow_run_id)

    def _link(self, flow_run_id: int, **fields: Any) -> None:
        # History links to the session or run while it is still going, not only at the end.
        flow_store.update_flow_run(self.services.conn, flow_run_id, **fields)

    async def _run_agent(self, spec: dict[str, Any], prompt: str,
                         flow_run_id: int) -> LaunchOutcome:
        name = flow_session_name(spec["name"])
        started = await launch_session(
            self.services, spec["agent_profile"], spec.get("provider"), name,
            working_directory=_workdir(spec),
            near=Path(spec["path"]) if spec.get("path") else None)
        terminal_id = started["terminal"]["id"]
        links = {"session_name": name, "terminal_id": terminal_id}
        self._link(flow_run_id, **links)
        result = None
        try:
            result = await self.services.delegation.run_turn(
                terminal_id, prompt, kind="message", timeout=AGENT_TURN_TIMEOUT)
        finally:
            # Shut down even when cancelled: a flow fires again and again, so a session
            # left behind per fire would pile up. The transcript stays readable.
            await self._close(name, result)
        if not result.ok:
            return LaunchOutcome("failed", reason=f"agent: {result.error}", **links)
        return LaunchOutcome("succeeded", answer=result.output, **links)

    async def _close(self, name: str, result: Any) -> None:
        ok = result is not None and result.ok
        try:
            await close_session(self.services, name, state="succeeded" if ok else "failed",
                                error=None if ok else getattr(result, "error", "flow run stopped"),
                                reason="flow run finished")
        except Exception:  # never hide the run's own outcome behind a cleanup error
            log.exception("could not close flow session %s", name)

    async def _run_workflow(self, spec: dict[str, Any], flow_run_id: int) -> LaunchOutcome:
        runs = self.services.extras["runs"]
        run = await runs.start_run(spec["workflow"], spec.get("inputs") or {},
                                   provider=spec.get("provider"),
                                   working_directory=_workdir(spec))
        self._link(flow_run_id, run_id=run["id"], session_name=run["session_name"])
        return await self._follow_workflow(run["id"], run["session_name"])

    async def _follow_workflow(self, run_id: str, session_name: str | None) -> LaunchOutcome:
        links = {"run_id": run_id, "session_name": session_name}
        executor = self.services.extras["runs"].executors.get(run_id)
        if executor is not None:
            # The executor sets `finished` whatever the outcome (also on cancel and crash).
            await executor.finished.wait()
        run = runs_store.get_run(self.services.conn, run_id)
        if run is None:
            return LaunchOutcome("failed", reason=f"workflow run {run_id} no longer exists", **links)
        if run["state"] == "succeeded":
            return LaunchOutcome("succeeded", answer=run.get("output"), **links)
        if run["state"] in ("running", "pending"):  # no executor: the runtime did not resume it
            return LaunchOutcome("failed", reason=f"workflow run {run_id} was not resumed after "
                                 f"a restart; see `cao status {run_id}`", **links)
        return LaunchOutcome("failed", reason=f"workflow run {run_id} {run['state']}: "
                             f"{run.get('error') or 'no error recorded'}", **links)

    # --- work that outlives a server process (see cao.flows.scheduler) -----------------------

    def outlives_server(self, flow_run: dict[str, Any]) -> bool:
        """A flow's workflow run is journaled and resumed by the runtime after a restart."""
        return bool(flow_run.get("run_id"))

    def adopt(self, flow_run: dict[str, Any]) -> Any:
        """After a restart: follow the workflow run a flow run started to its end."""
        if not flow_run.get("run_id"):
            return None  # an agent session: closed with its server, nothing to follow
        run = runs_store.get_run(self.services.conn, flow_run["run_id"])
        if run is None or run["kind"] != "workflow":
            return None
        return self._follow_workflow(run["id"], flow_run.get("session_name"))


def attach_flows(services: Any) -> FlowScheduler:
    """Give the services a flow scheduler, started after the runtime has resumed runs.

    The scheduler gets its own SQLite connection: it opens IMMEDIATE transactions, and
    sharing the services' connection with code that writes from worker threads could
    nest them.
    """
    scheduler = FlowScheduler(lambda: connect(config.db_path()),
                              launcher=FlowLauncher(services))
    services.extras["flows"] = scheduler

    async def start(_services: Any) -> None:
        await close_orphaned_sessions(services)  # before any flow fires in this process
        await scheduler.start()

    async def stop(_services: Any) -> None:
        await scheduler.stop()

    services.extras.setdefault("starters", []).append(start)
    services.extras.setdefault("stoppers", []).append(stop)
    return scheduler
