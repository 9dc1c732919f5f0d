"""Drawing a workflow graph: Mermaid (renders on GitHub), Graphviz DOT, and JSON.

Every renderer takes a CompiledWorkflow or a plain networkx DiGraph (e.g. a run's graph
built by the runtime). Node attributes used: `spec` (a Node) or `kind`/`target`, and
optionally `label`, `status`, `for_each`, `when`; edge attribute `reason`.
"""

from __future__ import annotations

import json
from typing import Any

OUTPUT_ID = "__output__"
_KIND_VERB = {"handoff": "handoff", "assign": "assign", "send_message": "message to"}
_STATUS_COLORS = {
    "pending": "#eeeeee", "waiting": "#eeeeee", "running": "#fff3bf", "completed": "#d3f9d8",
    "failed": "#ffc9c9", "skipped": "#e9ecef", "cancelled": "#e9ecef",
}


def _unpack(obj: Any):
    """(networkx graph, nodes read by the output, workflow name)."""
    import networkx as nx

    if isinstance(obj, nx.DiGraph):
        return obj, set(), obj.graph.get("name")
    graph = obj.graph
    name = obj.workflow.name if getattr(obj, "workflow", None) is not None else None
    return graph, set(getattr(obj, "output_refs", set())), name


def _short(value: Any, limit: int = 48) -> str:
    text = str(value).strip()
    if text.startswith("{{") and text.endswith("}}"):
        text = text[2:-2].strip()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def node_facts(node_id: str, attrs: dict) -> dict[str, Any]:
    """What a drawing shows about a node, from its spec or from plain attributes."""
    spec = attrs.get("spec")
    facts = {
        "id": node_id,
        "kind": attrs.get("kind") or (spec.kind if spec is not None else None),
        "target": attrs.get("target") or (spec.target if spec is not None else None),
        "for_each": attrs.get("for_each", getattr(spec, "for_each", None)),
        "when": attrs.get("when", getattr(spec, "when", None)),
        "max_parallel": attrs.get("max_parallel", getattr(spec, "max_parallel", None)),
        "status": attrs.get("status"),
        "label": attrs.get("label"),
    }
    return facts


def label_lines(facts: dict[str, Any]) -> list[str]:
    if facts.get("label"):
        return str(facts["label"]).split("\n")
    lines = [facts["id"]]
    if facts.get("kind"):
        verb = _KIND_VERB.get(facts["kind"], facts["kind"])
        lines.append(f"{verb} {facts['target']}" if facts.get("target") else verb)
    if facts.get("for_each") is not None:
        each = facts["for_each"]
        text = f"{len(each)} items" if isinstance(each, list) else _short(each)
        parallel = f", {facts['max_parallel']} at a time" if facts.get("max_parallel") else ""
        lines.append(f"for each: {text}{parallel}")
    if facts.get("when") is not None:
        lines.append(f"when: {_short(facts['when'])}")
    if facts.get("status"):
        lines.append(f"[{facts['status']}]")
    return lines


# -- Mermaid --------------------------------------------------------------------------

