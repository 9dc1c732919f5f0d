"""Dialect-neutral view of one model request and of the fake's reply to it.

Each dialect module parses its wire format into a `Conversation` and renders a `Reply`
back; the script engine only ever sees these types, so a rule written once drives all
four dialects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolSpec:
    name: str
    schema: dict[str, Any] = field(default_factory=dict)
    # Codex advertises MCP tools inside a Responses `namespace` tool; the call must name it.
    namespace: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass
class ToolResult:
    call_id: str | None
    name: str | None
    output: str


@dataclass
class Conversation:
    dialect: str
    model: str = ""
    stream: bool = True
    system: str = ""
    # The latest human turn (tool results are not human turns).
    user_text: str | None = None
    # Set when the request ends with the result of a tool call the fake made.
    tool_result: ToolResult | None = None
    # True when human text follows the tool result in the same message (Claude Code folds
    # a new prompt into it): a new turn, unless the result answers a call still pending.
    fresh_text: bool = False
    tools: list[ToolSpec] = field(default_factory=list)
    # JSON schema of a structured-output side request (title generator, Gemini router).
    structured_schema: dict[str, Any] | None = None

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)


@dataclass
class Text:
    text: str


@dataclass
class ToolCall:
    name: str
    args: dict[str, Any]
    call_id: str
    namespace: str | None = None


@dataclass
class Json:
    value: Any


Reply = Text | ToolCall | Json


def fill_schema(schema: dict[str, Any] | None, hint: str = "fake") -> Any:
    """A value satisfying `schema`, for structured side requests.

    Types are compared case-insensitively because Gemini's schema dialect spells them in
    upper case (STRING, INTEGER). Numbers take the minimum (Gemini's router rejects 0).
    """
    if not isinstance(schema, dict):
        return hint
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return fill_schema(schema[key][0], hint)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "string")
    kind = str(kind or ("object" if "properties" in schema else "string")).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: fill_schema(sub, name) for name, sub in props.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        value = schema.get("minimum", 1)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return hint
