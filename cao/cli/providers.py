"""`cao providers` (which agent CLIs cao knows, which are installed and verified) and
`cao config get|set|unset` (user settings such as default_provider)."""

from __future__ import annotations

import typer


def _rows() -> list[dict]:
    from concurrent.futures import ThreadPoolExecutor

    from cao.providers.registry import get_provider, provider_names

    def row(name: str) -> dict:
        try:
            provider = get_provider(name)
        except Exception as exc:  # a broken plugin must not hide the others
            return {"name": name, "installed": False, "path": None, "version": None,
                    "verified": False, "notes": f"cannot load: {exc}"}
        path = provider.installed_path()
        version = provider.installed_version() if path else None
        verified = bool(version) and version in provider.verified_versions
        if provider.binary is None:
            notes, installed = "built in, no external CLI", True
        elif not path:
            notes, installed = f"not installed: {provider.install_hint}", False
        elif provider.unverified:
            notes, installed = "unverified: built from public docs and screen fixtures", True
        elif not verified:
            tested = ", ".join(provider.verified_versions) or "none"
            notes, installed = f"version not verified (verified: {tested})", True
        else:
            notes, installed = "", True
        return {"name": name, "installed": installed, "path": path, "version": version,
                "verified": verified, "unverified_provider": provider.unverified,
                "verified_versions": list(provider.verified_versions), "notes": notes}

    names = provider_names()
    with ThreadPoolExecutor(max_workers=8) as pool:  # `--version` of node CLIs takes ~1 s
        return list(pool.map(row, names))


def _table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in [headers] + rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())


def register(app: typer.Typer) -> None:
    @app.command("providers")
    def providers(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """List agent-CLI providers: installed?, where, version, verified by the conformance suite?"""
        import json

        rows = _rows()
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        _table([[r["name"], "yes" if r["installed"] else "no", r["path"] or "-",
                 r["version"] or "-", "yes" if r["verified"] else "no", r["notes"]]
                for r in rows], ["NAME", "INSTALLED", "PATH", "VERSION", "VERIFIED", "NOTES"])

    config_app = typer.Typer(help="Read and change user settings ($CAO_HOME/config.json).",
                             no_args_is_help=True)
    app.add_typer(config_app, name="config")

    def _run(action):  # one error line and exit 1 for bad keys or values
        from cao.user_config import UserConfigError

        try:
            return action()
        except UserConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1)

    @config_app.command("get")
    def config_get(key: str) -> None:
        """Print a setting (empty when unset)."""
        from cao import user_config

        value = _run(lambda: user_config.get(key))
        typer.echo("" if value is None else value)

    @config_app.command("set")
    def config_set(key: str, value: str) -> None:
        """Change a setting, e.g. `cao config set default_provider codex`."""
        from cao import user_config

        stored = _run(lambda: user_config.set_value(key, value))
        typer.echo(f"{key} = {stored}")

    @config_app.command("unset")
    def config_unset(key: str) -> None:
        """Remove a setting."""
        from cao import user_config

        removed = _run(lambda: user_config.unset(key))
        typer.echo(f"{key} unset" if removed else f"{key} was not set")
