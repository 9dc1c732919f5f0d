"""`cao session ...` and `cao shutdown`: look at and talk to running sessions."""

from __future__ import annotations

from typing import Optional

import typer

from cao.cli._common import api_errors, client, print_json, table

session_app = typer.Typer(help="List, inspect and talk to agent sessions.", no_args_is_help=True)


def _main_terminal(session: dict, terminal: Optional[str]) -> dict:
    terms = session["terminals"]
    if terminal:
        for t in terms:
            if t["id"] == terminal:
                return t
        raise typer.BadParameter(f"terminal {terminal!r} is not in session {session['name']}")
    alive = [t for t in terms if t["status"] != "exited"]
    roots = [t for t in alive if not t.get("parent_terminal_id")]
    if not (roots or alive):
        typer.echo(f"error: session {session['name']} has no live terminal", err=True)
        raise typer.Exit(1)
    return (roots or alive)[0]


@session_app.command("list")
def list_sessions(json_: bool = typer.Option(False, "--json")) -> None:
    """Sessions with their number of terminals."""
    with api_errors():
        rows = client().get("/sessions")
    if json_:
        return print_json(rows)
    table([[r["name"], r["alive"], r["terminals"], r.get("run_id") or ""] for r in rows],
          ["SESSION", "ALIVE", "TERMINALS", "RUN"])


@session_app.command("status")
def status(session: str = typer.Argument(...),
           workers: bool = typer.Option(False, "--workers", help="Include worker terminals."),
           terminal: Optional[str] = typer.Option(None, "--terminal", help="One terminal."),
           json_: bool = typer.Option(False, "--json")) -> None:
    """Status of a session's agent (and its workers)."""
    with api_errors():
        data = client().get(f"/sessions/{session}")
    terms = data["terminals"]
    if terminal:
        terms = [t for t in terms if t["id"] == terminal]
    elif not workers:
        terms = [t for t in terms if not t.get("parent_terminal_id")]
    if json_:
        return print_json({**data, "terminals": terms})
    table([[t["id"], t["profile"], t["provider"], t["status"], t.get("parent_terminal_id") or "",
            t.get("exit_reason") or ""] for t in terms],
          ["TERMINAL", "PROFILE", "PROVIDER", "STATUS", "PARENT", "NOTE"])


@session_app.command("send")
def send(session: str = typer.Argument(...), message: str = typer.Argument(...),
         terminal: Optional[str] = typer.Option(None, "--terminal"),
         async_: bool = typer.Option(False, "--async", help="Return once delivered."),
         timeout: float = typer.Option(600, "--timeout")) -> None:
    """Send a message to the session's agent and print its answer."""
    c = client()
    with api_errors():
        target = _main_terminal(c.get(f"/sessions/{session}"), terminal)
        result = c.post(f"/terminals/{target['id']}/input",
                        {"message": message, "wait": not async_, "timeout": timeout},
                        timeout=timeout + 30)
    if async_:
        typer.echo(f"delivered to terminal {target['id']}", err=True)
        return
    if result.get("error"):
        typer.echo(f"error: {result['error']}", err=True)
        raise typer.Exit(1)
    typer.echo(result.get("output") or "")


def register(app: typer.Typer) -> None:
    app.add_typer(session_app, name="session")

    @app.command("shutdown")
    def shutdown(session: Optional[str] = typer.Option(None, "--session", help="Session to stop."),
                 all_: bool = typer.Option(False, "--all", help="Stop every session.")) -> None:
        """Stop a session (or all): its agents exit and their tmux windows close."""
        if bool(session) == all_:
            typer.echo("error: give exactly one of --session NAME or --all", err=True)
            raise typer.Exit(2)
        c = client()
        with api_errors():
            names = [session] if session else [s["name"] for s in c.get("/sessions")]
            for name in names:
                c.delete(f"/sessions/{name}", timeout=120)
                typer.echo(f"stopped {name}")
