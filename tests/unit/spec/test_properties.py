"""Property tests: whatever the input, the loader and compiler answer with Diagnostics,
never a traceback; valid documents round-trip through the models."""

from __future__ import annotations

import random

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cao.graph.compile import compile_workflow
from cao.graph.templates import _fast_analyze, _slow_analyze, analyze_expression
from cao.spec.catalog import ProfileCatalog
from cao.spec.diagnostics import Diagnostic
from cao.spec.loader import build_document
from cao.spec.source import read_document
from cao.spec.workflow import Workflow

CATALOG = ProfileCatalog(include_store=False)
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

KEYS = ["name", "nodes", "schedule", "handoff", "assign", "send_message", "needs", "prompt",
        "when", "for_each", "inputs", "type", "default", "timeout", "provider", "output",
        "agent_profile", "workflow", "mcpServers", "command", "reply", "retries", "a", "b"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["a", "b", "developer", "5m", "x y",
                                                           "{{ nodes.a.output }}", "{%", "*/5 * * * *"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=5)),
    max_leaves=25)
frontmatter_data = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


def load_text(text: str):
    raw = read_document(None, text)
    doc, diags = build_document(raw, missing_env="warning")
    assert all(isinstance(d, Diagnostic) for d in diags)
    if doc is None:
        assert any(d.is_error for d in diags)
    if isinstance(doc, Workflow):
        compiled = compile_workflow(doc, catalog=CATALOG)
        assert all(isinstance(d, Diagnostic) and d.message for d in compiled.diagnostics)
    return doc, diags


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_gives_diagnostics_not_tracebacks(text):
    load_text(text)
    load_text("---\n" + text + "\n---\nbody\n")


@SETTINGS
@given(frontmatter_data, st.text(max_size=80))
def test_random_frontmatter_never_raises(data, body):
    text = "---\n" + yaml.safe_dump(data, allow_unicode=True) + "---\n" + body
    load_text(text)


@SETTINGS
@given(st.data())
def test_mutated_valid_documents_never_raise(data):
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    sources = sorted((root / "workflows").glob("*.md")) + sorted((root / "profiles").glob("*.md"))
    text = data.draw(st.sampled_from(sources)).read_text()
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 8))
        insert = data.draw(st.sampled_from(["", ":", " ", "\n", "\t", "{{", "}}", "{%", "[", "-",
                                            "'", '"', "nodes.x", "- ", "&a", "*a", "!!python"]))
        text = text[:pos] + insert + text[pos + cut:]
    load_text(text)


fragments = st.sampled_from(["{{", "}}", "{%", "%}", "{#", "#}", " ", "nodes", ".", "a", "b-c",
                             "['x']", '["y"]', "[0]", "inputs", "item", "|", "trim", "join(',')",
                             "-", "true", "for", "x", "in", "endfor", "if", "endif", "(", ")",
                             "'", "\n", "loop", "output", "+", "1"])


@SETTINGS
@given(st.lists(fragments, max_size=25).map("".join))
def test_fast_template_analysis_agrees_with_jinja(source):
    fast = _fast_analyze(source)
    analyze_expression(source)   # must not raise either
    if fast is not None:
        slow = _slow_analyze(source)
        assert slow.error is None
        assert (fast.nodes, fast.inputs, fast.names) == (slow.nodes, slow.inputs, slow.names)


@SETTINGS
@given(st.integers(2, 40), st.randoms(use_true_random=False), st.booleans())
def test_random_graphs(n, rnd: random.Random, add_cycle):
    nodes = {}
    for i in range(n):
        deps = rnd.sample(range(i), k=min(i, rnd.randint(0, 3)))
        refs = rnd.sample(range(i), k=min(i, rnd.randint(0, 1)))
        prompt = "go " + " ".join(f"{{{{ nodes.n{j}.output }}}}" for j in refs)
        nodes[f"n{i}"] = {"handoff": "developer", "needs": [f"n{j}" for j in deps],
                          "prompt": prompt}
    if add_cycle:
        lo, hi = sorted(rnd.sample(range(n), 2))
        # hi must depend on lo (directly or not) for a cycle; make it direct.
        nodes[f"n{hi}"]["needs"].append(f"n{lo}")
        nodes[f"n{lo}"]["needs"].append(f"n{hi}")
    wf = Workflow.model_validate({"name": "g", "nodes": nodes})
    compiled = compile_workflow(wf, catalog=CATALOG)
    if add_cycle:
        cycles = [d for d in compiled.diagnostics if d.code == "cycle"]
        assert cycles and not compiled.ok
        path = cycles[0].message.removeprefix("cycle: ").split(" -> ")
        assert path[0] == path[-1]
        assert all(compiled.graph.has_edge(u, v) for u, v in zip(path, path[1:]))
    else:
        assert compiled.ok, [d.format() for d in compiled.diagnostics]
        order = {node: i for i, node in enumerate(compiled.topological_order())}
        assert all(order[u] < order[v] for u, v in compiled.graph.edges)


