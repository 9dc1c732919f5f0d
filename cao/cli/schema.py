"""`cao schema [KIND] [--out DIR]`: JSON Schemas of profiles, workflows and flows."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def schema(
    kind: Optional[str] = typer.Argument(None, help="profile, workflow or flow."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Write all three as KIND.schema.json into DIR."),
) -> None:
    """Print a document kind's JSON Schema, or write all of them with --out."""
    from cao.spec.schema import KINDS, schema_text, write_schemas

    if out is not None:
        if kind is not None:
            typer.echo("error: give either KIND or --out, not both", err=True)
            raise typer.Exit(2)
        for path in write_schemas(out):
            typer.echo(f"wrote {path}")
        return
    if kind not in KINDS:
        typer.echo(f"error: give a document kind: {', '.join(KINDS)} (or --out DIR)", err=True)
        raise typer.Exit(2)
    typer.echo(schema_text(kind), nl=False)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
