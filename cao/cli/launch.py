"""`cao launch`: start an agent in a new tmux session."""

from __future__ import annotations

import os
from typing import Optional

import typer

from cao.cli._common import api_errors, attach_tmux, client


def register(app: typer.Typer) -> None:
    @app.command("launch")
    def launch(
        message: Optional[str] = typer.Argument(None, help="First message for the agent."),
        agents: str = typer.Option(..., "--agents", help="Agent profile to launch."),
        provider: Optional[str] = typer.Option(None, help="Provider (overrides the profile's)."),
        headless: bool = typer.Option(False, help="Do not attach; with MESSAGE, print the answer."),
        yolo: bool = typer.Option(False, help="Let the agent run tools without asking."),
        session_name: Optional[str] = typer.Option(None, help="Session name ('cao-' is prefixed)."),
        working_directory: Optional[str] = typer.Option(None, help="Directory the agent runs in."),
        async_: bool = typer.Option(False, "--async", help="Return once MESSAGE is delivered."),
        timeout: float = typer.Option(600, help="Seconds to wait for readiness and the answer."),
    ) -> None:
        """Start an agent in a new tmux session, then attach to it or talk to it headless."""
        c = client(start_server=True)
        with api_errors():
            created = c.post("/sessions", {
                "profile": agents, "provider": provider, "session_name": session_name,
                "working_directory": working_directory or os.getcwd(), "yolo": yolo})
            term = created["terminal"]
            typer.echo(f"session {created['session_name']} · terminal {term['id']} · "
                       f"{term['profile']} on {term['provider']}", err=True)
            if message is not None:
                if async_:
                    c.post(f"/terminals/{term['id']}/input", {"message": message, "timeout": timeout},
                           timeout=timeout + 30)
                    typer.echo(f"message delivered to terminal {term['id']}", err=True)
                else:
                    result = c.post(f"/terminals/{term['id']}/input",
                                    {"message": message, "wait": True, "timeout": timeout},
                                    timeout=timeout + 30)
                    if result.get("error"):
                        typer.echo(f"error: {result['error']}", err=True)
                        raise typer.Exit(1)
                    typer.echo(result.get("output") or "")
        if not headless:
            attach_tmux(created["session_name"], term["window_name"])
