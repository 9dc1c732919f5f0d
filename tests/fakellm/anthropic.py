"""Anthropic Messages: `POST /v1/messages`, SSE with mandatory `event:` lines.

Claude Code 2.1 may end `messages` with a `role: system` entry after the user turn, so
the latest turn is the last user/assistant message, not `messages[-1]`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .model import Conversation, Json, Reply, ToolCall, ToolResult, ToolSpec
from .sse import event, split_text


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in _blocks(content) if b.get("type") == "text")


def _human_text(block: dict[str, Any]) -> bool:
    return block.get("type") == "text" and not block.get("text", "").startswith("<system-reminder>")


def parse(body: dict[str, Any]) -> Conversation:
    system = body.get("system") or ""
    if isinstance(system, list):
        system = "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    conv = Conversation(dialect="anthropic", model=body.get("model", ""),
                        stream=bool(body.get("stream")), system=system)
    conv.tools = [ToolSpec(t["name"], t.get("input_schema") or {})
                  for t in body.get("tools") or [] if "name" in t]
    fmt = (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        conv.structured_schema = fmt.get("schema") or {}
    turns = [m for m in body.get("messages") or [] if m.get("role") in ("user", "assistant")]
    if turns and turns[-1]["role"] == "user":
        blocks = _blocks(turns[-1].get("content"))
        kinds = ["result" if b.get("type") == "tool_result" else
                 "text" if _human_text(b) else "" for b in blocks]
        # Claude Code merges consecutive messages: the user message may carry old tool
        # results, a new prompt and the result of the latest call, in any order. The
        # result that matters answers the last tool_use of the assistant message before.
        if "result" in kinds:
            results = [b for b in blocks if b.get("type") == "tool_result"]
            last_use = _last_tool_use(turns)
            r = next((b for b in results if b.get("tool_use_id") == last_use), results[-1])
            conv.tool_result = ToolResult(r.get("tool_use_id"), None, _result_text(r.get("content")))
            conv.fresh_text = "text" in kinds[len(kinds) - kinds[::-1].index("result"):]
    for message in reversed(turns):
        if message["role"] != "user":
            continue
        texts = [b.get("text", "") for b in _blocks(message.get("content")) if _human_text(b)]
        if texts:
            # The last block: merged history can hold earlier prompts before it.
            conv.user_text = texts[-1]
            break
    return conv


def _last_tool_use(turns: list[dict[str, Any]]) -> str | None:
    for message in reversed(turns[:-1]):
        if message["role"] == "assistant":
            uses = [b.get("id") for b in _blocks(message.get("content")) if b.get("type") == "tool_use"]
            return uses[-1] if uses else None
    return None


def _content(reply: Reply) -> list[dict[str, Any]]:
    if isinstance(reply, ToolCall):
        return [{"type": "tool_use", "id": reply.call_id, "name": reply.name, "input": reply.args}]
    text = json.dumps(reply.value) if isinstance(reply, Json) else reply.text
    return [{"type": "text", "text": text}]


def render_json(reply: Reply, model: str) -> dict[str, Any]:
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": _content(reply), "stop_sequence": None,
            "stop_reason": "tool_use" if isinstance(reply, ToolCall) else "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1}}


def render_stream(reply: Reply, model: str) -> Iterator[bytes]:
    message = {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": 1, "output_tokens": 1}}
    yield event("message_start", {"type": "message_start", "message": message})
    if isinstance(reply, ToolCall):
        block = {"type": "tool_use", "id": reply.call_id, "name": reply.name, "input": {}}
        yield event("content_block_start", {"type": "content_block_start", "index": 0,
                                            "content_block": block})
        delta = {"type": "input_json_delta", "partial_json": json.dumps(reply.args)}
        yield event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": delta})
        stop = "tool_use"
    else:
        text = json.dumps(reply.value) if isinstance(reply, Json) else reply.text
        yield event("content_block_start", {"type": "content_block_start", "index": 0,
                                            "content_block": {"type": "text", "text": ""}})
        for piece in split_text(text):
            yield event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                "delta": {"type": "text_delta", "text": piece}})
        stop = "end_turn"
    yield event("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield event("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {"output_tokens": 1}})
    yield event("message_stop", {"type": "message_stop"})
