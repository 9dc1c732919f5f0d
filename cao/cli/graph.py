"""`cao graph WORKFLOW`: print the compiled DAG as Mermaid, DOT or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

FORMATS = ("mermaid", "dot", "json")


def render_graph(obj, fmt: str) -> str:
    """Shared by `cao graph WORKFLOW` and (later) `cao graph --run RUN_ID`: `obj` is a
    CompiledWorkflow or a networkx DiGraph."""
    from cao.graph.render import RENDERERS

    return RENDERERS[fmt](obj)


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        typer.echo(f"error: unknown --format {fmt!r}; use one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)


def graph(
    workflow: Optional[Path] = typer.Argument(None, help="Workflow file to draw."),
    fmt: str = typer.Option("mermaid", "--format", "-f", help="mermaid, dot or json."),
    profiles: Optional[List[Path]] = typer.Option(
        None, "--profiles", help="Extra folder of agent profiles (repeatable)."),
    run: Optional[str] = typer.Option(
        None, "--run", help="Draw a run instead: static nodes plus those agents added, with states."),
) -> None:
    """Print a workflow's compiled graph: node kinds, profiles, fan-out and conditions."""
    check_format(fmt)
    if run is not None:
        return _graph_of_run(run, fmt)
    if workflow is None:
        typer.echo("error: give a WORKFLOW file or --run RUN_ID", err=True)
        raise typer.Exit(2)
    if not workflow.is_file():
        typer.echo(f"error: workflow not found: {workflow}", err=True)
        raise typer.Exit(2)
    from cao.graph.compile import compile_workflow

    compiled = compile_workflow(workflow, profile_dirs=profiles or [])
    errors = compiled.errors
    if compiled.workflow is None or any(d.code in ("cycle",) for d in errors):
        for d in errors:
            typer.echo(d.format(), err=True)
        raise typer.Exit(1)
    for d in compiled.diagnostics:   # draw anyway, but say what is wrong
        typer.echo(d.format(), err=True)
    typer.echo(render_graph(compiled, fmt), nl=False)
    if errors:
        raise typer.Exit(1)


def _graph_of_run(run_id: str, fmt: str) -> None:
    from cao.cli._common import api_errors, client
    from cao.graph.run_graph import run_graph

    with api_errors():
        record = client().get(f"/runs/{run_id}")
    typer.echo(render_graph(run_graph(record), fmt), nl=False)


def register(app: typer.Typer) -> None:
    app.command("graph")(graph)
