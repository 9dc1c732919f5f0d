"""Every document in corpus/valid validates cleanly; every one in corpus/invalid produces
exactly the diagnostics its `<!-- expect: LINE: FIELD: MESSAGE -->` comments name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cao.graph.validate import Validator

CORPUS = Path(__file__).resolve().parent / "corpus"
EXPECT = re.compile(r"<!-- expect( warning)?: (\d+): (.*?) -->")


def _check(path: Path):
    return Validator(include_store=False).check_file(path, explicit=True)[1]


def _render(d) -> tuple[str, int | None, str]:
    text = f"{d.field}: {d.message}" if d.field else d.message
    return (d.severity, d.line, text)


@pytest.mark.parametrize("path", sorted((CORPUS / "valid").glob("*.md")), ids=lambda p: p.name)
def test_valid_documents_have_no_diagnostics(path):
    assert [d.format() for d in _check(path)] == []


@pytest.mark.parametrize("path", sorted((CORPUS / "invalid").glob("*.md")), ids=lambda p: p.name)
def test_invalid_documents_produce_the_expected_diagnostics(path):
    expected = sorted(("warning" if warn else "error", int(line), text)
                      for warn, line, text in EXPECT.findall(path.read_text()))
    assert expected, f"{path.name} declares no <!-- expect: ... --> comment"
    found = sorted(_render(d) for d in _check(path))
    if not yaml.__with_libyaml__:   # PyYAML's pure-Python parser words YAML errors differently
        found = [(sev, line, "invalid YAML" if text.startswith("invalid YAML") else text)
                 for sev, line, text in found]
        expected = [(sev, line, "invalid YAML" if text.startswith("invalid YAML") else text)
                    for sev, line, text in expected]
    assert found == expected


def test_every_diagnostic_names_the_file():
    for path in sorted((CORPUS / "invalid").glob("*.md")):
        for d in _check(path):
            assert d.file == str(path)
            assert d.line is not None and d.line >= 1
