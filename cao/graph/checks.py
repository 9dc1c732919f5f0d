"""Static checks of a compiled workflow. Each pass is linear in nodes + edges."""

from __future__ import annotations

import re
from typing import Any

from cao.graph.compile import CompiledWorkflow
from cao.graph.templates import EMPTY, TemplateInfo, analyze_expression, analyze_template
from cao.spec.diagnostics import did_you_mean
from cao.spec.source import RawDocument
from cao.spec.workflow import Node

TEMPLATE_GLOBALS = {"inputs", "nodes", "run", "range", "dict", "lipsum", "cycler", "joiner",
                    "namespace"}
LOOP_NAMES = {"item", "loop"}
NEEDS_TERMINAL = ("handoff", "assign")


class Checker:
    def __init__(self, compiled: CompiledWorkflow, catalog) -> None:
        self.c = compiled
        self.wf = compiled.workflow
        self.catalog = catalog
        self.raw: RawDocument = self.wf._raw or RawDocument(compiled.path, "")
        self.node_ids = self.wf.nodes   # dict: O(1) membership
        self.edges = compiled.edges   # (source, target) -> reason; the first reason wins

    # -- reporting -------------------------------------------------------------------
    def error(self, path: tuple, message: str, **kw: Any) -> None:
        self.c.diagnostics.append(self.raw.diag(path, message, **kw))

    def warn(self, path: tuple, message: str, **kw: Any) -> None:
        self.c.diagnostics.append(self.raw.diag(path, message, severity="warning", **kw))

    def _unknown_node_hint(self, name: str) -> str:
        guess = did_you_mean(name, self.node_ids)
        return f"did you mean '{guess}'?" if guess else "node ids are the keys under 'nodes:'"

    # -- edges ----------------------------------------------------------------------
    def add_edge(self, src: str, dst: str, reason: str) -> None:
        self.edges.setdefault((src, dst), reason)

    def check_structure(self) -> None:
        for node_id, node in self.wf.nodes.items():
            needs = node.needs
            for i, dep in enumerate(node.needs_list):
                path = ("nodes", node_id, "needs") + ((i,) if isinstance(needs, list) else ())
                if dep in self.node_ids:
                    self.add_edge(dep, node_id, "needs")
                else:
                    self.error(path, f"unknown node '{dep}'", hint=self._unknown_node_hint(dep),
                               code="unknown-node")
            if node.kind == "send_message":
                self._check_send_message(node_id, node)
            if node.max_parallel is not None and node.for_each is None:
                self.warn(("nodes", node_id, "max_parallel"),
                          "max_parallel has no effect without for_each", code="unused-key")

    def _check_send_message(self, node_id: str, node: Node) -> None:
        target = node.send_message
        path = ("nodes", node_id, "send_message")
        if target not in self.node_ids:
            self.error(path, f"unknown node '{target}'", hint=self._unknown_node_hint(target),
                       code="unknown-node")
            return
        target_kind = self.wf.nodes[target].kind
        if target_kind not in NEEDS_TERMINAL:
            self.error(path, f"node '{target}' is a send_message node and creates no terminal",
                       hint="send the message to the handoff or assign node whose agent "
                            "should receive it", code="no-terminal")
            return
        self.add_edge(target, node_id, "send_message")

    # -- templates -------------------------------------------------------------------
    def template_sources(self, node_id: str, node: Node):
        """(field, text, kind) for each template of a node."""
        text = node.prompt_template
        if text is not None:
            yield "prompt", text, "template"
        if node.when is not None and not isinstance(node.when, bool):
            yield "when", str(node.when), "expression"
        if isinstance(node.for_each, str):
            yield "for_each", node.for_each, "expression"
        if node.working_directory:
            yield "working_directory", node.working_directory, "template"

    def _template_line(self, path: tuple) -> int | None:
        """File line where the template at path starts (computed only for diagnostics)."""
        if len(path) == 3 and path[2] == "prompt":
            line = self.wf.nodes[path[1]].prompt_line
            if line is not None:
                return line
        return self._value_line(path)

    def _value_line(self, path: tuple) -> int | None:
        pos = self.raw.positions.exact(path)
        if pos is None:
            return None
        return pos.value_line + (1 if pos.block else 0)

    def check_templates(self) -> None:
        inputs = self.wf.inputs
        sections = self.raw.sections() if self.wf._raw is not None else {}
        for node_id, node in self.wf.nodes.items():
            text = node.prompt_template
            if not (text or "").strip():
                self.error(("nodes", node_id), "no prompt",
                           hint=f"add 'prompt:' (a template or the name of a '## section' of "
                                f"the body), or a '## {node_id}' section", code="no-prompt")
            elif sections and node.prompt_section is None and len(text.split()) == 1 \
                    and "{" not in text:
                guess = did_you_mean(text.strip(), sections)
                self.warn(("nodes", node_id, "prompt"),
                          f"prompt '{text.strip()}' is not a section of the body, so it is "
                          "sent as literal text", code="prompt-not-section",
                          hint=(f"did you mean '{guess}'? " if guess else "")
                          + "section titles: " + ", ".join(sections))
            for fld, text, kind in self.template_sources(node_id, node):
                info = analyze_expression(text) if kind == "expression" else analyze_template(text)
                if info is EMPTY:
                    continue
                self._check_info(("nodes", node_id, fld), info, text, inputs,
                                 node_id=node_id, loop_ok=node.for_each is not None
                                 and fld in ("prompt", "working_directory"))
        if self.wf.output is not None:
            info = analyze_template(self.wf.output)
            self._check_info(("output",), info, self.wf.output, inputs, node_id=None,
                             loop_ok=False)
            self.c.output_refs = {r for r in info.nodes if r in self.node_ids}

    def _check_info(self, path: tuple, info: TemplateInfo, text: str, inputs, *,
                    node_id: str | None, loop_ok: bool) -> None:
        if not (info.error or info.nodes or info.inputs or info.names - TEMPLATE_GLOBALS):
            return
        def where() -> str:
            return self._section_note(path)

        if info.error:
            self.error(path, f"template syntax error{where()}: {info.error}",
                       code="template-syntax", **self._at(path, info.error_line))
            return
        for ref in info.nodes:
            if ref in self.node_ids and ref != node_id:
                if node_id is not None:
                    self.add_edge(ref, node_id, "template")
                continue
            if ref == node_id:
                self.error(path, f"node '{ref}' reads its own output{where()}",
                           hint="a node can only read nodes that run before it",
                           code="self-reference", **self._at(path, _find(text, ref)))
            else:
                self.error(path, f"unknown node '{ref}' in template{where()}",
                           hint=self._unknown_node_hint(ref), code="unknown-node",
                           **self._at(path, _find(text, ref)))
        for name in info.inputs:
            if name not in inputs:
                guess = did_you_mean(name, inputs)
                declared = ", ".join(inputs) or "none"
                self.error(path, f"undefined input '{name}'{where()}",
                           hint=(f"did you mean '{guess}'? " if guess else "")
                           + f"declare it under 'inputs:' (declared: {declared})",
                           code="undefined-input",
                           **self._at(path, _find(text, name, base="inputs")))
        for name in sorted(info.names - TEMPLATE_GLOBALS):
            if name in LOOP_NAMES:
                if not loop_ok:
                    self.error(path, f"'{name}' is only defined in the prompt of a for_each "
                                     f"node{where()}", code="undefined-variable",
                               hint="add for_each to this node, or remove the reference")
            else:
                self.error(path, f"unknown template variable '{name}'{where()}",
                           hint="templates can read inputs, nodes, run, and item/loop "
                                "inside for_each", code="undefined-variable")

    def _section_note(self, path: tuple) -> str:
        if len(path) == 3 and path[2] == "prompt":
            section = self.wf.nodes[path[1]].prompt_section
            if section:
                return f" (in section '## {section}')"
        return ""

    def _at(self, path: tuple, offset_line: int | None) -> dict:
        """Diagnostic position for a line inside the template at path."""
        first_line = self._template_line(path) if offset_line is not None else None
        if first_line is None or offset_line is None:
            return {}
        return {"at_line": first_line + offset_line - 1}

    # -- profiles and providers -------------------------------------------------------
    def check_profiles(self) -> None:
        from cao.providers.registry import is_known, provider_names

        def check_provider(path: tuple, name: str | None, what: str = "provider") -> None:
            if name is not None and not is_known(name):
                guess = did_you_mean(name, provider_names())
                self.error(path, f"unknown {what} '{name}'",
                           hint=(f"did you mean '{guess}'? " if guess else "")
                           + f"known providers: {', '.join(provider_names())}",
                           code="unknown-provider")

        check_provider(("defaults", "provider"), self.wf.defaults.provider)
        seen: dict[str, Any] = {}
        for node_id, node in self.wf.nodes.items():
            check_provider(("nodes", node_id, "provider"), node.provider)
            if node.kind not in NEEDS_TERMINAL or self.catalog is None:
                continue
            name = node.target
            path = ("nodes", node_id, node.kind)
            if name not in seen:
                seen[name] = self.catalog.find(name)
            profile = seen[name]
            if profile is None:
                guess = did_you_mean(name, self.catalog.names())
                places = "built-in profiles, profiles/ beside the workflow, --profiles DIR, " \
                         "and the installed store (cao install)"
                self.error(path, f"unknown profile '{name}'",
                           hint=(f"did you mean '{guess}'? " if guess else "")
                           + f"profiles are looked up in {places}", code="unknown-profile")
            elif node.provider is None and self.wf.defaults.provider is None:
                check_provider(path, profile.provider, f"provider (from profile '{name}')")
        allowed = self.wf.limits.allowed_profiles or []
        for i, name in enumerate(allowed):
            if self.catalog is not None and self.catalog.find(name) is None:
                self.warn(("limits", "allowed_profiles", i), f"unknown profile '{name}'",
                          code="unknown-profile")

    # -- graph-wide -----------------------------------------------------------------
    def check_cycles(self) -> None:
        from cao.graph.dag import find_cycles

        for cycle in find_cycles(self.wf.nodes, self.edges):
            closing = (cycle[-1], cycle[0])
            reason = self.edges[closing]
            fld = {"needs": "needs", "send_message": "send_message"}.get(reason, "prompt")
            self.error(("nodes", cycle[0], fld), "cycle: " + " -> ".join(cycle + cycle[:1]),
                       hint="a workflow must be acyclic; remove one of these dependencies "
                            "(needs, template references or send_message targets)",
                       code="cycle")

    def check_unawaited(self) -> None:
        awaited = {src for src, _ in self.edges} | self.c.output_refs
        for node_id, node in self.wf.nodes.items():
            if node.kind == "assign" and node_id not in awaited:
                self.warn(("nodes", node_id, "assign"),
                          f"nobody waits for the result of assign node '{node_id}'",
                          hint=f"add '{node_id}' to a later node's needs or read "
                               f"nodes.{node_id}.output in a template or the output; "
                               "otherwise its report is never used", code="unawaited-assign")


def _find(text: str, name: str, base: str = "nodes") -> int | None:
    """1-based line of the first `base.name` / `base['name']` in text."""
    pattern = re.compile(rf"{base}\s*(?:\.\s*{re.escape(name)}\b|\[\s*['\"]{re.escape(name)}['\"])")
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def run_checks(compiled: CompiledWorkflow, catalog) -> None:
    checker = Checker(compiled, catalog)
    checker.check_structure()
    checker.check_templates()
    checker.check_profiles()
    checker.check_cycles()
    checker.check_unawaited()
