"""Helpers shared by the command modules: the API client and error reporting."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Iterator

import typer


def client(start_server: bool = False) -> Any:
    from cao.client import CaoClient, ensure_server

    c = CaoClient()
    if start_server:
        with api_errors():
            ensure_server(c)
    return c


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn client errors into one clear line on stderr and exit code 1."""
    from cao.client import ApiError, ServerUnavailable

    try:
        yield
    except ServerUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    except ApiError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(str(c))) for w, c in zip(widths, row)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    typer.echo(fmt.format(*headers).rstrip())
    for row in rows:
        typer.echo(fmt.format(*[str(c) for c in row]).rstrip())


def attach_tmux(session: str, window: str | None = None) -> None:
    """Replace this process with `tmux attach` (or switch-client inside tmux)."""
    import os

    from cao import config

    target = f"{session}:{window}" if window else session
    argv = ["tmux"]
    if config.tmux_socket_name():
        argv += ["-L", config.tmux_socket_name()]
    if os.environ.get("TMUX"):
        argv += ["switch-client", "-t", target]
    else:
        argv += ["attach-session", "-t", target]
    if not sys.stdout.isatty():
        typer.echo(f"attach with: {' '.join(argv)}")
        return
    os.execvp(argv[0], argv)
