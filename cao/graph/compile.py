"""A workflow compiled to a DAG: the one representation that `cao validate` checks,
`cao graph` draws and the runtime executes.

The checks run on plain edge dicts; the networkx DiGraph (`.graph`) is built from the
same nodes and edges on first use, so `cao validate` never pays networkx's import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from cao.graph.inputs import resolve_inputs  # noqa: F401  (public here)
from cao.spec.diagnostics import Diagnostic, SpecError, has_errors
from cao.spec.workflow import Workflow

if TYPE_CHECKING:
    import networkx as nx

EDGE_REASONS = ("needs", "template", "send_message")


class CompiledWorkflow:
    def __init__(self, workflow: Workflow | None, diagnostics: list[Diagnostic] | None = None,
                 path: Path | None = None, edges: dict[tuple[str, str], str] | None = None,
                 output_refs: set[str] | None = None):
        self.workflow = workflow
        self.diagnostics: list[Diagnostic] = list(diagnostics or [])
        self.path = path
        # (source, target) -> reason ('needs', 'template' or 'send_message')
        self.edges: dict[tuple[str, str], str] = dict(edges or {})
        self.output_refs: set[str] = set(output_refs or ())   # nodes read by `output`
        self._graph: nx.DiGraph | None = None

    @property
    def graph(self) -> "nx.DiGraph":
        """networkx DiGraph: nodes in written order with attributes `spec` (the Node),
        `kind`, `target`; edges with attribute `reason`."""
        if self._graph is None:
            self._graph = build_graph(self.workflow, self.edges)
        return self._graph

    @graph.setter
    def graph(self, graph: "nx.DiGraph") -> None:
        self._graph = graph

    def __repr__(self) -> str:
        name = self.workflow.name if self.workflow is not None else None
        return (f"<CompiledWorkflow {name!r} nodes={len(self.workflow.nodes) if self.workflow else 0}"
                f" edges={len(self.edges)} ok={self.ok}>")

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def topological_order(self) -> list[str]:
        """Node ids, dependencies first; ties keep the order nodes are written in."""
        from cao.graph.dag import topological_order

        if self._graph is not None:   # the runtime may have extended the graph
            nodes, edges = list(self._graph.nodes), list(self._graph.edges)
        else:
            nodes = list(self.workflow.nodes) if self.workflow else []
            edges = list(self.edges)
        order, stuck = topological_order(nodes, edges)
        if stuck:
            raise SpecError([d for d in self.errors if d.code == "cycle"]
                            or [Diagnostic("error", "the workflow has a cycle", code="cycle")])
        return order

    def raise_for_errors(self) -> "CompiledWorkflow":
        if not self.ok:
            raise SpecError(self.diagnostics)
        return self


def build_graph(workflow: Workflow | None,
                edges: dict[tuple[str, str], str] | None = None) -> "nx.DiGraph":
    import networkx as nx

    graph = nx.DiGraph(name=workflow.name if workflow is not None else None)
    if workflow is not None:
        graph.add_nodes_from((node_id, {"spec": node, "kind": node.kind, "target": node.target})
                             for node_id, node in workflow.nodes.items())
    graph.add_edges_from((u, v, {"reason": r}) for (u, v), r in (edges or {}).items())
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
        return CompiledWorkflow(None, diags, path)
    if catalog is None and check_profiles:
        from cao.spec.catalog import ProfileCatalog

        catalog = ProfileCatalog(extra_dirs=list(profile_dirs), near=path)
    compiled = CompiledWorkflow(workflow, diags, path)
    run_checks(compiled, catalog)
    compiled.diagnostics.sort(key=_order)
    return compiled


def _order(d: Diagnostic) -> tuple:
    return (d.line or 0, d.column or 0, d.severity != "error", d.message)
