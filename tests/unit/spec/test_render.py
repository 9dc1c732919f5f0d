from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx

from cao.graph.compile import compile_workflow
from cao.graph.render import to_dot, to_json, to_mermaid

ROOT = Path(__file__).resolve().parents[3]


def seed():
    return compile_workflow(ROOT / "workflows" / "parallel-analysis.md")


def test_mermaid_shows_kind_profile_fanout_and_conditions(tmp_path):
    text = to_mermaid(seed())
    assert text.startswith("flowchart TD\n")
    assert '[["analyze<br/>assign data_analyst<br/>for each: inputs.datasets | dictsort"]]' in text
    assert '["report<br/>handoff analysis_supervisor"]' in text
    assert "n0 --> n2" in text and "n1 --> n2" in text
    path = tmp_path / "w.md"
    path.write_text('---\nname: w\nnodes:\n  a: {handoff: developer, prompt: hi, '
                    'when: "inputs.mode == \\"<full>\\""}\n  b: {send_message: a, prompt: x}\n'
                    'inputs: {mode: {default: x}}\n---\n')
    text = to_mermaid(compile_workflow(path))
    assert 'when: inputs.mode == #34;#60;full#62;#34;' in text
    assert 'n1>"b<br/>message to a"]' in text and "n0 ==> n1" in text


def test_mermaid_labels_are_always_quoted_and_balanced():
    for line in to_mermaid(seed()).splitlines()[3:]:
        if "[" in line:
            label = re.search(r'"(.*)"', line).group(1)
            assert '"' not in label


def test_dot_and_json():
    dot = to_dot(seed())
    assert dot.startswith('digraph "parallel-analysis" {')
    assert '"analyze" -> "report";' in dot and "peripheries=2" in dot
    data = json.loads(to_json(seed()))
    assert data["order"] == ["analyze", "template", "report"]
    assert {"source": "analyze", "target": "report", "reason": "needs"} in data["edges"]
    assert data["nodes"][0]["kind"] == "assign"


def test_renderers_accept_a_plain_run_graph():
    g = nx.DiGraph(name="run-1")
    g.add_node("a", kind="handoff", target="developer", status="completed")
    g.add_node("a/1", kind="assign", target="reviewer", status="running")
    g.add_edge("a", "a/1", reason="needs")
    text = to_mermaid(g)
    assert "classDef s_completed" in text and "class n1 s_running" in text
    assert '"a/1' in to_dot(g)
    assert json.loads(to_json(g))["nodes"][0]["status"] == "completed"
