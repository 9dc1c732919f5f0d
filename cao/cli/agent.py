"""`cao agent handoff|assign|send-message`: the MCP tools from a shell.

For agents whose MCP connection is down, and for scripts. The caller's identity is
CAO_TERMINAL_ID, as for cao-mcp-server.
"""

from __future__ import annotations

import os
from typing import Optional

import typer

from cao.cli._common import api_errors, client

agent_app = typer.Typer(help="Delegate from a shell inside a cao terminal.", no_args_is_help=True)


def _caller() -> Optional[str]:
    return os.environ.get("CAO_TERMINAL_ID") or None


@agent_app.command("handoff")
def handoff(agent_profile: str = typer.Argument(...), message: str = typer.Argument(...),
            timeout: float = typer.Option(600, help="Seconds to wait for the answer."),
            working_directory: Optional[str] = typer.Option(None)) -> None:
    """Run a worker on MESSAGE, wait, print its final answer."""
    import asyncio

    from cao.client import handoff_and_wait

    with api_errors():
        result = asyncio.run(handoff_and_wait(
            {"caller_id": _caller(), "agent_profile": agent_profile, "message": message,
             "working_directory": working_directory}, timeout, base_url=client().base_url))
    _print_handoff(result)


@agent_app.command("handoff-result")
def handoff_result(handoff_id: str = typer.Argument(..., help="The id, e.g. h-1a2b3c4d5e"),
                   wait: float = typer.Option(0, help="Seconds to wait for it to finish.")) -> None:
    """Print the answer of an earlier handoff (e.g. one whose caller lost the server)."""
    with api_errors():
        result = client().get(f"/orchestration/handoffs/{handoff_id}",
                              params={"wait": min(wait, 300)}, timeout=min(wait, 300) + 15)
    if not result["done"]:
        typer.echo(f"handoff {handoff_id} is still running [worker terminal "
                   f"{result['terminal_id']}]", err=True)
        raise typer.Exit(3)
    _print_handoff(result)


def _print_handoff(result: dict) -> None:
    if not result.get("ok"):
        typer.echo(f"error: {result.get('error')} [worker terminal {result.get('terminal_id')}]", err=True)
        raise typer.Exit(1)
    typer.echo(result.get("output") or "")


@agent_app.command("assign")
def assign(agent_profile: str = typer.Argument(...), message: str = typer.Argument(...),
           working_directory: Optional[str] = typer.Option(None)) -> None:
    """Start a worker on MESSAGE in the background; print its terminal id."""
    with api_errors():
        result = client().post("/orchestration/assign", {
            "caller_id": _caller(), "agent_profile": agent_profile, "message": message,
            "working_directory": working_directory}, timeout=120)
    typer.echo(result["terminal_id"])


@agent_app.command("send-message")
def send_message(receiver_id: str = typer.Argument(...), message: str = typer.Argument(...)) -> None:
    """Queue MESSAGE in another terminal's inbox."""
    with api_errors():
        result = client().post("/orchestration/send_message", {
            "sender_id": _caller(), "receiver_id": receiver_id, "message": message})
    typer.echo(f"queued message {result['id']} for {receiver_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(agent_app, name="agent")
