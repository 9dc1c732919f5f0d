"""The graph of a run as it happened: static nodes of its workflow plus what agents
added at run time (handoff, assign and send_message calls), with their states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx


def run_graph(run: dict[str, Any]) -> nx.DiGraph:
    """`run` is a run record with `nodes` and `edges` (GET /runs/{id})."""
    graph = nx.DiGraph(name=f"{run.get('name')} (run {run['id']})")
    static_edges: list[tuple[str, str, str]] = []
    if run.get("kind") == "workflow" and run.get("workflow_path") and Path(run["workflow_path"]).is_file():
        from cao.graph.compile import compile_workflow

        compiled = compile_workflow(run["workflow_path"], check_profiles=False)
        static_edges = [(s, d, r or "needs") for s, d, r in compiled.graph.edges(data="reason")]
    for node in run["nodes"]:
        target = node.get("profile") or node.get("receiver_id")
        graph.add_node(node["key"], kind=node["kind"] if node["kind"] != "agent" else None,
                       target=target, status=node["state"],
                       label=_label(node, target))
    for src, dst, reason in static_edges:
        if src in graph and dst in graph:
            graph.add_edge(src, dst, reason=reason)
    for node in run["nodes"]:
        parent = node.get("parent_key")
        if parent and not node.get("dynamic") and parent in graph:
            graph.add_edge(parent, node["key"], reason="fan-out")
    for edge in run.get("edges", []):
        if edge["src"] in graph and edge["dst"] in graph:
            reason = "send_message" if edge["kind"] in ("send_message", "delivers_to") else "needs"
            graph.add_edge(edge["src"], edge["dst"], reason=reason)
    return graph


def _label(node: dict[str, Any], target: str | None) -> str:
    kind = node["kind"]
    head = node["key"] + (" (dynamic)" if node.get("dynamic") else "")
    verb = {"handoff": "handoff to", "assign": "assign to", "send_message": "message to",
            "agent": "agent"}.get(kind, kind)
    lines = [head, f"{verb} {target}" if target else verb]
    if node.get("terminal_id"):
        lines.append(f"terminal {node['terminal_id']}")
    lines.append(f"[{node['state']}]")
    return "\n".join(lines)
