"""OpenAI Chat Completions: `POST /v1/chat/completions`, stream chunks then `[DONE]`.

Spoken by opencode and Qwen Code. Qwen defers MCP tools behind `tool_search`; the name
of the tool a result belongs to is recovered from the assistant's `tool_calls`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .model import Conversation, Json, Reply, ToolCall, ToolResult, ToolSpec
from .sse import event, split_text


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content or []
                     if isinstance(p, dict) and p.get("type") == "text")


def parse(body: dict[str, Any]) -> Conversation:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    conv = Conversation(dialect="openai-chat", model=body.get("model", ""),
                        stream=bool(body.get("stream")),
                        system="\n".join(_text(m.get("content")) for m in messages
                                         if m.get("role") in ("system", "developer")))
    conv.tools = [ToolSpec(t["function"]["name"], t["function"].get("parameters") or {})
                  for t in body.get("tools") or [] if "function" in t]
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        conv.structured_schema = (fmt.get("json_schema") or {}).get("schema") or {}
    names = {c.get("id"): (c.get("function") or {}).get("name")
             for m in messages if m.get("role") == "assistant" for c in m.get("tool_calls") or []}
    if messages and messages[-1].get("role") == "tool":
        last = messages[-1]
        conv.tool_result = ToolResult(last.get("tool_call_id"), names.get(last.get("tool_call_id")),
                                      _text(last.get("content")))
    for message in reversed(messages):
        if message.get("role") == "user":
            conv.user_text = _text(message.get("content"))
            break
    return conv


def _tool_call(reply: ToolCall) -> dict[str, Any]:
    return {"index": 0, "id": reply.call_id, "type": "function",
            "function": {"name": reply.name, "arguments": json.dumps(reply.args)}}


def render_json(reply: Reply, model: str) -> dict[str, Any]:
    if isinstance(reply, ToolCall):
        message = {"role": "assistant", "content": None, "tool_calls": [_tool_call(reply)]}
        finish = "tool_calls"
    else:
        text = json.dumps(reply.value) if isinstance(reply, Json) else reply.text
        message, finish = {"role": "assistant", "content": text}, "stop"
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def render_stream(reply: Reply, model: str, include_usage: bool = False) -> Iterator[bytes]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return event(None, {**base, "choices": [{"index": 0, "delta": delta,
                                                 "finish_reason": finish}]})

    if isinstance(reply, ToolCall):
        yield chunk({"role": "assistant", "content": None, "tool_calls": [_tool_call(reply)]})
        finish = "tool_calls"
    else:
        text = json.dumps(reply.value) if isinstance(reply, Json) else reply.text
        yield chunk({"role": "assistant", "content": ""})
        for piece in split_text(text):
            yield chunk({"content": piece})
        finish = "stop"
    yield chunk({}, finish)
    if include_usage:
        yield event(None, {**base, "choices": [],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                     "total_tokens": 2}})
    yield event(None, "[DONE]")