# Text YAML keeps as written: YAML folds control characters and line/paragraph separators
# (NEL, U+2028...) into spaces, which is YAML's rule, not a loader bug.
yaml_chars = st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"])
node_ids = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True)
durations = st.one_of(st.integers(0, 10**5), st.sampled_from(["30s", "5m", "1h30m", "2h"]))
nodes_strategy = st.dictionaries(node_ids, st.fixed_dictionaries(
    {"handoff": st.sampled_from(["developer", "reviewer"]),
     "prompt": st.text(st.characters(blacklist_characters="{}%#",
                                      blacklist_categories=["Cs", "Cc", "Zl", "Zp"]),
                       min_size=1, max_size=30)},
    optional={"timeout": durations, "retries": st.integers(0, 5),
              "continue_on_error": st.booleans(), "description": st.text(yaml_chars, max_size=20),
              "max_parallel": st.integers(1, 9)}), min_size=1, max_size=6)


@SETTINGS
@given(nodes_strategy, st.text(yaml_chars, min_size=1, max_size=20))
def test_valid_workflows_round_trip(nodes, name):
    assume(name.strip())
    wf = Workflow.model_validate({"name": name, "nodes": nodes})
    text = "---\n" + yaml.safe_dump(wf.model_dump(exclude_unset=True), allow_unicode=True) + "---\n"
    raw = read_document(None, text)
    doc, diags = build_document(raw, kind="workflow")
    assert doc is not None, [d.format() for d in diags]
    assert doc.model_dump() == wf.model_dump()


plain_text = st.text(yaml_chars, min_size=1, max_size=20).filter(lambda t: t.strip() and "${" not in t)
profiles_strategy = st.fixed_dictionaries(
    {"name": plain_text},
    optional={"description": plain_text, "provider": st.sampled_from(["codex", "claude_code"]),
              "model": plain_text, "allowedTools": st.lists(plain_text, max_size=3),
              "tags": st.lists(plain_text, max_size=3), "provider_init_timeout": st.integers(1, 999),
              "mcpServers": st.dictionaries(plain_text, st.fixed_dictionaries(
                  {"command": plain_text},
                  optional={"args": st.lists(plain_text, max_size=3),
                            "env": st.dictionaries(plain_text, plain_text, max_size=2),
                            "timeout": st.integers(0, 10**6)}), max_size=2),
              "toolsSettings": st.dictionaries(plain_text, st.integers(), max_size=2)})


@SETTINGS
@given(profiles_strategy, plain_text)
def test_valid_profiles_round_trip(data, body):
    from cao.spec.profile import AgentProfile

    profile = AgentProfile.model_validate(data)
    dumped = profile.model_dump(exclude_unset=True, exclude_none=True)
    text = "---\n" + yaml.safe_dump(dumped, allow_unicode=True) + "---\n" + body + "\n"
    doc, diags = build_document(read_document(None, text), kind="profile")
    assert doc is not None, [d.format() for d in diags]
    assert doc.model_dump() == profile.model_dump()
    assert doc.system_prompt == body.strip()


crons = st.sampled_from(["0 9 * * 1-5", "*/5 * * * *", "@daily", "30 0 0 1 * *"])


@SETTINGS
@given(st.fixed_dictionaries(
    {"name": plain_text, "schedule": crons},
    optional={"overlap": st.sampled_from(["skip", "queue", "allow"]), "enabled": st.booleans(),
              "catch_up": st.sampled_from(["none", "1h", 600]), "timezone": st.sampled_from(
                  ["UTC", "Europe/Paris"]), "script_timeout": st.sampled_from(["30s", 5])}),
       st.booleans())
def test_valid_flows_round_trip(data, with_workflow):
    from cao.spec.flow import Flow

    data = {**data, **({"workflow": "w.md", "inputs": {"a": 1}} if with_workflow
                       else {"agent_profile": "developer"})}
    flow = Flow.model_validate(data)
    text = "---\n" + yaml.safe_dump(flow.model_dump(exclude_unset=True)) + "---\nGo.\n"
    doc, diags = build_document(read_document(None, text), kind="flow")
    assert doc is not None, [d.format() for d in diags]
    assert doc.model_dump() == flow.model_dump() and doc.prompt == "Go."
