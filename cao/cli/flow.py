"""`cao flow ...`: schedule agents and workflows in the cao-server.

Flows fire inside the server, so unlike `cao run` these commands never start one: a
server started behind the user's back would stop with their shell and silently take the
schedule with it.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import typer

from cao.cli._common import api_errors, client, print_json, table

flow_app = typer.Typer(help="Run agents and workflows on a cron schedule (inside cao-server).",
                       no_args_is_help=True)

NO_SERVER = ("error: no cao-server answers at {url}. Flows run inside the cao-server and "
             "fire only while it runs: start it with `cao-server` (or `cao server`), keep "
             "it running, then retry.")
FINAL_STATES = {"succeeded", "failed", "skipped", "gated_off"}


@contextmanager
def _server() -> Iterator[Any]:
    """A client for the running server, or the flows-specific 'start cao-server' error."""
    from cao.client import ServerUnavailable

    c = client()
    try:
        with api_errors():
            try:
                yield c
            except ServerUnavailable:
                typer.echo(NO_SERVER.format(url=c.base_url), err=True)
                raise typer.Exit(1)
    finally:
        c.close()


def _t(value: str | None) -> str:
    """ISO UTC time as 'YYYY-MM-DD HH:MM:SSZ' for tables."""
    return f"{value[:10]} {value[11:19]}Z" if value else "-"


def _link(run: dict) -> str:
    parts = [f"session {run['session_name']}" if run.get("session_name") else "",
             f"run {run['run_id']}" if run.get("run_id") else "",
             f"terminal {run['terminal_id']}" if run.get("terminal_id") else ""]
    return ", ".join(p for p in parts if p) or "-"


def _gate(run: dict) -> str:
    gate = run.get("gate_output")
    if not gate:
        return "-"
    return json.dumps({"execute": gate.get("execute"), "output": gate.get("output")},
                      separators=(",", ":"))


@flow_app.command("add")
def add(file: Path = typer.Argument(..., help="Flow file (Markdown with frontmatter).")) -> None:
    """Validate a flow file and schedule it; re-adding a changed file updates the flow."""
    with _server() as c:
        flow = c.post("/flows", {"path": str(file.expanduser().resolve())})
    state = "enabled" if flow["enabled"] else "disabled"
    typer.echo(f"scheduled flow {flow['name']} ({state}): {flow['schedule']} "
               f"{flow['timezone']}, next run {_t(flow['next_fire_time'])}")


@flow_app.command("list")
def list_flows(json_: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Flows with their schedule, next run time, enabled flag and last result."""
    with _server() as c:
        flows = c.get("/flows")
    if json_:
        return print_json(flows)
    if not flows:
        typer.echo("no flows; add one with `cao flow add FILE`")
        return
    table([[f["name"], "yes" if f["enabled"] else "no", f["schedule"], f["timezone"],
            _t(f["next_fire_time"]), f["last_state"] or "-", f"{f['kind']}:{f['target']}"]
           for f in flows],
          ["NAME", "ENABLED", "SCHEDULE", "TIMEZONE", "NEXT RUN", "LAST RESULT", "RUNS"])


@flow_app.command("enable")
def enable(name: str = typer.Argument(...)) -> None:
    """Fire on schedule again, from the next fire time on (missed ones are not made up)."""
    with _server() as c:
        flow = c.post(f"/flows/{name}/enable")
    typer.echo(f"enabled {name}; next run {_t(flow['next_fire_time'])}")


@flow_app.command("disable")
def disable(name: str = typer.Argument(...)) -> None:
    """Stop firing on schedule (`cao flow run` still works)."""
    with _server() as c:
        c.post(f"/flows/{name}/disable")
    typer.echo(f"disabled {name}")


def _wait_for(c: Any, name: str, row: dict, timeout: float) -> dict:
    """Poll a flow run until it ends (or exit 1 after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while row["state"] not in FINAL_STATES:
        if time.monotonic() > deadline:
            typer.echo(f"error: flow run #{row['id']} still {row['state']} after "
                       f"{timeout:.0f}s; see `cao flow history {name}`", err=True)
            raise typer.Exit(1)
        time.sleep(0.2)
        row = c.get(f"/flows/{name}/runs/{row['id']}")
    return row


@flow_app.command("run")
def run(name: str = typer.Argument(...),
        wait: bool = typer.Option(False, "--wait", help="Wait for the outcome, print the answer."),
        timeout: float = typer.Option(3600, "--timeout", help="Seconds to wait with --wait.")) -> None:
    """Fire a flow now, ignoring its schedule; prints the flow run id."""
    with _server() as c:
        fired = c.post(f"/flows/{name}/run")
        typer.echo(fired["id"])
        if not wait:
            return
        row = _wait_for(c, name, fired, timeout)
    if row["state"] == "succeeded":
        typer.echo(row.get("answer") or "")
        return
    # gated off is the gate doing its job, not an error; skipped and failed are
    typer.echo(f"flow run #{row['id']} {row['state']}: {row.get('reason') or ''}", err=True)
    raise typer.Exit(0 if row["state"] == "gated_off" else 1)


@flow_app.command("remove")
def remove(name: str = typer.Argument(...)) -> None:
    """Unschedule a flow and forget its history."""
    with _server() as c:
        c.delete(f"/flows/{name}")
    typer.echo(f"removed {name}")


@flow_app.command("history")
def history(name: str = typer.Argument(...),
            limit: int = typer.Option(20, "--limit", help="How many runs, newest first."),
            json_: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Past fires: trigger, fire time, gate output, outcome, reason, session or run."""
    with _server() as c:
        runs = c.get(f"/flows/{name}/history", params={"limit": limit})
    if json_:
        return print_json(runs)
    if not runs:
        typer.echo(f"flow {name} has not fired yet")
        return
    table([[r["id"], r["trigger"], _t(r["fire_time"]), r["state"], _gate(r),
            r.get("reason") or "", _link(r)] for r in runs],
          ["ID", "TRIGGER", "FIRE TIME", "OUTCOME", "GATE", "REASON", "LINK"])


def register(app: typer.Typer) -> None:
    flow_app.command("schedule", help="Same as `cao flow add` (the reference system's name).")(add)
    app.add_typer(flow_app, name="flow")
