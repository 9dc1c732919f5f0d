"""A workflow compiled to a networkx DiGraph: the one representation that `cao validate`
checks, `cao graph` draws and the runtime executes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import networkx as nx

from cao.spec.diagnostics import Diagnostic, SpecError, has_errors
from cao.spec.workflow import Workflow, type_matches, type_name_of

EDGE_REASONS = ("needs", "template", "send_message")
OUTPUT = "__output__"   # not a graph node; the key under which output references are kept


@dataclass
class CompiledWorkflow:
    workflow: Workflow | None
    graph: nx.DiGraph
    diagnostics: list[Diagnostic] = field(default_factory=list)
    path: Path | None = None
    output_refs: set[str] = field(default_factory=set)   # nodes read by `output`

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def topological_order(self) -> list[str]:
        """Node ids, dependencies first; ties keep the order nodes are written in."""
        if not nx.is_directed_acyclic_graph(self.graph):
            raise SpecError(self.errors or [Diagnostic("error", "the workflow has a cycle")])
        index = {node_id: i for i, node_id in enumerate(self.graph.nodes)}
        return list(nx.lexicographical_topological_sort(self.graph, key=index.__getitem__))

    def raise_for_errors(self) -> "CompiledWorkflow":
        if not self.ok:
            raise SpecError(self.diagnostics)
        return self


def build_graph(workflow: Workflow) -> nx.DiGraph:
    """Nodes in written order, each with `spec`, `kind`, `target`; edges are added by checks."""
    graph = nx.DiGraph(name=workflow.name)
    for node_id, node in workflow.nodes.items():
        graph.add_node(node_id, spec=node, kind=node.kind, target=node.target)
    return graph


def compile_workflow(path_or_workflow: Path | str | Workflow, *, catalog=None,
                     profile_dirs: Iterable[Path | str] = (),
                     check_profiles: bool = True) -> CompiledWorkflow:
    """Load (if given a path), build the graph and run every check. Never raises on bad
    input: problems are in `.diagnostics` and `.ok` is False."""
    from cao.spec.gcpause import paused_gc

    with paused_gc():
        return _compile(path_or_workflow, catalog, profile_dirs, check_profiles)


def _compile(path_or_workflow, catalog, profile_dirs, check_profiles) -> CompiledWorkflow:
    from cao.graph.checks import run_checks
    from cao.spec.loader import load_document

    if isinstance(path_or_workflow, Workflow):
        workflow, diags = path_or_workflow, []
        path = workflow.source_path
    else:
        path = Path(path_or_workflow)
        doc, diags = load_document(path, kind="workflow")
        workflow = doc if isinstance(doc, Workflow) else None
    if workflow is None:
        return CompiledWorkflow(None, nx.DiGraph(), list(diags), path)
    if catalog is None and check_profiles:
        from cao.spec.catalog import ProfileCatalog

        catalog = ProfileCatalog(extra_dirs=list(profile_dirs), near=path)
    compiled = CompiledWorkflow(workflow, build_graph(workflow), list(diags), path)
    run_checks(compiled, catalog)
    compiled.diagnostics.sort(key=_order)
    return compiled


def _order(d: Diagnostic) -> tuple:
    return (d.line or 0, d.column or 0, d.severity != "error", d.message)


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _coerce(name: str, value: Any, type_name: str) -> Any:
    """CLI strings (`--input n=3`) to the declared type; other values are checked as is."""
    if isinstance(value, str) and type_name != "string":
        text = value.strip()
        try:
            if type_name == "integer":
                return int(text)
            if type_name == "number":
                number = float(text)
                return int(number) if number.is_integer() and "." not in text else number
            if type_name == "boolean":
                if text.lower() in _TRUE:
                    return True
                if text.lower() in _FALSE:
                    return False
                raise ValueError
            return json.loads(text)   # array / object as JSON
        except ValueError:
            example = {"integer": "3", "number": "2.5", "boolean": "true",
                       "array": "'[1, 2]'", "object": "'{\"a\": 1}'"}[type_name]
            raise SpecError([Diagnostic(
                "error", f"input '{name}' must be {_article(type_name)}, got {value!r}",
                field=f"inputs.{name}", hint=f"for example --input {name}={example}",
                code="input-type")]) from None
    return value


def _article(type_name: str) -> str:
    return ("an " if type_name[0] in "aeiou" else "a ") + type_name


def resolve_inputs(workflow: Workflow, given: dict[str, Any] | None) -> dict[str, Any]:
    """Declared inputs filled from `given` (coerced) and defaults; raises SpecError listing
    every unknown, missing or mistyped input."""
    from cao.spec.diagnostics import did_you_mean

    given = dict(given or {})
    problems: list[Diagnostic] = []
    for name in given:
        if name not in workflow.inputs:
            guess = did_you_mean(name, workflow.inputs)
            declared = ", ".join(workflow.inputs) or "none"
            problems.append(Diagnostic(
                "error", f"unknown input '{name}'" + (f" — did you mean '{guess}'?" if guess else ""),
                field=f"inputs.{name}", hint=f"this workflow's inputs: {declared}",
                code="input-unknown"))
    resolved: dict[str, Any] = {}
    for name, spec in workflow.inputs.items():
        if name in given:
            try:
                value = _coerce(name, given[name], spec.type)
            except SpecError as exc:
                problems.extend(exc.diagnostics)
                continue
            if not type_matches(value, spec.type):
                problems.append(Diagnostic(
                    "error", f"input '{name}' must be {_article(spec.type)}, "
                             f"got {type_name_of(value)}", field=f"inputs.{name}",
                    code="input-type"))
                continue
            resolved[name] = value
        elif spec.default is not None:
            resolved[name] = spec.default
        elif spec.is_required:
            problems.append(Diagnostic(
                "error", f"missing required input '{name}'", field=f"inputs.{name}",
                hint=f"pass --input {name}=VALUE" + (f" ({spec.description})"
                                                     if spec.description else ""),
                code="input-missing"))
        else:
            resolved[name] = None
    if problems:
        raise SpecError(problems)
    return resolved
