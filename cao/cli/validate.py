"""`cao validate PATH...`: check profiles, workflows and flows without a server or agents."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

FORMATS = ("text", "json", "github")


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _github(d) -> str:
    props = []
    if d.file:
        props.append(f"file={_gh_escape(d.file, True)}")
    if d.line is not None:
        props.append(f"line={d.line}")
    if d.column is not None:
        props.append(f"col={d.column}")
    props.append(f"title={_gh_escape('cao ' + d.code, True)}")
    message = (f"{d.field}: " if d.field else "") + d.message
    if d.hint:
        message += f" (hint: {d.hint})"
    return f"::{d.severity} {','.join(props)}::{_gh_escape(message)}"


def _summary(report, strict: bool) -> str:
    kinds = ", ".join(f"{n} {k}{'s' if n != 1 and k != 'other' else ''}"
                      for k, n in sorted(report.checked.items()))
    errors, warnings = report.count("error"), report.count("warning")
    text = f"checked {report.files} document{'s' if report.files != 1 else ''}"
    text += f" ({kinds})" if kinds else ""
    text += f": {errors} error{'s' if errors != 1 else ''}, "
    text += f"{warnings} warning{'s' if warnings != 1 else ''}"
    if strict and warnings:
        text += " (--strict: warnings count as errors)"
    return text


def validate(
    paths: List[str] = typer.Argument(..., help="Files, folders (searched for *.md) or globs."),
    profiles: Optional[List[Path]] = typer.Option(
        None, "--profiles", help="Extra folder of agent profiles (repeatable)."),
    fmt: str = typer.Option("text", "--format", "-f", help="text, json or github."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
    no_store: bool = typer.Option(False, "--no-store",
                                  help="Ignore profiles installed in the cao store."),
) -> None:
    """Check agent profiles, workflows and flows. Exit 0 valid, 1 errors, 2 usage error."""
    import gc
    import json
    import sys

    from cao.graph.validate import UsageError, validate_paths

    # A short-lived process: the cyclic collector only slows big documents down (it
    # rescans a million live objects), so it stays off; see cao/spec/gcpause.py.
    gc.disable()

    if fmt not in FORMATS:
        typer.echo(f"error: unknown --format {fmt!r}; use one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)
    for folder in profiles or []:
        if not folder.is_dir():
            typer.echo(f"error: --profiles {folder}: not a folder", err=True)
            raise typer.Exit(2)
    try:
        report = validate_paths(paths, profile_dirs=profiles or [], include_store=not no_store)
    except UsageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    diags = report.diagnostics
    if strict:
        diags = [d.with_(severity="error") for d in diags]
    diags.sort(key=lambda d: (d.file or "", d.line or 0, d.column or 0, d.message))
    if fmt == "json":
        sys.stdout.write(json.dumps([d.to_dict() for d in diags], indent=2) + "\n")
    elif fmt == "github":
        for d in diags:
            typer.echo(_github(d))
    else:
        for d in diags:
            typer.echo(d.format())
    summary = _summary(report, strict)
    typer.echo(summary, err=fmt != "text")
    gc.freeze()   # and interpreter shutdown need not scan it all either
    if any(d.is_error for d in diags):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
