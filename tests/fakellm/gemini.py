"""Gemini: `models/<m>:streamGenerateContent?alt=sse` and the non-streaming
`models/<m>:generateContent` that Gemini CLI's router and session summary use.

The router asks for JSON (`responseMimeType: application/json`) with a schema that a
strict validator checks, so the fake fills it (numbers at their minimum, not 0).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .model import Conversation, Json, Reply, Text, ToolCall, ToolResult, ToolSpec
from .sse import event, split_text


def _texts(content: dict[str, Any]) -> str:
    return "\n".join(p["text"] for p in content.get("parts") or []
                     if isinstance(p, dict) and "text" in p and not p.get("thought"))


def parse(body: dict[str, Any], model: str, stream: bool) -> Conversation:
    conv = Conversation(dialect="gemini", model=model, stream=stream,
                        system=_texts(body.get("systemInstruction") or {}))
    for group in body.get("tools") or []:
        for decl in group.get("functionDeclarations") or []:
            schema = decl.get("parametersJsonSchema") or decl.get("parameters") or {}
            conv.tools.append(ToolSpec(decl["name"], schema))
    gen = body.get("generationConfig") or {}
    if gen.get("responseMimeType") == "application/json":
        conv.structured_schema = gen.get("responseJsonSchema") or gen.get("responseSchema") or {}
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    if contents:
        responses = [p["functionResponse"] for p in contents[-1].get("parts") or []
                     if isinstance(p, dict) and "functionResponse" in p]
        if responses:
            r = responses[-1]
            response = r.get("response") or {}
            output = response.get("output", response) if isinstance(response, dict) else response
            conv.tool_result = ToolResult(r.get("id"), r.get("name"),
                                          output if isinstance(output, str) else json.dumps(output))
    for content in reversed(contents):
        if content.get("role", "user") == "user":
            text = _texts(content)
            if text:
                conv.user_text = text
                break
    return conv


def _candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return cand


USAGE = {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}


def _parts(reply: Reply) -> list[dict[str, Any]]:
    if isinstance(reply, ToolCall):
        return [{"functionCall": {"name": reply.name, "args": reply.args}}]
    text = json.dumps(reply.value) if isinstance(reply, Json) else reply.text
    return [{"text": text}]


def render_json(reply: Reply, model: str) -> dict[str, Any]:
    return {"candidates": [_candidate(_parts(reply), "STOP")], "usageMetadata": USAGE,
            "modelVersion": model}


def render_stream(reply: Reply, model: str) -> Iterator[bytes]:
    if isinstance(reply, Text):
        pieces = split_text(reply.text)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            payload = {"candidates": [_candidate([{"text": piece}], "STOP" if last else None)],
                       "modelVersion": model}
            if last:
                payload["usageMetadata"] = USAGE
            yield event(None, payload)
        return
    yield event(None, render_json(reply, model))
