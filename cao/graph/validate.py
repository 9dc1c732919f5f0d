"""`cao validate` without the CLI: collect files, load and check each, gather diagnostics."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from cao.spec.diagnostics import Diagnostic

_SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"}


@dataclass
class Report:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)   # kind -> count
    skipped: list[Path] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(self.checked.values())

    def count(self, severity: str) -> int:
        return sum(1 for d in self.diagnostics if d.severity == severity)


class UsageError(Exception):
    pass


def _walk(folder: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".md"):
                yield Path(root) / name


def collect(args: Iterable[str]) -> list[tuple[Path, bool]]:
    """(path, named explicitly) for every file to check; raises UsageError for a path that
    matches nothing. Files found by walking a folder or a glob are not explicit."""
    found: dict[Path, tuple[Path, bool]] = {}

    def add(path: Path, explicit: bool) -> None:
        key = path.resolve()
        if key not in found or explicit:
            found[key] = (path, explicit)

    for arg in args:
        path = Path(arg)
        if path.is_dir():
            for sub in _walk(path):
                add(sub, False)
        elif path.is_file():
            add(path, True)
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise UsageError(f"no file matches {arg!r}")
            for match in map(Path, matches):
                if match.is_dir():
                    for sub in _walk(match):
                        add(sub, False)
                elif match.suffix == ".md":
                    add(match, False)
        else:
            raise UsageError(f"path not found: {arg}")
    return list(found.values())


class Validator:
    def __init__(self, profile_dirs: Iterable[Path | str] = (), include_store: bool = True):
        self.profile_dirs = [Path(p) for p in profile_dirs]
        self.include_store = include_store
        self._catalogs: dict[Path, object] = {}

    def catalog_for(self, path: Path):
        from cao.spec.catalog import ProfileCatalog

        key = path.resolve().parent
        if key not in self._catalogs:
            self._catalogs[key] = ProfileCatalog(self.profile_dirs, near=path,
                                                 include_store=self.include_store)
        return self._catalogs[key]

    def check_file(self, path: Path, explicit: bool = True) -> tuple[str | None, list[Diagnostic]]:
        """(kind or None when skipped, diagnostics)."""
        from cao.spec.gcpause import paused_gc

        with paused_gc():
            return self._check(path, explicit)

    def _check(self, path: Path, explicit: bool) -> tuple[str | None, list[Diagnostic]]:
        from cao.graph.compile import compile_workflow
        from cao.graph.documents import check_flow, check_profile
        from cao.spec.flow import Flow
        from cao.spec.loader import build_document, detect_kind
        from cao.spec.profile import AgentProfile
        from cao.spec.source import read_document
        from cao.spec.workflow import Workflow

        raw = read_document(path)
        if not raw.has_frontmatter and not raw.diagnostics and not explicit:
            return None, []
        kind = detect_kind(raw) if raw.has_frontmatter else "other"
        doc, diags = build_document(raw, missing_env="warning")
        if isinstance(doc, Workflow):
            compiled = compile_workflow(doc, catalog=self.catalog_for(path))
            diags += compiled.diagnostics
        elif isinstance(doc, Flow):
            diags += check_flow(doc, raw, self.catalog_for)
        elif isinstance(doc, AgentProfile):
            diags += check_profile(doc, raw)
        return kind, diags

    def run(self, args: Iterable[str]) -> Report:
        report = Report()
        for path, explicit in collect(args):
            try:
                kind, diags = self.check_file(path, explicit)
            except RecursionError:
                kind, diags = "other", [Diagnostic("error", "document is nested too deeply",
                                                      file=str(path), code="too-deep")]
            if kind is None:
                report.skipped.append(path)
                continue
            report.checked[kind] = report.checked.get(kind, 0) + 1
            report.diagnostics.extend(diags)
        return report


def validate_paths(args: Iterable[str], profile_dirs: Iterable[Path | str] = (),
                   include_store: bool = True) -> Report:
    return Validator(profile_dirs, include_store).run(args)
