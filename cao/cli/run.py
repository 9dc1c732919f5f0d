"""`cao run` and run management: runs, status, logs, cancel, resume, attach."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer

from cao.cli._common import api_errors, attach_tmux, client, print_json, table

TERMINAL_STATES = {"succeeded", "failed", "cancelled"}
POLL = 0.15


def _parse_inputs(pairs: list[str], inputs_file: Optional[Path]) -> dict:
    values: dict = {}
    if inputs_file:
        text = inputs_file.read_text(encoding="utf-8")
        try:
            import yaml

            loaded = yaml.safe_load(text)
        except Exception as exc:
            raise typer.BadParameter(f"{inputs_file}: not valid YAML/JSON: {exc}")
        if not isinstance(loaded, dict):
            raise typer.BadParameter(f"{inputs_file}: must hold a mapping of input names to values")
        values.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--input {pair!r}: write it as KEY=VALUE")
        values[key] = value
    return values


def _elapsed(node: dict) -> str:
    start = node.get("started_at")
    if not start:
        return ""
    end = node.get("finished_at") or time.time()
    return f"{end - start:5.1f}s"


def _rows(run: dict) -> list[list[str]]:
    """One row per node; fan-out children and agent-added nodes under their parent."""
    keys = {n["key"] for n in run["nodes"]}
    children: dict[str, list[dict]] = {}
    for n in run["nodes"]:
        if n.get("parent_key") in keys:
            children.setdefault(n["parent_key"], []).append(n)
    rows: list[list[str]] = []

    def emit(n: dict, depth: int) -> None:
        label = n["key"] + (" (dynamic)" if n.get("dynamic") else "")
        rows.append(["  " * depth + label, n["kind"], n.get("profile") or "", n["state"],
                     _elapsed(n), n.get("terminal_id") or n.get("receiver_id") or ""])
        for child in children.get(n["key"], []):
            emit(child, depth + 1)

    for n in run["nodes"]:
        if n.get("parent_key") not in keys:
            emit(n, 0)
    return rows


HEADERS = ["NODE", "KIND", "PROFILE", "STATE", "TIME", "TERMINAL"]


def _render_table(run: dict) -> list[str]:
    rows = _rows(run)
    widths = [len(h) for h in HEADERS]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [f"run {run['id']} · {run['name']} · {run['state']}", fmt.format(*HEADERS).rstrip()]
    lines += [fmt.format(*row).rstrip() for row in rows]
    return lines


def follow(c, run_id: str, live: bool) -> dict:
    """Show progress on stderr until the run ends (stdout keeps only the output)."""
    shown = 0
    after = 0
    while True:
        run = c.get(f"/runs/{run_id}")
        if live:
            lines = _render_table(run)
            if shown:
                sys.stderr.write(f"\x1b[{shown}F\x1b[J")
            sys.stderr.write("\n".join(lines) + "\n")
            sys.stderr.flush()
            shown = len(lines)
        else:
            for ev in c.get(f"/runs/{run_id}/events", params={"after": after}):
                after = ev["id"]
                data = {k: v for k, v in ev["data"].items() if v not in (None, "")}
                detail = " ".join(f"{k}={v}" for k, v in data.items())
                stamp = time.strftime("%H:%M:%S", time.localtime(ev["ts"]))
                typer.echo(f"{stamp} {ev['type']:<20} {ev.get('node_key') or '':<16} {detail}".rstrip(),
                           err=True)
        if run["state"] in TERMINAL_STATES:
            return run
        time.sleep(POLL)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        workflow: Path = typer.Argument(..., help="Workflow Markdown file."),
        input_: List[str] = typer.Option([], "--input", "-i", help="KEY=VALUE (repeatable)."),
        inputs_file: Optional[Path] = typer.Option(None, "--inputs-file", help="YAML/JSON inputs."),
        provider: Optional[str] = typer.Option(None, help="Provider for every agent node."),
        detach: bool = typer.Option(False, "--detach", help="Start the run and return its id."),
        json_: bool = typer.Option(False, "--json", help="Print the final run record as JSON."),
        keep: bool = typer.Option(False, "--keep", help="Keep the agents' terminals afterwards."),
        profiles: List[Path] = typer.Option([], "--profiles", help="Extra profile folder."),
    ) -> None:
        """Validate and run a workflow, showing progress; prints the workflow's output."""
        from cao.graph.compile import compile_workflow, resolve_inputs
        from cao.spec.diagnostics import SpecError

        if not workflow.is_file():
            typer.echo(f"error: {workflow}: no such file", err=True)
            raise typer.Exit(2)
        compiled = compile_workflow(workflow, profile_dirs=profiles)
        for d in compiled.diagnostics:
            typer.echo(d.format(), err=True)
        if not compiled.ok:
            typer.echo(f"error: {workflow} has errors; fix them (see `cao validate {workflow}`)", err=True)
            raise typer.Exit(2)
        try:
            inputs = resolve_inputs(compiled.workflow, _parse_inputs(input_, inputs_file))
        except SpecError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)
        if profiles:
            os.environ["CAO_PROFILE_DIRS"] = os.pathsep.join(str(p.resolve()) for p in profiles)
        c = client(start_server=True)
        with api_errors():
            created = c.post("/runs", {"workflow_path": str(workflow.resolve()), "inputs": inputs,
                                       "provider": provider, "keep": keep,
                                       "working_directory": os.getcwd()})
            run_id = created["id"]
            if detach:
                typer.echo(run_id)
                return
            typer.echo(f"run {run_id} started (cao status {run_id}; cao attach {run_id} NODE)", err=True)
            try:
                final = follow(c, run_id, live=sys.stderr.isatty())
            except KeyboardInterrupt:
                typer.echo(f"\nstopped watching; the run goes on (cao cancel {run_id} stops it)", err=True)
                raise typer.Exit(130)
        if json_:
            print_json(final)
        else:
            if final["state"] == "succeeded":
                typer.echo(final.get("output") or "")
            else:
                typer.echo(f"run {run_id} {final['state']}: {final.get('error') or ''}", err=True)
        raise typer.Exit(0 if final["state"] == "succeeded" else 1)

    @app.command("runs")
    def runs(limit: int = typer.Option(20, help="How many."),
             json_: bool = typer.Option(False, "--json")) -> None:
        """Recent runs, newest first."""
        with api_errors():
            rows = client().get("/runs", params={"limit": limit})
        if json_:
            return print_json(rows)
        table([[r["id"], r["kind"], r["name"], r["state"],
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created_at"]))] for r in rows],
              ["RUN", "KIND", "NAME", "STATE", "CREATED"])

    @app.command("status")
    def status(run_id: str = typer.Argument(...), json_: bool = typer.Option(False, "--json"),
               events: bool = typer.Option(False, "--events", help="The run's full event history.")) -> None:
        """A run's nodes (static and dynamic) with their state."""
        c = client()
        with api_errors():
            data = c.get(f"/runs/{run_id}")
            history = c.get(f"/runs/{run_id}/events") if events else None
        if json_:
            return print_json({**data, "events": history} if events else data)
        for line in _render_table(data):
            typer.echo(line)
        if data.get("error"):
            typer.echo(f"error: {data['error']}")
        if history is not None:
            typer.echo("")
            for ev in history:
                stamp = time.strftime("%H:%M:%S", time.localtime(ev["ts"]))
                typer.echo(f"{ev['id']:>5} {stamp} {ev['type']:<20} {ev.get('node_key') or '':<16} "
                           f"{json.dumps(ev['data'])}")

    @app.command("logs")
    def logs(run_id: str = typer.Argument(...),
             node: Optional[str] = typer.Argument(None, help="Node key (all nodes when omitted).")) -> None:
        """Full terminal transcripts of a run's nodes."""
        c = client()
        with api_errors():
            data = c.get(f"/runs/{run_id}")
            chosen = [n for n in data["nodes"] if n.get("terminal_id") and (node is None or n["key"] == node)]
            if node and not chosen:
                keys = ", ".join(n["key"] for n in data["nodes"] if n.get("terminal_id"))
                typer.echo(f"error: node {node!r} of run {run_id} has no terminal; nodes with one: {keys}",
                           err=True)
                raise typer.Exit(1)
            for n in chosen:
                out = c.get(f"/terminals/{n['terminal_id']}/output", params={"mode": "full"})["output"]
                if node is None:
                    typer.echo(f"===== {n['key']} ({n['profile']}, terminal {n['terminal_id']}) =====")
                typer.echo(out)

    @app.command("cancel")
    def cancel(run_id: str = typer.Argument(...)) -> None:
        """Stop every terminal of a run and mark it cancelled."""
        with api_errors():
            data = client().post(f"/runs/{run_id}/cancel", timeout=120)
        typer.echo(f"run {run_id} {data['state']}")

    @app.command("resume")
    def resume(run_id: str = typer.Argument(...),
               detach: bool = typer.Option(False, "--detach")) -> None:
        """Finish an interrupted (or failed) run without redoing completed nodes."""
        c = client(start_server=True)
        with api_errors():
            c.post(f"/runs/{run_id}/resume")
            if detach:
                typer.echo(run_id)
                return
            final = follow(c, run_id, live=sys.stderr.isatty())
        if final["state"] == "succeeded":
            typer.echo(final.get("output") or "")
        else:
            typer.echo(f"run {run_id} {final['state']}: {final.get('error') or ''}", err=True)
        raise typer.Exit(0 if final["state"] == "succeeded" else 1)

    @app.command("attach")
    def attach(run_id: str = typer.Argument(...), node: str = typer.Argument(...)) -> None:
        """Attach to a node's tmux window to watch or steer it."""
        c = client()
        with api_errors():
            data = c.get(f"/runs/{run_id}")
            match = [n for n in data["nodes"] if n["key"] == node and n.get("terminal_id")]
            if not match:
                typer.echo(f"error: node {node!r} of run {run_id} has no terminal", err=True)
                raise typer.Exit(1)
            term = c.get(f"/terminals/{match[0]['terminal_id']}")
        if term["status"] == "exited":
            typer.echo(f"error: terminal {term['id']} has exited ({term.get('exit_reason')}); "
                       f"see `cao logs {run_id} {node}`", err=True)
            raise typer.Exit(1)
        attach_tmux(term["session_name"], term["window_name"])
