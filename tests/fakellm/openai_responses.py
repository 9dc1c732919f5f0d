"""OpenAI Responses: `POST /v1/responses`, data-only SSE (what Codex speaks).

MCP tools arrive grouped in `{"type": "namespace", "name": "mcp__server", "tools": [...]}`
and a call to one must carry `namespace`; the joined name is rejected by Codex.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .model import Conversation, Json, Reply, Text, ToolCall, ToolResult, ToolSpec
from .sse import event, split_text

# Codex sends its own context as user messages; they are not the human's turn.
CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md",
                    "<permissions instructions>", "<user_shell_command>")


def _text_of(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def _tools(raw: list[dict[str, Any]]) -> list[ToolSpec]:
    tools: list[ToolSpec] = []
    for tool in raw:
        if tool.get("type") == "namespace":
            tools += [ToolSpec(t["name"], t.get("parameters") or {}, tool.get("name"))
                      for t in tool.get("tools") or [] if "name" in t]
        elif "name" in tool:
            tools.append(ToolSpec(tool["name"], tool.get("parameters") or {}))
    return tools


def parse(body: dict[str, Any]) -> Conversation:
    conv = Conversation(dialect="openai-responses", model=body.get("model", ""),
                        stream=bool(body.get("stream")), system=body.get("instructions") or "")
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    items = [i for i in items or [] if isinstance(i, dict)]
    # Newer Codex models get (some) tools as `additional_tools` input items instead.
    extra = [t for i in items if i.get("type") == "additional_tools" for t in i.get("tools") or []]
    conv.tools = _tools((body.get("tools") or []) + extra)
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        conv.structured_schema = fmt.get("schema") or {}
    names = {i.get("call_id"): i.get("name") for i in items if i.get("type") == "function_call"}
    turn_items = [i for i in items if i.get("type") not in ("reasoning", "additional_tools")]
    if turn_items and turn_items[-1].get("type") == "function_call_output":
        last = turn_items[-1]
        output = last.get("output")
        conv.tool_result = ToolResult(last.get("call_id"), names.get(last.get("call_id")),
                                      output if isinstance(output, str) else json.dumps(output))
    for item in reversed(items):
        if item.get("role") == "user" and item.get("type", "message") == "message":
            text = _text_of(item)
            if not text.lstrip().startswith(CONTEXT_PREFIXES):
                conv.user_text = text
                break
    return conv


def _item(reply: Reply) -> dict[str, Any]:
    if isinstance(reply, ToolCall):
        item = {"type": "function_call", "id": "fc_" + reply.call_id, "call_id": reply.call_id,
                "name": reply.name, "arguments": json.dumps(reply.args), "status": "completed"}
        if reply.namespace:
            item["namespace"] = reply.namespace
        return item
    text = json.dumps(reply.value) if isinstance(reply, Json) else reply.text
    return {"type": "message", "role": "assistant", "id": "msg_fake", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


USAGE = {"input_tokens": 1, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 1,
         "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 2}


def render_json(reply: Reply, model: str) -> dict[str, Any]:
    return {"id": "resp_fake", "object": "response", "status": "completed", "model": model,
            "output": [_item(reply)], "usage": USAGE}


def render_stream(reply: Reply, model: str) -> Iterator[bytes]:
    yield event(None, {"type": "response.created",
                       "response": {"id": "resp_fake", "status": "in_progress", "model": model}})
    item = _item(reply)
    if isinstance(reply, Text):
        yield event(None, {"type": "response.output_item.added", "output_index": 0,
                           "item": {**item, "status": "in_progress", "content": []}})
        for piece in split_text(reply.text):
            yield event(None, {"type": "response.output_text.delta", "output_index": 0,
                               "item_id": item["id"], "content_index": 0, "delta": piece})
    yield event(None, {"type": "response.output_item.done", "output_index": 0, "item": item})
    yield event(None, {"type": "response.completed",
                       "response": {"id": "resp_fake", "status": "completed", "model": model,
                                    "output": [item], "usage": USAGE}})
