from __future__ import annotations

import pytest

from cao.spec.diagnostics import SpecError
from cao.spec.durations import format_duration, parse_duration
from cao.spec.loader import load_document, load_flow, load_profile, load_workflow
from cao.spec.profile import AgentProfile
from cao.spec.workflow import Workflow


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("5m", 300), ("1h30m", 5400), ("2h", 7200), ("250ms", 0.25), (45, 45),
    ("45", 45), (1.5, 1.5), ("1d", 86400), (" 1h 5m ", 3900), ("0", 0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 minutes", "m5", "-3", "1x", True, None, [1], "nan", "inf"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError, match="invalid duration|finite"):
        parse_duration(bad)


def test_format_duration():
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.5) == "0.5s"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_profile_runtime_attributes(tmp_path):
    path = write(tmp_path, "p.md", "---\nname: p\nprovider: python\nentrypoint: a.b:c\n"
                                   "model: m1\nallowedTools: [x]\n"
                                   "mcpServers: {s: {command: run, args: [a]}}\n---\n\n"
                                   "  Be helpful.  \n\n")
    profile = load_profile(path)
    assert profile.name == "p" and profile.provider == "python" and profile.model == "m1"
    assert profile.system_prompt == "Be helpful."
    assert profile.entrypoint == "a.b:c"
    assert profile.allowedTools == ["x"]
    assert profile.mcpServers["s"].command == "run"
    assert profile.source_path == path
    assert profile.custom is None
    assert "source_path" not in AgentProfile.model_json_schema()["properties"]


def test_profile_env_placeholders(tmp_path, monkeypatch):
    monkeypatch.setenv("CAO_TEST_TOKEN", "s3cret")
    monkeypatch.delenv("CAO_TEST_MISSING", raising=False)
    ok = write(tmp_path, "a.md", "---\nname: a\nmcpServers:\n  s:\n    command: run\n"
                                 "    env: {T: '${CAO_TEST_TOKEN}', D: '${CAO_TEST_MISSING:-dflt}'}\n---\n")
    profile = load_profile(ok)
    assert profile.mcpServers["s"].env == {"T": "s3cret", "D": "dflt"}
    bad = write(tmp_path, "b.md", "---\nname: b\nmodel: '${CAO_TEST_MISSING}'\n---\n")
    with pytest.raises(SpecError) as err:
        load_profile(bad)
    [diag] = err.value.diagnostics
    assert diag.line == 3 and diag.field == "model" and diag.code == "env-unset"
    doc, diags = load_document(bad, missing_env="warning")
    assert doc is not None and doc.model == "${CAO_TEST_MISSING}"
    assert [d.severity for d in diags] == ["warning"]


def test_workflow_node_properties(tmp_path):
    path = write(tmp_path, "w.md", """---
name: w
defaults: {timeout: 10m, retries: 2, retry_backoff: 5s, provider: codex}
nodes:
  a: {handoff: developer, prompt: first, timeout: 1h30m}
  b: {assign: reviewer, needs: a, retry_backoff: 2m}
  c: {send_message: a, needs: [a, b], prompt: "inline {{ nodes.b.output }}", reply: true}
---
## first
Do the first thing.

## b
Section named after the node.
""")
    wf = load_workflow(path)
    a, b, c = wf.nodes["a"], wf.nodes["b"], wf.nodes["c"]
    assert (a.kind, a.target, a.needs_list) == ("handoff", "developer", [])
    assert (b.kind, b.needs_list) == ("assign", ["a"])
    assert (c.kind, c.target, c.needs_list, c.reply) == ("send_message", "a", ["a", "b"], True)
    assert a.prompt_template == "Do the first thing." and a.prompt_section == "first"
    assert b.prompt_template == "Section named after the node."
    assert c.prompt_template == "inline {{ nodes.b.output }}"
    assert a.timeout_seconds == 5400 and b.timeout_seconds is None
    assert b.retry_backoff_seconds == 120
    assert wf.effective_timeout(b) == 600 and wf.effective_timeout(a) == 5400
    assert wf.effective_retries(a) == 2 and wf.effective_retry_backoff(a) == 5
    assert wf.effective_provider(a) == "codex"
    assert wf.keep_terminals is False and wf.source_path == path


def test_flow_cao_format(tmp_path):
    path = write(tmp_path, "f.md", "---\nname: f\nschedule: '*/10 * * * *'\n"
                                   "agent_profile: developer\nscript: gate.sh\n---\nHi [[who]]\n")
    flow = load_flow(path)
    assert flow.prompt == "Hi [[who]]"
    assert flow.overlap == "skip" and flow.enabled is True
    assert flow.script_timeout_seconds == 60 and flow.catch_up_seconds is None


def test_six_field_cron_and_catch_up(tmp_path):
    path = write(tmp_path, "f.md", "---\nname: f\nschedule: '30 0 * * * *'\nworkflow: w.md\n"
                                   "catch_up: 2h\n---\n")
    flow = load_flow(path)
    assert flow.catch_up_seconds == 7200
    assert flow.workflow_path() == (tmp_path / "w.md").resolve()


def test_load_errors_raise_spec_error(tmp_path):
    path = write(tmp_path, "w.md", "---\nname: w\nnodes:\n  a: {handoff: x, nedds: b}\n---\n")
    with pytest.raises(SpecError) as err:
        load_workflow(path)
    assert "did you mean 'needs'" in str(err.value)
    assert err.value.diagnostics[0].line == 4


def test_workflow_in_code_has_prompt_fallback():
    wf = Workflow.model_validate({"name": "x", "nodes": {"a": {"handoff": "p", "prompt": "hi"}}})
    assert wf.nodes["a"].prompt_template == "hi"


def test_model_dump_round_trips(tmp_path):
    import yaml

    wf = load_workflow(write(tmp_path, "w.md", "---\nname: w\ninputs: {n: {type: integer, "
                                               "default: 3}}\nnodes:\n  a: {handoff: p, "
                                               "prompt: hi, timeout: 5m}\n---\n"))
    data = wf.model_dump(exclude_unset=True)
    again = load_workflow(write(tmp_path, "w2.md", "---\n" + yaml.safe_dump(data) + "---\n"))
    assert again.model_dump() == wf.model_dump()
