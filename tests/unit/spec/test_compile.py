from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from cao.graph.compile import compile_workflow, resolve_inputs
from cao.spec.catalog import ProfileCatalog
from cao.spec.diagnostics import SpecError
from cao.spec.workflow import Workflow

ROOT = Path(__file__).resolve().parents[3]


def test_seed_example_compiles():
    compiled = compile_workflow(ROOT / "workflows" / "parallel-analysis.md")
    assert compiled.ok, [d.format() for d in compiled.diagnostics]
    assert compiled.topological_order() == ["analyze", "template", "report"]
    assert set(compiled.graph.edges) == {("analyze", "report"), ("template", "report")}
    assert compiled.graph.nodes["analyze"]["spec"].for_each is not None
    assert compiled.output_refs == {"report"}


def test_edge_reasons(tmp_path):
    path = tmp_path / "w.md"
    path.write_text("""---
name: w
nodes:
  a: {handoff: developer, prompt: hi}
  b: {handoff: reviewer, needs: a, prompt: "{{ nodes.a.output }}"}
  c: {send_message: a, prompt: "{{ nodes.b.output }}"}
---
""")
    compiled = compile_workflow(path)
    assert compiled.ok
    reasons = {(u, v): r for u, v, r in compiled.graph.edges(data="reason")}
    assert reasons == {("a", "b"): "needs", ("a", "c"): "send_message", ("b", "c"): "template"}
    assert isinstance(compiled.graph, nx.DiGraph)


def test_compile_never_raises_on_bad_file(tmp_path):
    path = tmp_path / "w.md"
    path.write_text("---\nname: [\n---\n")
    compiled = compile_workflow(path)
    assert not compiled.ok and compiled.workflow is None
    with pytest.raises(SpecError):
        compiled.raise_for_errors()


def test_compile_workflow_object_without_positions():
    wf = Workflow.model_validate({"name": "x", "nodes": {
        "a": {"handoff": "developer", "prompt": "hi", "needs": "zz"}}})
    compiled = compile_workflow(wf, catalog=ProfileCatalog(include_store=False))
    [diag] = compiled.errors
    assert diag.message == "unknown node 'zz'" and diag.field == "nodes.a.needs"


def test_compile_time_grows_linearly():
    """Catches quadratic checks (a wide join needing thousands of nodes), not slowness:
    CPU time for 4x the nodes must stay well under 16x (quadratic)."""
    import time

    def cpu_for(n: int) -> float:
        nodes = {f"n{i}": {"assign": "developer", "prompt": f"p {{{{ inputs.x }}}} {i}"}
                 for i in range(n)}
        nodes["join"] = {"handoff": "developer", "needs": list(nodes), "prompt": "p"}
        wf = Workflow.model_validate({"name": "wide", "inputs": {"x": {"default": "x"}},
                                      "nodes": nodes})
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            compiled = compile_workflow(wf, catalog=ProfileCatalog(include_store=False))
            best = min(best, time.process_time() - start)
            assert compiled.ok
        return best

    small, large = cpu_for(1000), cpu_for(4000)
    assert large < 10 * max(small, 0.005)


INPUTS_WF = Workflow.model_validate({
    "name": "x",
    "inputs": {"n": {"type": "integer", "default": 1}, "ratio": {"type": "number"},
               "on": {"type": "boolean", "default": False}, "tags": {"type": "array",
               "default": []}, "cfg": {"type": "object", "required": False},
               "name": {"type": "string"}},
    "nodes": {"a": {"handoff": "p", "prompt": "hi"}}})


def test_resolve_inputs_coerces_cli_strings():
    got = resolve_inputs(INPUTS_WF, {"n": "3", "ratio": "2.5", "on": "yes", "tags": "[1, 2]",
                                     "name": "42"})
    assert got == {"n": 3, "ratio": 2.5, "on": True, "tags": [1, 2], "cfg": None, "name": "42"}


def test_resolve_inputs_reports_every_problem():
    with pytest.raises(SpecError) as err:
        resolve_inputs(INPUTS_WF, {"n": "three", "nme": "x", "on": 1})
    messages = sorted(d.message for d in err.value.diagnostics)
    assert messages == [
        "input 'n' must be an integer, got 'three'",
        "input 'on' must be a boolean, got integer",
        "missing required input 'name'",
        "missing required input 'ratio'",
        "unknown input 'nme' — did you mean 'name'?",
    ]


def test_catalog_precedence(tmp_path, monkeypatch):
    def profile(folder: Path, desc: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "developer.md").write_text(f"---\nname: developer\ndescription: {desc}\n---\nx\n")

    store = tmp_path / "home" / "agent-store"
    monkeypatch.setenv("CAO_HOME", str(tmp_path / "home"))
    workflow = tmp_path / "proj" / "w.md"
    workflow.parent.mkdir()
    assert ProfileCatalog(near=workflow).entry("developer").source == "builtin"
    profile(store, "store")
    assert ProfileCatalog(near=workflow).entry("developer").source == "store"
    profile(tmp_path / "proj" / "profiles", "local")
    assert ProfileCatalog(near=workflow).find("developer").description == "local"
    profile(tmp_path / "extra", "extra")
    catalog = ProfileCatalog([tmp_path / "extra"], near=workflow)
    assert catalog.find("developer").description == "extra"
    names = [e.name for e in catalog.entries()]
    assert names.count("developer") == 1 and "reviewer" in names
    name, source, path, prof = catalog.entry("developer")
    assert source == "extra" and path.parent == tmp_path / "extra"
