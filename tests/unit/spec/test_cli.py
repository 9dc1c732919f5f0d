from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cao.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(__file__).resolve().parent / "corpus"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_shipped_documents_are_valid():
    result = run("validate", str(ROOT / "workflows"), str(ROOT / "profiles"), "--no-store")
    assert result.exit_code == 0, result.output
    assert "checked 8 documents (6 profiles, 2 workflows): 0 errors, 0 warnings" in result.output


def test_errors_exit_1_with_compiler_style_lines():
    path = CORPUS / "invalid" / "unknown_need.md"
    result = run("validate", str(path), "--no-store")
    assert result.exit_code == 1
    assert f"{path}:7:16: error: nodes.b.needs[1]: unknown node 'c'" in result.output


def test_usage_errors_exit_2(tmp_path):
    assert run("validate", str(tmp_path / "missing.md")).exit_code == 2
    assert run("validate", str(tmp_path / "*.nothing")).exit_code == 2
    assert run("validate", str(ROOT / "workflows"), "--format", "xml").exit_code == 2


def test_folder_walk_skips_plain_markdown_but_explicit_files_fail(tmp_path):
    (tmp_path / "README.md").write_text("# readme\n")
    (tmp_path / "p.md").write_text("---\nname: p\n---\nhi\n")
    assert run("validate", str(tmp_path), "--no-store").exit_code == 0
    result = run("validate", str(tmp_path / "README.md"))
    assert result.exit_code == 1 and "not a cao document" in result.output
    assert run("validate", str(tmp_path / "*.md"), "--no-store").exit_code == 0


def test_json_format_is_stable():
    path = CORPUS / "invalid" / "typo_key.md"
    result = runner.invoke(app, ["validate", str(path), "--format", "json", "--no-store"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert list(data[0]) == ["file", "line", "column", "severity", "code", "field", "message",
                             "hint"]
    assert data[0]["line"] == 7 and data[0]["code"] == "unknown-key"


def test_github_format():
    path = CORPUS / "invalid" / "cycle.md"
    result = run("validate", str(path), "--format", "github", "--no-store")
    assert result.exit_code == 1
    assert f"::error file={path},line=4,col=27,title=cao cycle::nodes.a.needs: cycle: a -> b -> c -> a" \
        in result.output


def test_strict_turns_warnings_into_errors():
    path = CORPUS / "invalid" / "unawaited_assign.md"
    assert run("validate", str(path), "--no-store").exit_code == 0
    result = run("validate", str(path), "--strict", "--no-store")
    assert result.exit_code == 1 and ": error: nodes.b.assign" in result.output


def test_profiles_option(tmp_path):
    (tmp_path / "profs").mkdir()
    (tmp_path / "profs" / "mine.md").write_text("---\nname: mine\n---\nhi\n")
    wf = tmp_path / "w.md"
    wf.write_text("---\nname: w\nnodes:\n  a: {handoff: mine, prompt: hi}\n---\n")
    assert run("validate", str(wf), "--no-store").exit_code == 1
    assert run("validate", str(wf), "--profiles", str(tmp_path / "profs")).exit_code == 0


def test_graph_and_schema_commands(tmp_path):
    result = run("graph", str(ROOT / "workflows" / "parallel-analysis.md"))
    assert result.exit_code == 0 and result.output.startswith("flowchart TD")
    assert run("graph", str(ROOT / "workflows" / "code-review.md"), "-f", "dot").exit_code == 0
    assert run("graph", str(CORPUS / "invalid" / "cycle.md")).exit_code == 1
    assert run("graph", str(tmp_path / "nope.md")).exit_code == 2
    result = run("schema", "flow")
    assert result.exit_code == 0 and json.loads(result.output)["title"] == "cao flow"
    assert run("schema", "--out", str(tmp_path / "s")).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "flow.schema.json", "profile.schema.json", "workflow.schema.json"]
    assert run("schema", "nope").exit_code == 2


def test_validate_as_a_process_imports_little():
    """`cao validate` must not pay for the server's imports."""
    code = ("import sys; from cao.cli.main import app; "
            "sys.argv=['cao','validate','workflows','--no-store']\n"
            "try: app()\nexcept SystemExit: pass\n"
            "heavy=[m for m in ('fastapi','uvicorn','mcp','httpx','libtmux','networkx') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60).stdout
    assert "HEAVY []" in out
