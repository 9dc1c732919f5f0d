"""`cao install`, `cao profiles` and `cao info`."""

from __future__ import annotations

import typer

from cao.cli._common import client, print_json, table


def register(app: typer.Typer) -> None:
    @app.command("install")
    def install(source: str = typer.Argument(..., help="Profile name, Markdown file or URL.")) -> None:
        """Install an agent profile into the local agent store."""
        from cao.runtime.install import InstallError, install_profile

        try:
            result = install_profile(source)
        except InstallError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1)
        typer.echo(f"installed {result['name']} -> {result['path']}")

    @app.command("profiles")
    def profiles(json_: bool = typer.Option(False, "--json")) -> None:
        """Agent profiles cao can find, and where each comes from."""
        from cao.runtime.profiles import catalog

        rows = [{"name": n, "source": s, "path": str(p) if p else None,
                 "provider": getattr(prof, "provider", None)} for n, s, p, prof in catalog().entries()]
        if json_:
            return print_json(rows)
        table([[r["name"], r["source"], r["provider"] or "(default)", r["path"] or ""] for r in rows],
              ["PROFILE", "SOURCE", "PROVIDER", "PATH"])

    @app.command("info")
    def info() -> None:
        """Where cao keeps its state, and whether a server is running."""
        from cao import __version__, config

        c = client()
        typer.echo(f"cao {__version__}")
        typer.echo(f"home:        {config.cao_home()}")
        typer.echo(f"database:    {config.db_path()}")
        typer.echo(f"agent store: {config.agent_store_dir()}")
        typer.echo(f"server:      {config.server_url()} "
                   f"({'running' if c.healthy() else 'not running'})")
        typer.echo(f"tmux socket: {config.tmux_socket_name() or '(default)'}")
        typer.echo(f"terminal id: {__import__('os').environ.get('CAO_TERMINAL_ID', '(not in a cao terminal)')}")
