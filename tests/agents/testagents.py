"""Python agents used by the integration tests (importable through PYTHONPATH)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def record(message: str, ctx=None) -> str:
    """Append each received message to $RECORD_FILE (one JSON line), answer 'ok ...'.

    A message starting with `sleep N` keeps the agent busy N seconds first.
    """
    import json

    if message.startswith("sleep "):
        time.sleep(float(message.split()[1]))

    path = Path(os.environ.get("RECORD_FILE", "/dev/null"))
    with open(path, "a") as fh:
        fh.write(json.dumps({"t": time.time(), "terminal": os.environ.get("CAO_TERMINAL_ID"),
                             "sender": getattr(ctx, "sender_id", None), "message": message}) + "\n")
    return f"ok {message[:40]}"


def slow(message: str, ctx=None) -> str:
    """Sleep for the number of seconds the message starts with, then echo the rest."""
    head, _, rest = message.partition(" ")
    time.sleep(float(head))
    return rest or head


def crash(message: str, ctx=None) -> str:
    """Die mid-task, as a crashing agent CLI would."""
    os._exit(3)


def boom(message: str, ctx=None) -> str:
    raise RuntimeError(f"boom: {message}")


def ask(message: str, ctx=None) -> str:
    answer = ctx.ask(f"Proceed with {message}?")
    return f"user said {answer}"


def delegator(message: str, ctx=None) -> str:
    """'handoff PROFILE text' / 'assign PROFILE text' / 'send ID text' via the MCP session."""
    verb, profile, text = message.split(" ", 2)
    if verb == "handoff":
        return ctx.handoff(profile, text)
    if verb == "assign":
        return ctx.assign(profile, text)
    if verb == "send":
        return ctx.send_message(profile, text)
    raise ValueError(verb)


def env_id(message: str, ctx=None) -> str:
    return os.environ.get("CAO_TERMINAL_ID", "")
