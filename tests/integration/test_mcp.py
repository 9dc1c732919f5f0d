"""cao-mcp-server through a real MCP stdio session, against a real server and tmux."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from tests.conftest import wait_until, write_profile


def launch(api, profile, **extra):
    return api.post("/sessions", {"profile": profile, **extra})["terminal"]


async def call(env: dict, terminal_id: str | None, tool: str, args: dict):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    mcp_env = {k: str(v) for k, v in env.items() if k.startswith("CAO_")}
    if terminal_id is not None:
        mcp_env["CAO_TERMINAL_ID"] = terminal_id
    mcp_env["PYTHONPATH"] = env["PYTHONPATH"]
    params = StdioServerParameters(command=sys.executable, args=["-m", "cao.mcp.server"], env=mcp_env)
    async with Client(params) as client:
        result = await client.call_tool(tool, args)
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        return bool(result.is_error), text


def run(env, terminal_id, tool, args):
    return asyncio.run(call(env, terminal_id, tool, args))


def test_tools_are_listed_with_schemas(cao_env, server):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    async def listing():
        params = StdioServerParameters(command=sys.executable, args=["-m", "cao.mcp.server"],
                                       env={k: v for k, v in cao_env.items() if k.startswith("CAO_")})
        async with Client(params) as client:
            return {t.name: t for t in (await client.list_tools()).tools}

    tools = asyncio.run(listing())
    assert set(tools) == {"handoff", "assign", "send_message"}
    assert tools["handoff"].input_schema["required"] == ["agent_profile", "message"]
    assert "timeout" in tools["handoff"].input_schema["properties"]
    assert tools["send_message"].input_schema["required"] == ["receiver_id", "message"]


def test_handoff_returns_the_whole_answer_and_closes_the_worker(cao_env, api, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    caller = launch(api, "echoer")
    long_text = "\n".join(f"line {i}: " + "x" * 80 for i in range(400))
    is_error, text = run(cao_env, caller["id"], "handoff",
                         {"agent_profile": "echoer", "message": long_text, "timeout": 30})
    assert not is_error, text
    assert text == long_text
    session = api.get(f"/sessions/{caller['session_name']}")
    worker = [t for t in session["terminals"] if t["parent_terminal_id"] == caller["id"]][0]
    wait_until(lambda: api.get(f"/terminals/{worker['id']}")["status"] == "exited", timeout=10)
    assert worker["provider"] == "python"


def test_assign_returns_at_once_and_worker_reports_back(cao_env, api, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    write_profile(profiles_dir, "slowpoke", "testagents:slow")
    caller = launch(api, "echoer")
    started = time.monotonic()
    is_error, text = run(cao_env, caller["id"], "assign",
                         {"agent_profile": "slowpoke", "message": "1 finished work"})
    assert not is_error, text
    assert "worker terminal" in text
    worker_id = text.split("worker terminal ")[1].split(".")[0]
    # the callback lands in the caller's inbox, from the worker, and is delivered
    msgs = wait_until(lambda: [m for m in api.get(f"/terminals/{caller['id']}/inbox")
                               if m["state"] == "delivered"], timeout=20, message="callback")
    assert msgs[0]["sender_id"] == worker_id
    assert msgs[0]["message"] == "finished work"
    # the worker stays alive for follow-ups
    wait_until(lambda: api.get(f"/terminals/{worker_id}")["status"] == "completed", timeout=5)
    time.sleep(0.3)
    assert api.get(f"/terminals/{worker_id}")["status"] == "completed"


def test_send_message_queues_with_sender_id(cao_env, api, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    a = launch(api, "echoer")
    b = launch(api, "echoer")
    is_error, text = run(cao_env, a["id"], "send_message", {"receiver_id": b["id"], "message": "ping"})
    assert not is_error and "queued" in text
    wait_until(lambda: api.get(f"/terminals/{b['id']}/inbox")[0]["state"] == "delivered", timeout=10)
    wait_until(lambda: api.get(f"/terminals/{b['id']}")["status"] == "completed", timeout=10)
    out = api.get(f"/terminals/{b['id']}/output", params={"mode": "last"})["output"]
    assert out == "ping"  # the python host strips the sender header into ctx.sender_id


@pytest.mark.parametrize("case", ["unknown_profile", "no_receiver", "exited_receiver", "forged_id",
                                  "no_id"])
def test_failures_are_clear_errors(cao_env, api, profiles_dir, case):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    caller = launch(api, "echoer")
    if case == "unknown_profile":
        err, text = run(cao_env, caller["id"], "handoff", {"agent_profile": "nobody", "message": "x"})
        assert err and "unknown agent profile 'nobody'" in text
    elif case == "no_receiver":
        err, text = run(cao_env, caller["id"], "send_message", {"receiver_id": "deadbeef", "message": "x"})
        assert err and "receiver terminal 'deadbeef' does not exist" in text
    elif case == "exited_receiver":
        other = launch(api, "echoer")
        api.delete(f"/terminals/{other['id']}")
        err, text = run(cao_env, caller["id"], "send_message", {"receiver_id": other["id"], "message": "x"})
        assert err and "has exited" in text
    elif case == "forged_id":
        err, text = run(cao_env, "f0rged00", "assign", {"agent_profile": "echoer", "message": "x"})
        assert err and "caller terminal 'f0rged00' is not known" in text
    elif case == "no_id":
        err, text = run(cao_env, None, "assign", {"agent_profile": "echoer", "message": "x"})
        assert err and "needs a caller terminal" in text


def test_handoff_timeout_leaves_worker_alive_and_names_it(cao_env, api, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    write_profile(profiles_dir, "slowpoke", "testagents:slow")
    caller = launch(api, "echoer")
    err, text = run(cao_env, caller["id"], "handoff",
                    {"agent_profile": "slowpoke", "message": "30 never", "timeout": 2})
    assert err and "timed out after 2s" in text
    worker_id = text.split("[worker terminal ")[1].rstrip("]")
    assert api.get(f"/terminals/{worker_id}")["status"] == "processing"


def test_worker_crash_mid_task_is_reported(cao_env, api, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    write_profile(profiles_dir, "crasher", "testagents:crash")
    caller = launch(api, "echoer")
    err, text = run(cao_env, caller["id"], "handoff",
                    {"agent_profile": "crasher", "message": "go", "timeout": 30})
    assert err and "the worker exited" in text


def test_worker_inherits_caller_provider_when_profile_names_none(cao_env, api, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    (profiles_dir / "plain.md").write_text(
        "---\nname: plain\ndescription: no provider\nentrypoint: cao.agents.builtin:echo\n---\nbody\n")
    caller = launch(api, "echoer")
    err, text = run(cao_env, caller["id"], "handoff", {"agent_profile": "plain", "message": "hi"})
    assert not err and text == "hi"


def test_working_directory_needs_opt_in_and_policy(cao_env, api, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    caller = launch(api, "echoer")
    err, text = run(cao_env, caller["id"], "handoff",
                    {"agent_profile": "echoer", "message": "x", "working_directory": str(cao_env["work"])})
    assert err and "CAO_ENABLE_WORKING_DIRECTORY" in text
