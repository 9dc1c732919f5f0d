"""The REPL host that runs a Python function as an agent inside a tmux window.

Run as `python -m cao.providers.python_host module:function`. It follows the same screen
contract as the real agent CLIs, so the terminal layer treats it like any other agent:

    ❯                           idle prompt (a human can type here too)
    ⠿ working …                 busy
      answer lines, indented    the answer
    ✔ done in 0.01s             finished; a new prompt follows
    ✘ failed: ValueError: …     the function raised; a new prompt follows
    ? question / ?❯             the function asked the user something

Each answer is also written as an invisible OSC escape sequence holding the exact text
(base64), which lands in the pipe-pane transcript: extraction is exact for any content.

Imports are kept to the standard library: this process starts for every python agent,
and the MCP client (slow to import) is only loaded when the function first calls a tool.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import sys
import termios
import threading
import time
import tty
from typing import Any, Callable

# asyncio, inspect, traceback and urllib are imported where used: most agents never need
# them, and every python agent pays this module's import time before showing its prompt.

PROMPT = "❯ "
ASK_PROMPT = "?❯ "
BUSY = "⠿ working"
DONE = "✔ done"
FAILED = "✘ failed"
OSC_ANSWER = "\x1b]7777;cao-answer;"
BEL = "\x07"
PASTE_BEGIN, PASTE_END = b"\x1b[200~", b"\x1b[201~"

INBOX_RE = re.compile(r"^\[Message from terminal (?P<sender>[A-Za-z0-9:_.-]+)\]\s?")
ASSIGN_RE = re.compile(
    r"\s*\[Assigned by terminal (?P<caller>[A-Za-z0-9:_.-]+)\. When done, send results back "
    r"to terminal (?P=caller) using send_message\]\s*$")


def write(text: str) -> None:
    data = text.encode("utf-8", "replace")
    while data:
        n = os.write(1, data)
        data = data[n:]


def indent(text: str) -> str:
    """Answer lines are indented so none can be mistaken for a status marker."""
    return "\n".join("  " + line for line in text.split("\n"))


class InputReader:
    """Reads keystrokes and bracketed pastes from the raw tty, one submission at a time."""

    def __init__(self, fd: int = 0):
        self.fd = fd
        self.pending = b""

    def read_submission(self, echo: bool = True) -> str:
        buf = bytearray()
        in_paste = False
        carry = b""  # bytes that may be the start of a paste marker split across reads
        while True:
            if self.pending:
                data, self.pending = carry + self.pending, b""
            else:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    raise EOFError
                data = carry + chunk
            carry = b""
            i = 0
            while i < len(data):
                if in_paste:
                    end = data.find(PASTE_END, i)
                    stop = end if end >= 0 else len(data) - _partial_suffix(data, PASTE_END)
                    piece = data[i:stop]
                    buf += piece
                    if echo:
                        write(piece.decode("utf-8", "replace").replace("\n", "\n  "))
                    if end < 0:
                        carry = data[stop:]
                        break
                    in_paste = False
                    i = end + len(PASTE_END)
                    continue
                if data.startswith(PASTE_BEGIN, i):
                    in_paste = True
                    i += len(PASTE_BEGIN)
                    continue
                if PASTE_BEGIN.startswith(data[i:]) and len(data) - i < len(PASTE_BEGIN):
                    carry = data[i:]
                    break
                byte = data[i]
                if byte in (0x0D, 0x0A):
                    if buf.strip():
                        self.pending = data[i + 1:]
                        return buf.decode("utf-8", "replace")
                elif byte in (0x7F, 0x08):
                    if buf:
                        del buf[-1]
                        if echo:
                            write("\b \b")
                elif byte == 0x1B:
                    # another escape sequence (arrow keys...): skip it
                    j = i + 1
                    if j < len(data) and data[j] == ord("["):
                        j += 1
                        while j < len(data) and not (0x40 <= data[j] <= 0x7E):
                            j += 1
                    i = j + 1
                    continue
                elif byte >= 0x20 or byte == 0x09:
                    buf.append(byte)
                    if echo and byte < 0x80:
                        write(chr(byte))
                i += 1


def _partial_suffix(data: bytes, marker: bytes) -> int:
    """Length of the longest tail of `data` that is a proper prefix of `marker`."""
    for k in range(min(len(marker) - 1, len(data)), 0, -1):
        if marker.startswith(data[-k:]):
            return k
    return 0


class AgentContext:
    """What an agent function gets besides its message."""

    def __init__(self, host: "Host"):
        self._host = host
        self.terminal_id: str = os.environ.get("CAO_TERMINAL_ID", "")
        self.profile: str = os.environ.get("CAO_PROFILE", "")
        self.server_url: str = os.environ.get("CAO_SERVER_URL", "http://127.0.0.1:9889")
        self.sender_id: str | None = None      # set when the message came from another terminal
        self.assigned_by: str | None = None    # set when the message is an `assign` task
        self.state: dict[str, Any] = {}        # survives between messages of this terminal
        self._replied_to: set[str] = set()

    # -- talking to the person watching ----------------------------------------------
    def log(self, text: str) -> None:
        write("\n" + indent("· " + text))

    def ask(self, question: str) -> str:
        """Ask the user (status becomes waiting_user_answer) and return the typed answer."""
        write(f"\n? {question}\n{ASK_PROMPT}")
        answer = self._host.reader.read_submission()
        write(f"\n{BUSY} …")
        return answer

    # -- orchestration tools, through a real MCP session with cao-mcp-server ----------
    def call_tool(self, name: str, **arguments: Any) -> str:
        return self._host.call_tool_sync(name, arguments)

    def handoff(self, agent_profile: str, message: str, timeout: float | None = None) -> str:
        args: dict[str, Any] = {"agent_profile": agent_profile, "message": message}
        if timeout is not None:
            args["timeout"] = timeout
        return self.call_tool("handoff", **args)

    def assign(self, agent_profile: str, message: str) -> str:
        return self.call_tool("assign", agent_profile=agent_profile, message=message)

    def send_message(self, receiver_id: str, message: str) -> str:
        self._replied_to.add(receiver_id)
        return self.call_tool("send_message", receiver_id=receiver_id, message=message)


class ToolError(RuntimeError):
    """An orchestration tool call that returned an error result."""


class Host:
    def __init__(self, entrypoint: str):
        self.entrypoint = entrypoint
        self.reader = InputReader()
        self._loop: Any = None
        self._loop_lock = threading.Lock()
        self._mcp_ready: Any = None

    @property
    def loop(self) -> Any:
        """An event loop in a background thread, for MCP and async agent functions."""
        with self._loop_lock:
            if self._loop is None:
                import asyncio

                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, daemon=True, name="cao-mcp").start()
            return self._loop

    def open_mcp_in_background(self) -> None:
        """Start the MCP session now, for agents that will call tools (`cao_tools = True`)."""
        import asyncio

        asyncio.run_coroutine_threadsafe(self._ensure_mcp(), self.loop)

    async def _ensure_mcp(self) -> Any:
        import asyncio

        if self._mcp_ready is None:
            self._mcp_ready = asyncio.ensure_future(self._open_mcp())
        return await self._mcp_ready

    # -- MCP session (lazy: importing mcp costs most of a second) ---------------------
    async def _open_mcp(self) -> Any:
        from mcp import Client
        from mcp.client.stdio import StdioServerParameters

        env = {k: v for k, v in os.environ.items() if k.startswith("CAO_")}
        command = os.environ.get("CAO_MCP_COMMAND") or sys.executable
        args = json.loads(os.environ["CAO_MCP_ARGS"]) if os.environ.get("CAO_MCP_ARGS") \
            else ["-m", "cao.mcp.server"]
        params = StdioServerParameters(command=command, args=args, env=env)
        client = Client(params)
        self._mcp_cm = client
        return await client.__aenter__()

    async def _call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        client = await self._ensure_mcp()
        result = await client.call_tool(name, arguments)
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        if getattr(result, "is_error", False) or getattr(result, "isError", False):
            raise ToolError(text)
        return text

    def call_tool_sync(self, name: str, arguments: dict[str, Any]) -> str:
        import asyncio

        return asyncio.run_coroutine_threadsafe(self._call_tool(name, arguments), self.loop).result()

    # -- plain HTTP for the automatic assign callback ---------------------------------
    def post_callback(self, ctx: AgentContext, receiver: str, text: str) -> None:
        import urllib.request

        body = json.dumps({"sender_id": ctx.terminal_id, "receiver_id": receiver,
                           "message": text}).encode()
        req = urllib.request.Request(f"{ctx.server_url}/orchestration/send_message", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()

    # -- the REPL ---------------------------------------------------------------------
    def load(self) -> Callable[..., Any]:
        module_name, _, attr = self.entrypoint.partition(":")
        if not module_name or not attr:
            raise ValueError(f"entrypoint {self.entrypoint!r} must look like 'package.module:function'")
        fn = importlib.import_module(module_name)
        for part in attr.split("."):
            fn = getattr(fn, part)
        if not callable(fn):
            raise TypeError(f"entrypoint {self.entrypoint!r} is not callable")
        return fn

    def invoke(self, fn: Callable[..., Any], message: str, ctx: AgentContext) -> Any:
        code = getattr(fn, "__code__", None)
        if code is not None:  # plain functions: no need to import inspect (slow) per agent
            is_coroutine = bool(code.co_flags & 0x80)  # CO_COROUTINE
            positional = code.co_argcount - (1 if getattr(fn, "__self__", None) is not None else 0)
            takes_ctx = positional >= 2 or bool(code.co_flags & 0x04)  # or *args
        else:
            import inspect

            is_coroutine = inspect.iscoroutinefunction(fn)
            takes_ctx = len(inspect.signature(fn).parameters) >= 2
        args = (message, ctx) if takes_ctx else (message,)
        if is_coroutine:
            import asyncio

            return asyncio.run_coroutine_threadsafe(fn(*args), self.loop).result()
        return fn(*args)

    def serve(self) -> int:
        write(f"cao python agent · {os.environ.get('CAO_PROFILE', '?')} · {self.entrypoint}"
              f" · terminal {os.environ.get('CAO_TERMINAL_ID', '?')}\n")
        try:
            fn = self.load()
        except Exception as exc:  # the window stays open (remain-on-exit) showing why
            write(f"{FAILED}: cannot load entrypoint: {type(exc).__name__}: {exc}\n")
            return 1
        ctx = AgentContext(self)
        write("\x1b[?2004h")  # ask the terminal for bracketed paste
        if getattr(fn, "cao_tools", False):
            self.open_mcp_in_background()
        while True:
            write(f"\n{PROMPT}")
            try:
                raw = self.reader.read_submission()
            except EOFError:
                return 0
            if raw.strip() in ("/exit", "/quit"):
                write("\nbye\n")
                return 0
            write(f"\n{BUSY} …")
            started = time.monotonic()
            message = raw
            ctx.sender_id = ctx.assigned_by = None
            ctx._replied_to = set()
            if m := INBOX_RE.match(message):
                ctx.sender_id, message = m.group("sender"), message[m.end():]
            if m := ASSIGN_RE.search(message):
                ctx.assigned_by, message = m.group("caller"), message[:m.start()]
            try:
                answer = self.invoke(fn, message, ctx)
                answer = "" if answer is None else str(answer)
            except Exception as exc:
                self.show_failure(exc)
                continue
            encoded = base64.b64encode(answer.encode("utf-8")).decode("ascii")
            write("\n" + indent(answer) + f"{OSC_ANSWER}{encoded}{BEL}")
            write(f"\n{DONE} in {time.monotonic() - started:.2f}s\n")
            if ctx.assigned_by and ctx.assigned_by not in ctx._replied_to:
                # After the answer is on screen: when the assigner hears back, we are done.
                try:
                    self.post_callback(ctx, ctx.assigned_by, answer)
                except Exception as exc:
                    self.show_failure(exc, what="sending the result back failed")

    @staticmethod
    def show_failure(exc: BaseException, what: str = "") -> None:
        import traceback

        write("\n" + indent(traceback.format_exc().rstrip()))
        summary = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        write(f"\n{FAILED}: {what + ': ' if what else ''}{summary}\n")


def main() -> int:
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m cao.providers.python_host package.module:function\n")
        return 2
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved is not None:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[1] |= termios.OPOST | termios.ONLCR  # keep "\n" -> "\r\n" on output
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    try:
        return Host(sys.argv[1]).serve()
    finally:
        write("\x1b[?2004l")
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSANOW, saved)


if __name__ == "__main__":
    sys.exit(main())
