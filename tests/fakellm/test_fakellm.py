"""The fake model server, checked over real HTTP in each dialect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakellm import FakeLLM

ROOT = Path(__file__).resolve().parents[2]
MULTI = "first line\n\n  indented second\nthird: \"quoted\" ✓"
LONG = "\n".join(f"{i:04d} " + "lorem ipsum " * 12 for i in range(200))
BASH_SCHEMA = {"type": "object", "properties": {"command": {"type": "string"},
                                                "timeout": {"type": "number"}},
               "required": ["command"]}
ECHO_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


@pytest.fixture
def fake(tmp_path):
    with FakeLLM(log_path=tmp_path / "requests.jsonl") as server:
        yield server


def sse_events(text: str) -> list[tuple[str | None, object]]:
    events = []
    for block in text.strip().split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                raw = line[6:]
                data = raw if raw == "[DONE]" else json.loads(raw)
        events.append((name, data))
    return events


# -- Anthropic Messages ---------------------------------------------------------------
def anthropic(fake, messages, tools=None, stream=True, **extra):
    body = {"model": "claude-x", "max_tokens": 100, "stream": stream, "messages": messages,
            "tools": tools or [], **extra}
    return httpx.post(f"{fake.url}/v1/messages?beta=true", json=body,
                      headers={"x-api-key": "sk-secret", "anthropic-version": "2023-06-01"})


def anthropic_text(resp) -> str:
    return "".join(d["delta"]["text"] for n, d in sse_events(resp.text)
                   if n == "content_block_delta" and d["delta"]["type"] == "text_delta")


def test_anthropic_stream_has_event_lines_and_exact_text(fake):
    fake.set_script([{"match": "hello", "reply": {"say": LONG}}])
    user = {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                                        {"type": "text", "text": "hello"}]}
    # Claude Code 2.1 may end the list with a system message after the user turn.
    resp = anthropic(fake, [user, {"role": "system", "content": "late system note"}])
    events = sse_events(resp.text)
    assert resp.headers["content-type"] == "text/event-stream"
    assert [n for n, _ in events][:2] == ["message_start", "content_block_start"]
    assert events[-1][0] == "message_stop"
    assert all(n == d["type"] for n, d in events)
    assert anthropic_text(resp) == LONG


def test_anthropic_non_stream_fallback(fake):
    resp = anthropic(fake, [{"role": "user", "content": f"SAY<<{MULTI}>>"}], stream=False)
    body = resp.json()
    assert body["type"] == "message" and body["content"] == [{"type": "text", "text": MULTI}]


def test_anthropic_shell_tool_call_then_tool_result(fake):
    tools = [{"name": "Bash", "input_schema": BASH_SCHEMA}]
    resp = anthropic(fake, [{"role": "user", "content": "SHELL<<echo hi>>"}], tools)
    events = sse_events(resp.text)
    start = next(d for n, d in events if n == "content_block_start")["content_block"]
    delta = next(d for n, d in events if n == "content_block_delta")["delta"]
    assert start["type"] == "tool_use" and start["name"] == "Bash"
    assert json.loads(delta["partial_json"]) == {"command": "echo hi"}
    assert next(d for n, d in events if n == "message_delta")["delta"]["stop_reason"] == "tool_use"
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": start["id"],
                                           "content": "(Bash completed with no output)"}]}
    resp = anthropic(fake, [{"role": "user", "content": "SHELL<<echo hi>>"},
                            {"role": "assistant", "content": [start]}, result], tools)
    assert anthropic_text(resp) == "TOOL-DONE: (Bash completed with no output)"


def test_anthropic_mcp_tool_by_name_with_arguments_and_then(fake):
    fake.set_script([{"match": "delegate", "reply": {
        "mcp": "send_message", "server": "cao-mcp-server",
        "args": {"receiver_id": "abc123", "message": "done"}, "then": "sent: {result}"}}])
    tools = [{"name": "SendMessage", "input_schema": ECHO_SCHEMA},  # Claude's own, not MCP
             {"name": "mcp__other__send_message", "input_schema": {}},
             {"name": "mcp__cao-mcp-server__send_message", "input_schema": {}}]
    resp = anthropic(fake, [{"role": "user", "content": "delegate"}], tools)
    start = next(d for n, d in sse_events(resp.text) if n == "content_block_start")
    assert start["content_block"]["name"] == "mcp__cao-mcp-server__send_message"
    args = json.loads(next(d for n, d in sse_events(resp.text)
                           if n == "content_block_delta")["delta"]["partial_json"])
    assert args == {"receiver_id": "abc123", "message": "done"}
    result = {"role": "user", "content": [{"type": "tool_result", "content": "ok",
                                           "tool_use_id": start["content_block"]["id"]}]}
    resp = anthropic(fake, [{"role": "user", "content": "delegate"}, result], tools)
    assert anthropic_text(resp) == "sent: ok"


def test_anthropic_waits_for_mcp_servers_when_tools_are_not_there_yet(fake):
    tools = [{"name": "WaitForMcpServers", "input_schema": {"type": "object", "properties": {}}}]
    resp = anthropic(fake, [{"role": "user", "content": "MCP<<x>>"}], tools)
    start = next(d for n, d in sse_events(resp.text) if n == "content_block_start")
    assert start["content_block"]["name"] == "WaitForMcpServers"
    tools.append({"name": "mcp__lab__echo_tool", "input_schema": ECHO_SCHEMA})
    result = {"role": "user", "content": [{"type": "tool_result", "content": "connected",
                                           "tool_use_id": start["content_block"]["id"]}]}
    resp = anthropic(fake, [{"role": "user", "content": "MCP<<x>>"}, result], tools)
    start = next(d for n, d in sse_events(resp.text) if n == "content_block_start")
    assert start["content_block"]["name"] == "mcp__lab__echo_tool"


def test_anthropic_title_side_request_gets_schema_json(fake):
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    resp = anthropic(fake, [{"role": "user", "content": "SLOW SAY<<x>>"}],
                     output_config={"format": {"type": "json_schema", "schema": schema}})
    assert json.loads(anthropic_text(resp)) == {"title": "title"}
    assert fake.requests[-1]["decision"] == "side:json"


# -- OpenAI Responses -----------------------------------------------------------------
def responses(fake, items, tools=None):
    body = {"model": "fake-model", "stream": True, "input": items, "tools": tools or []}
    return httpx.post(f"{fake.url}/v1/responses", json=body,
                      headers={"authorization": "Bearer sk-secret"})


def user_item(text):
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_responses_are_data_only_sse(fake):
    resp = responses(fake, [user_item("<environment_context>cwd</environment_context>"),
                            user_item(f"SAY<<{MULTI}>>")])
    events = sse_events(resp.text)
    assert all(name is None for name, _ in events)
    done = next(d for _, d in events if d["type"] == "response.output_item.done")["item"]
    assert done["content"][0]["text"] == MULTI
    assert events[-1][1]["type"] == "response.completed"


def test_responses_mcp_call_carries_namespace(fake):
    tools = [{"type": "function", "name": "exec_command", "parameters": {}},
             {"type": "namespace", "name": "mcp__cao_mcp_server",
              "tools": [{"type": "function", "name": "handoff", "parameters": {}}]}]
    fake.set_script([{"reply": {"mcp": "handoff", "server": "cao-mcp-server",
                                "args": {"agent_profile": "dev", "message": "go"}}}])
    resp = responses(fake, [user_item("anything")], tools)
    item = next(d for _, d in sse_events(resp.text)
                if d["type"] == "response.output_item.done")["item"]
    assert item["type"] == "function_call" and item["namespace"] == "mcp__cao_mcp_server"
    assert item["name"] == "handoff"
    assert json.loads(item["arguments"]) == {"agent_profile": "dev", "message": "go"}
    follow = responses(fake, [user_item("anything"), item,
                              {"type": "function_call_output", "call_id": item["call_id"],
                               "output": "Output:\nhanded off"}], tools)
    text = next(d for _, d in sse_events(follow.text)
                if d["type"] == "response.output_item.done")["item"]["content"][0]["text"]
    assert text == "TOOL-DONE: Output:\nhanded off"


def test_responses_shell_args_follow_the_schema(fake):
    schema = {"type": "object", "properties": {"cmd": {"type": "string"},
                                               "workdir": {"type": "string"}}, "required": ["cmd"]}
    fake.set_script([{"reply": {"shell": "ls", "args": {"sandbox_permissions": "require_escalated"}}}])
    resp = responses(fake, [user_item("x")], [{"type": "function", "name": "exec_command",
                                               "parameters": schema}])
    item = next(d for _, d in sse_events(resp.text)
                if d["type"] == "response.output_item.done")["item"]
    assert json.loads(item["arguments"]) == {"cmd": "ls", "sandbox_permissions": "require_escalated"}


# -- OpenAI Chat Completions ----------------------------------------------------------
def chat(fake, messages, tools=None, **extra):
    body = {"model": "fake-model", "stream": True, "messages": messages,
            "tools": [{"type": "function", "function": t} for t in tools or []], **extra}
    return httpx.post(f"{fake.url}/v1/chat/completions", json=body,
                      headers={"authorization": "Bearer sk-secret"})


def chat_chunks(resp):
    events = sse_events(resp.text)
    assert events[-1][1] == "[DONE]"
    return [d for _, d in events[:-1]]


def test_chat_stream_text_and_usage(fake):
    resp = chat(fake, [{"role": "system", "content": "You are opencode"},
                       {"role": "user", "content": [{"type": "text", "text": f"SAY<<{LONG}>>"}]}],
                stream_options={"include_usage": True})
    chunks = chat_chunks(resp)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == LONG
    assert chunks[-1]["usage"]["total_tokens"] == 2


def test_chat_qwen_deferred_mcp_tool_goes_through_tool_search(fake):
    fake.set_script([{"reply": {"mcp": "send_message", "args": {"receiver_id": "r1", "message": "m"}}}])
    search = {"name": "tool_search", "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}}, "required": ["query"]}}
    builtin = {"name": "send_message", "parameters": {}}  # Qwen's own, must not be used
    messages = [{"role": "user", "content": "report back"}]
    call = chat_chunks(chat(fake, messages, [search, builtin]))[0]["choices"][0]["delta"]["tool_calls"][0]
    assert call["function"]["name"] == "tool_search"
    assert json.loads(call["function"]["arguments"]) == {"query": "send_message"}
    messages += [{"role": "assistant", "tool_calls": [call]},
                 {"role": "tool", "tool_call_id": call["id"], "content": "Loaded 1 tool(s)"}]
    mcp = {"name": "mcp__cao-mcp-server__send_message", "parameters": {}}
    second = chat_chunks(chat(fake, messages, [search, builtin, mcp]))
    call = second[0]["choices"][0]["delta"]["tool_calls"][0]
    assert call["function"]["name"] == "mcp__cao-mcp-server__send_message"
    assert json.loads(call["function"]["arguments"]) == {"receiver_id": "r1", "message": "m"}
    assert second[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_chat_title_generator_is_a_side_request(fake):
    fake.set_script([{"reply": {"say": "scripted", "delay": 5}}])
    started = time.monotonic()
    resp = chat(fake, [{"role": "system", "content": "You are a title generator."},
                       {"role": "user", "content": "SHELL<<rm -rf />>"}],
                [{"name": "bash", "parameters": BASH_SCHEMA}])
    assert time.monotonic() - started < 2
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chat_chunks(resp))
    assert text == "Fake session"


# -- Gemini ---------------------------------------------------------------------------
def test_gemini_stream_text_and_function_call(fake):
    url = f"{fake.url}/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse"
    body = {"contents": [{"role": "user", "parts": [{"text": "<session_context>ctx</session_context>"}]},
                         {"role": "user", "parts": [{"text": f"SAY<<{MULTI}>>"}]}]}
    resp = httpx.post(url, json=body, headers={"x-goog-api-key": "secret"})
    events = sse_events(resp.text)
    text = "".join(p["text"] for _, d in events for p in d["candidates"][0]["content"]["parts"])
    assert text == MULTI and events[-1][1]["candidates"][0]["finishReason"] == "STOP"
    body = {"contents": [{"role": "user", "parts": [{"text": "SHELL<<echo g>>"}]}],
            "tools": [{"functionDeclarations": [{"name": "run_shell_command",
                                                 "parametersJsonSchema": BASH_SCHEMA}]}]}
    part = sse_events(httpx.post(url, json=body).text)[0][1]["candidates"][0]["content"]["parts"][0]
    assert part == {"functionCall": {"name": "run_shell_command", "args": {"command": "echo g"}}}
    body["contents"] += [{"role": "model", "parts": [part]},
                         {"role": "user", "parts": [{"functionResponse": {
                             "id": "x1", "name": "run_shell_command",
                             "response": {"output": "Output: (empty)"}}}]}]
    parts = sse_events(httpx.post(url, json=body).text)[-1][1]["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "TOOL-DONE: Output: (empty)"}]


def test_gemini_router_gets_schema_with_minimum(fake):
    url = f"{fake.url}/v1beta/models/gemini-3.5-flash-lite:generateContent"
    schema = {"type": "OBJECT", "properties": {
        "complexity_reasoning": {"type": "STRING"},
        "complexity_score": {"type": "INTEGER", "minimum": 1, "maximum": 100}}}
    body = {"contents": [{"role": "user", "parts": [{"text": "SAY<<x>>"}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseSchema": schema}}
    resp = httpx.post(url, json=body)
    value = json.loads(resp.json()["candidates"][0]["content"]["parts"][0]["text"])
    assert value == {"complexity_reasoning": "complexity_reasoning", "complexity_score": 1}


# -- control, logging, process ---------------------------------------------------------
def test_log_redacts_secrets(fake, tmp_path):
    anthropic(fake, [{"role": "user", "content": "SAY<<x>>"}])
    httpx.post(f"{fake.url}/v1beta/models/m:generateContent?key=abc",
               json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    text = (tmp_path / "requests.jsonl").read_text()
    assert "sk-secret" not in text and "abc" not in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert entries[0]["headers"]["x-api-key"] == "<redacted>"
    assert entries[0]["decision"] == "say" and entries[1]["query"]["key"] == "<redacted>"


def test_slow_answers_wait(fake):
    started = time.monotonic()
    fake.set_script([{"reply": {"say": "late", "delay": 1.0}}])
    anthropic(fake, [{"role": "user", "content": "x"}])
    assert time.monotonic() - started >= 1.0


def test_rules_fire_a_limited_number_of_times(fake):
    fake.set_script([{"match": "q", "reply": {"say": "first"}, "times": 1},
                     {"match": "q", "reply": {"say": "later"}}])
    texts = [anthropic_text(anthropic(fake, [{"role": "user", "content": "q"}])) for _ in range(3)]
    assert texts == ["first", "later", "later"]


def test_subprocess_with_http_script_endpoint(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakellm", "--port", "0",
                             "--log", str(tmp_path / "log.jsonl")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("FAKELLM_URL=")
        url = line.split("=", 1)[1]
        assert httpx.post(f"{url}/_script", json={"rules": [
            {"match": "ping", "reply": {"say": "pong"}}]}).json() == {"rules": 1}
        resp = httpx.post(f"{url}/v1/chat/completions", json={
            "stream": False, "messages": [{"role": "user", "content": "ping"}]})
        assert resp.json()["choices"][0]["message"]["content"] == "pong"
        assert httpx.get(f"{url}/_log").json()[0]["decision"] == "say"
        httpx.post(f"{url}/_reset")
        assert httpx.get(f"{url}/_log").json() == []
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_anthropic_prompt_folded_into_the_tool_result_message_is_a_new_turn(fake):
    """Seen live: Claude Code sends the next prompt in the same user message as the
    previous tool result."""
    fake.set_script([{"match": "second", "reply": {"say": "fresh answer"}}])
    messages = [{"role": "user", "content": "first"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"},
                                             {"type": "text", "text": "second"}]}]
    assert anthropic_text(anthropic(fake, messages)) == "fresh answer"
