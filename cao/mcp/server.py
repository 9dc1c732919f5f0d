"""`cao-mcp-server`: handoff, assign and send_message as MCP tools over stdio.

Each agent CLI starts its own copy with CAO_TERMINAL_ID (who is calling) and
CAO_SERVER_URL (where the cao-server listens) in its environment. The tools are thin:
they forward to the cao-server's REST API, which does the work and records each call
in the caller's run graph.

Timeouts: a handoff waits as long as the server does, plus a margin, so the MCP call
never gives up first and the server never reports failure for work that succeeded. The
wait is a series of long polls by handoff id, so it survives a restart of the server.
"""

from __future__ import annotations

import contextlib
import os
from typing import Annotated, Any

import httpx
from pydantic import Field

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

DEFAULT_HANDOFF_TIMEOUT = 600.0

INSTRUCTIONS = """\
Tools to delegate work to other agents managed by cao (CLI Agent Orchestrator).
- handoff: give a task to a new worker agent and WAIT for its final answer.
- assign: start a worker agent on a task in the background; it reports back to you later
  with send_message, and its result arrives in your input as a new message.
- send_message: send a message to another agent's terminal by its terminal id.
Agent profiles are names such as developer, reviewer, data_analyst."""

# Shared by handoff and assign: the same parameter, described once.
WorkingDirectory = Annotated[str | None, Field(
    description="Directory the worker runs in (honoured only when the server allows it)")]

server = MCPServer("cao-mcp-server", instructions=INSTRUCTIONS, log_level="WARNING")


def _terminal_id() -> str | None:
    return os.environ.get("CAO_TERMINAL_ID") or None


def _base_url() -> str:
    from cao import config

    return config.server_url()


@contextlib.asynccontextmanager
async def _as_tool_errors(timeout: float):
    """The client's errors, as tool errors the calling agent can read."""
    from cao.client import ApiError, ServerUnavailable

    try:
        yield
    except ServerUnavailable as exc:
        raise ToolError(str(exc)) from None
    except ApiError as exc:
        raise ToolError(exc.detail) from None
    except httpx.TimeoutException:
        raise ToolError(f"cao-server did not answer within {timeout:.0f}s") from None


async def _post(path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    from cao.client import post_when_up

    async with _as_tool_errors(timeout):
        async with httpx.AsyncClient(base_url=_base_url(), trust_env=False) as http:
            return await post_when_up(http, path, body, timeout=timeout)


@server.tool(description=(
    "Delegate a task to a NEW worker agent and wait until it has finished; returns the "
    "worker's complete final answer. Use it when you need the result before continuing. "
    "The worker is closed afterwards. On timeout or error you get an error naming the "
    "worker's terminal id, and the worker is left running for inspection."))
async def handoff(
    agent_profile: Annotated[str, Field(description="Profile name of the worker agent, e.g. 'developer'")],
    message: Annotated[str, Field(description="The complete task for the worker; it sees nothing else")],
    timeout: Annotated[float | None, Field(description="Seconds to wait for the answer (default 600)",
                                           gt=0, le=86400)] = None,
    working_directory: WorkingDirectory = None,
) -> str:
    from cao.client import handoff_and_wait

    wait = timeout or DEFAULT_HANDOFF_TIMEOUT
    async with _as_tool_errors(wait):
        result = await handoff_and_wait(
            {"caller_id": _terminal_id(), "agent_profile": agent_profile, "message": message,
             "working_directory": working_directory}, wait, base_url=_base_url())
    if not result.get("ok"):
        raise ToolError(f"handoff to {agent_profile!r} failed: {result.get('error')} "
                        f"[worker terminal {result.get('terminal_id')}]")
    return result.get("output") or ""


@server.tool(description=(
    "Start a NEW worker agent on a task in the background and return its terminal id "
    "immediately. The worker is told to send its results back to you with send_message; "
    "they arrive later as a new message in your input. End your turn after assigning if "
    "you need the results. The worker stays alive for follow-up messages."))
async def assign(
    agent_profile: Annotated[str, Field(description="Profile name of the worker agent")],
    message: Annotated[str, Field(description="The complete task for the worker")],
    working_directory: WorkingDirectory = None,
) -> str:
    result = await _post("/orchestration/assign", {
        "caller_id": _terminal_id(), "agent_profile": agent_profile, "message": message,
        "working_directory": working_directory}, timeout=120)
    return (f"Assigned to {agent_profile}: worker terminal {result['terminal_id']}. "
            "Its results will arrive as a message from that terminal.")


@server.tool(description=(
    "Send a message to another agent's terminal (by terminal id). It is queued and "
    "delivered when that agent is idle; returns at once. The receiver sees your terminal id "
    "so it can answer you."))
async def send_message(
    receiver_id: Annotated[str, Field(description="Terminal id of the receiving agent")],
    message: Annotated[str, Field(description="The message text")],
) -> str:
    result = await _post("/orchestration/send_message", {
        "sender_id": _terminal_id(), "receiver_id": receiver_id, "message": message}, timeout=60)
    return f"Message {result['id']} queued for terminal {receiver_id}."


def _check_in() -> None:
    """Tell the cao-server this terminal's tools are coming (best effort, off the hot path)."""
    terminal_id = _terminal_id()
    if not terminal_id:
        return
    try:
        httpx.post(f"{_base_url()}/terminals/{terminal_id}/mcp_checkin", timeout=5, trust_env=False)
    except httpx.HTTPError:
        pass


def main() -> None:
    import threading

    threading.Thread(target=_check_in, daemon=True).start()
    server.run("stdio")


if __name__ == "__main__":
    main()
