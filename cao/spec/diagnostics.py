"""Diagnostics: what is wrong in a document, where, and how to fix it."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, replace
from typing import Iterable, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None      # 1-based line in the file (not in the frontmatter)
    column: int | None = None    # 1-based
    field: str | None = None     # dotted path, e.g. nodes.report.needs[0]
    hint: str | None = None
    code: str = "invalid"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def with_(self, **changes) -> "Diagnostic":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        data = asdict(self)
        return {key: data[key] for key in
                ("file", "line", "column", "severity", "code", "field", "message", "hint")}

    def format(self) -> str:
        """`file:line:col: severity: field: message (hint: ...)`, the compiler-style line."""
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.severity}: "
        if self.field:
            text += f"{self.field}: "
        text += self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def __str__(self) -> str:
        return self.format()


class SpecError(Exception):
    """A document could not be loaded; carries every diagnostic found."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error] or self.diagnostics
        super().__init__("\n".join(d.format() for d in errors) or "invalid document")


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt word, or None."""
    matches = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def format_path(path: Iterable[str | int]) -> str:
    """('nodes', 'b', 'needs', 0) -> 'nodes.b.needs[0]'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text