def _mm_escape(text: str) -> str:
    # Mermaid entity codes keep quotes, brackets and markup from breaking the syntax.
    out = []
    for ch in text:
        if ch in '"#<>`':
            out.append(f"#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


_MM_SHAPES = {"handoff": ('["', '"]'), "assign": ('[["', '"]]'), "send_message": ('>"', '"]')}


def to_mermaid(obj: Any) -> str:
    graph, output_refs, name = _unpack(obj)
    ids = {node_id: f"n{i}" for i, node_id in enumerate(graph.nodes)}
    lines = ["flowchart TD"]
    if name:
        lines.append(f"    %% workflow: {name}")
    lines.append("    %% solid: needs, dotted: reads output in a template, thick: send_message")
    statuses: dict[str, list[str]] = {}
    for node_id, attrs in graph.nodes(data=True):
        facts = node_facts(node_id, attrs)
        left, right = _MM_SHAPES.get(facts["kind"], ('["', '"]'))
        label = "<br/>".join(_mm_escape(line) for line in label_lines(facts))
        lines.append(f"    {ids[node_id]}{left}{label}{right}")
        if facts["status"]:
            statuses.setdefault(str(facts["status"]), []).append(ids[node_id])
    for src, dst, reason in graph.edges(data="reason"):
        arrow = {"template": "-.->", "send_message": "==>"}.get(reason, "-->")
        lines.append(f"    {ids[src]} {arrow} {ids[dst]}")
    if output_refs:
        lines.append(f'    {OUTPUT_ID}(["output"])')
        for ref in sorted(output_refs, key=list(graph.nodes).index):
            lines.append(f"    {ids[ref]} -.-> {OUTPUT_ID}")
    for status, members in statuses.items():
        color = _STATUS_COLORS.get(status)
        css = f"s_{''.join(c if c.isalnum() else '_' for c in status)}"
        if color:
            lines.append(f"    classDef {css} fill:{color}")
        lines.append(f"    class {','.join(members)} {css}")
    return "\n".join(lines) + "\n"


# -- DOT ------------------------------------------------------------------------------

def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {"handoff": "box", "assign": "box, peripheries=2", "send_message": "cds"}


def to_dot(obj: Any) -> str:
    graph, output_refs, name = _unpack(obj)
    lines = [f"digraph {_dot_quote(name or 'workflow')} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", style="rounded"];']
    for node_id, attrs in graph.nodes(data=True):
        facts = node_facts(node_id, attrs)
        shape = _DOT_SHAPES.get(facts["kind"], "box")
        label = "\n".join(label_lines(facts))
        lines.append(f"  {_dot_quote(node_id)} [label={_dot_quote(label)}, shape={shape}];")
    for src, dst, reason in graph.edges(data="reason"):
        style = {"template": ' [style=dashed, tooltip="template"]',
                 "send_message": ' [style=bold, label="message"]'}.get(reason, "")
        lines.append(f"  {_dot_quote(src)} -> {_dot_quote(dst)}{style};")
    if output_refs:
        lines.append(f'  {_dot_quote(OUTPUT_ID)} [label="output", shape=oval];')
        for ref in sorted(output_refs):
            lines.append(f"  {_dot_quote(ref)} -> {_dot_quote(OUTPUT_ID)} [style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- JSON -----------------------------------------------------------------------------

def to_dict(obj: Any) -> dict[str, Any]:
    graph, output_refs, name = _unpack(obj)
    nodes = []
    for node_id, attrs in graph.nodes(data=True):
        facts = node_facts(node_id, attrs)
        spec = attrs.get("spec")
        entry = {k: v for k, v in facts.items() if v is not None and k != "label"}
        if spec is not None:
            entry["needs"] = spec.needs_list
            if spec.prompt_section:
                entry["prompt_section"] = spec.prompt_section
            for key in ("provider", "timeout", "retries", "continue_on_error", "reply"):
                value = getattr(spec, key)
                if value not in (None, False):
                    entry[key] = value
        for key, value in attrs.items():   # extra run attributes (status, times, ...)
            if key not in entry and key not in ("spec", "label"):
                entry[key] = value
        nodes.append(entry)
    edges = [{"source": s, "target": t, "reason": r} for s, t, r in graph.edges(data="reason")]
    data: dict[str, Any] = {"name": name, "nodes": nodes, "edges": edges}
    import networkx as nx

    if nx.is_directed_acyclic_graph(graph):
        index = {n: i for i, n in enumerate(graph.nodes)}
        data["order"] = list(nx.lexicographical_topological_sort(graph, key=index.__getitem__))
    data["output_refs"] = sorted(output_refs)
    return data


def to_json(obj: Any) -> str:
    return json.dumps(to_dict(obj), indent=2, default=str) + "\n"


RENDERERS = {"mermaid": to_mermaid, "dot": to_dot, "json": to_json}
