"""Entry point of the `cao` command.

Each command module exposes `register(app)` and imports only typer at module level;
whatever a command needs (httpx, networkx, the spec models) is imported inside the
command, so `cao validate` never pays for the server's imports and vice versa.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = [
    "cao.cli.validate",   # validate
    "cao.cli.graph",      # graph
    "cao.cli.schema",     # schema
    "cao.cli.server",     # server
    "cao.cli.launch",     # launch
    "cao.cli.session",    # session ..., shutdown
    "cao.cli.profiles",   # install, info, profiles
    "cao.cli.agent",      # agent handoff|assign|send-message
    "cao.cli.run",        # run, runs, status, logs, cancel, resume, attach
    "cao.cli.flow",       # flow ...
    "cao.cli.providers",  # providers, config
]

app = typer.Typer(
    name="cao",
    help="Declarative workflows for CLI AI agents running in tmux.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command group not built yet
                continue
            raise
        module.register(app)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the cao version and exit."),
) -> None:
    if version:
        from cao import __version__

        typer.echo(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)


_register_all()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
