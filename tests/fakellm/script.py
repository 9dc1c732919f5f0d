"""The fake model's brain: scripted rules plus an in-prompt directive language.

A test either sets rules (`Rule(match=..., reply=...)`) or writes directives straight into
the prompt it sends to the CLI:

    SAY<<text>>            answer `text` (may span lines)
    SHELL<<cmd>>           call the CLI's own shell tool with `cmd`
    MCP<<tool|{json}>>     call the MCP tool whose name ends with `tool`, with those args
    MCP<<text>>            call an `echo_tool` MCP tool with {"text": text}
    SLOW                   wait 3 s before answering (so "processing" is observable)

An action is a dict with one of the keys `say`, `shell`, `mcp` or `tool` (exact tool
name), optional `args`, `server` (MCP server name), `delay` / `chunk_delay` (seconds) and
`then` (the action to take when the tool result comes back; default: answer
"TOOL-DONE: <result>"). Tool calls are made only when the request advertises a matching
tool, so side requests (titles, routers, memory extraction) always get harmless text.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .model import Conversation, Json, Reply, Text, ToolCall, ToolSpec, fill_schema

# Names the CLIs give their built-in shell tool, most specific first.
SHELL_TOOLS = ("Bash", "exec_command", "run_shell_command", "bash", "shell")
# Tools a CLI offers instead of an MCP tool that is not there yet: Qwen Code defers MCP
# tools behind `tool_search`; Claude Code offers `WaitForMcpServers` while they connect.
LOADER_TOOLS = ("tool_search", "WaitForMcpServers")
SIDE_MARKERS = ("title generator", "generate a title", "memory extraction",
                "summarize the conversation", "summarise the conversation")

DIRECTIVE_RE = re.compile(r"(SAY|SHELL|MCP)<<(.*?)>>", re.S)


@dataclass
class Rule:
    reply: dict[str, Any]
    match: str | None = None  # regex searched in the latest human message
    times: int | None = None  # how often it may fire; None = always

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Rule":
        return cls(reply=data["reply"], match=data.get("match"), times=data.get("times"))


@dataclass
class Decision:
    reply: Reply
    delay: float = 0.0
    chunk_delay: float = 0.0
    note: str = ""


@dataclass
class Script:
    rules: list[Rule] = field(default_factory=list)
    # call id -> action that made the call (for `then` and for loader re-tries)
    _pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    _pending_by_name: dict[str, str] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Named groups of matched rules, kept across requests: `{name}` in a reply's strings
    # is replaced by the value (how a worker finds its caller's terminal id in the task).
    memory: dict[str, str] = field(default_factory=dict)

    def set_rules(self, rules: list[Rule | dict[str, Any]]) -> None:
        with self._lock:
            self.rules = [r if isinstance(r, Rule) else Rule.from_dict(r) for r in rules]

    def add_rules(self, rules: list[Rule | dict[str, Any]]) -> None:
        with self._lock:
            self.rules.extend(r if isinstance(r, Rule) else Rule.from_dict(r) for r in rules)

    # -- deciding -------------------------------------------------------------------
    def decide(self, conv: Conversation, *, side: bool) -> Decision:
        with self._lock:
            if conv.structured_schema is not None:
                return Decision(Json(fill_schema(conv.structured_schema)), note="side:json")
            if side:
                return Decision(Text("Fake session"), note="side:text")
            if conv.tool_result is not None and (
                    not conv.fresh_text or conv.tool_result.call_id in self._pending):
                return self._after_tool(conv)
            action = self._action_for(conv.user_text or "")
            return self._perform(conv, action)

    def _action_for(self, text: str) -> dict[str, Any]:
        for rule in self.rules:
            if rule.times is not None and rule.times <= 0:
                continue
            found = re.search(rule.match, text, re.S) if rule.match is not None else None
            if rule.match is None or found:
                if rule.times is not None:
                    rule.times -= 1
                if found:
                    self.memory.update({k: v for k, v in found.groupdict().items() if v is not None})
                return _fill(rule.reply, self.memory)
        return directive_action(text)

    def _after_tool(self, conv: Conversation) -> Decision:
        result = conv.tool_result
        assert result is not None
        call_id = result.call_id if result.call_id in self._pending else None
        if call_id is None and result.name:
            call_id = self._pending_by_name.get(result.name)
        action = self._pending.pop(call_id, None) if call_id else None
        if action is None:
            return Decision(Text(f"TOOL-DONE: {result.output}"), note="tool-result:unknown")
        if action.get("_retry"):  # a loader tool ran: now make the real call
            return self._perform(conv, action["_retry"])
        follow = action.get("then")
        if follow is None:
            return Decision(Text(f"TOOL-DONE: {result.output}"), note="tool-result")
        if isinstance(follow, str):
            follow = {"say": follow}
        return self._perform(conv, _fill(follow, self.memory), tool_output=result.output)

    def _perform(self, conv: Conversation, action: dict[str, Any],
                 tool_output: str | None = None) -> Decision:
        delay = float(action.get("delay", 0))
        chunk_delay = float(action.get("chunk_delay", 0))
        if "say" in action:
            text = str(action["say"])
            if tool_output is not None:
                text = text.replace("{result}", tool_output)
            return Decision(Text(text), delay, chunk_delay, "say")
        spec, args = self._resolve_tool(conv, action)
        if spec is None:
            loader = self._loader(conv, action)
            if loader is not None:
                return Decision(loader, delay, chunk_delay, f"loader:{loader.name}")
            wanted = action.get("shell") or action.get("mcp") or action.get("tool")
            return Decision(Text(f"FAKE: no tool matching {wanted!r} is advertised"),
                            delay, chunk_delay, "no-tool")
        call = ToolCall(spec.name, args, self._new_id(), spec.namespace)
        self._remember(call, action)
        return Decision(call, delay, chunk_delay, f"tool:{spec.full_name}")

    def _resolve_tool(self, conv: Conversation,
                      action: dict[str, Any]) -> tuple[ToolSpec | None, dict[str, Any]]:
        if "shell" in action:
            spec = next((conv.tool(n) for n in SHELL_TOOLS if conv.tool(n)), None)
            args = {**shell_args(spec, str(action["shell"])), **(action.get("args") or {})}
            return spec, args if spec else {}
        if "tool" in action:
            return conv.tool(str(action["tool"])), dict(action.get("args") or {})
        if "mcp" in action:
            spec = find_mcp_tool(conv.tools, str(action["mcp"]), action.get("server"))
            return spec, dict(action.get("args") or {})
        raise ValueError(f"fakellm: action has no say/shell/mcp/tool key: {action!r}")

    def _loader(self, conv: Conversation, action: dict[str, Any]) -> ToolCall | None:
        if "mcp" not in action:
            return None
        for name in LOADER_TOOLS:
            spec = conv.tool(name)
            if spec is None:
                continue
            args = fill_schema(spec.schema) if spec.schema else {}
            if not isinstance(args, dict):
                args = {}
            if name == "tool_search":
                args = {k: (action["mcp"] if isinstance(v, str) else v) for k, v in args.items()}
                args.setdefault("query", action["mcp"])
            call = ToolCall(spec.name, args, self._new_id(), spec.namespace)
            self._remember(call, {"_retry": action})
            return call
        return None

    def _new_id(self) -> str:
        return f"call_fake{next(self._ids):04d}"

    def _remember(self, call: ToolCall, action: dict[str, Any]) -> None:
        self._pending[call.call_id] = action
        self._pending_by_name[call.name] = call.call_id


def _fill(value: Any, memory: dict[str, str]) -> Any:
    """Replace `{name}` in every string of a reply with remembered values."""
    if isinstance(value, str):
        for key, val in memory.items():
            value = value.replace("{" + key + "}", val)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, memory) if k != "then" else v for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, memory) for v in value]
    return value


def directive_action(text: str) -> dict[str, Any]:
    """The action written into a prompt with SAY<<>>, SHELL<<>>, MCP<<>> and SLOW."""
    delay = 3.0 if re.search(r"\bSLOW\b", text) else 0.0
    match = DIRECTIVE_RE.search(text)
    if match is None:
        return {"say": "fake answer", "delay": delay}
    kind, body = match.groups()
    if kind == "SAY":
        return {"say": body, "delay": delay}
    if kind == "SHELL":
        return {"shell": body, "delay": delay}
    name, sep, raw = body.partition("|")
    if sep:
        return {"mcp": name.strip(), "args": json.loads(raw), "delay": delay}
    return {"mcp": "echo_tool", "args": {"text": body}, "delay": delay}


def shell_args(spec: ToolSpec, command: str) -> dict[str, Any]:
    """Arguments for a shell tool built from its advertised schema."""
    schema = spec.schema or {}
    props = schema.get("properties") or {}
    key = next((k for k in ("command", "cmd") if k in props), "command")
    args: dict[str, Any] = {key: command}
    for name in schema.get("required") or []:
        if name not in args:
            args[name] = fill_schema(props.get(name), "run a command")
    return args


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_mcp_tool(tools: list[ToolSpec], bare: str, server: str | None) -> ToolSpec | None:
    """The advertised tool that is MCP tool `bare`, whatever prefix the CLI gave it.

    Claude and Qwen: mcp__server__tool; Gemini: mcp_server_tool; opencode: server_tool;
    Copilot: server-tool;
    Codex: tool `bare` inside namespace mcp__server. A tool named exactly `bare` is a
    built-in (Qwen has its own send_message) and is never taken for the MCP one.
    """
    server_key = _norm(server) if server else None
    candidates = []
    for spec in tools:
        if spec.namespace:
            ok = spec.name == bare and spec.namespace.startswith("mcp")
            owner = spec.namespace
        else:
            ok = spec.name != bare and re.search(r"[-_.]" + re.escape(bare) + "$", spec.name)
            owner = spec.name[: -len(bare)]
        if ok and (server_key is None or server_key in _norm(owner)):
            candidates.append(spec)
    return candidates[0] if candidates else None


def is_side_request(conv: Conversation) -> bool:
    system = conv.system.lower()
    return any(marker in system for marker in SIDE_MARKERS)
