"""`cao server`: run the cao-server in the foreground."""

from __future__ import annotations

from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("server")
    def server(
        host: Optional[str] = typer.Option(None, help="Listen address (default 127.0.0.1)."),
        port: Optional[int] = typer.Option(None, help="Port (default 9889, or CAO_PORT)."),
        profiles: List[str] = typer.Option([], "--profiles", help="Extra profile folder (repeatable)."),
        log_level: str = typer.Option("warning", help="debug, info, warning or error."),
    ) -> None:
        """Run the cao-server (same as the `cao-server` command)."""
        from cao.server.main import serve

        try:
            serve(host, port, profiles, log_level)
        except KeyboardInterrupt:  # Ctrl-C: the server already shut down cleanly
            raise typer.Exit(130) from None
