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


def timed(message: str, ctx=None) -> str:
    """Record start and end times around an optional `sleep N` prefix; answer the rest."""
    import json

    start = time.time()
    rest = message
    if message.startswith("sleep "):
        _, seconds, rest = (message.split(" ", 2) + [""])[:3]
        time.sleep(float(seconds))
    path = Path(os.environ.get("RECORD_FILE", "/dev/null"))
    with open(path, "a") as fh:
        fh.write(json.dumps({"start": start, "end": time.time(), "message": message,
                             "terminal": os.environ.get("CAO_TERMINAL_ID")}) + "\n")
    return rest.strip()


def flaky(message: str, ctx=None) -> str:
    """`FAILS PATH text`: fail until PATH has counted FAILS attempts, then answer text."""
    fails, path, text = message.split(" ", 2)
    counter = Path(path)
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    if n < int(fails):
        raise RuntimeError(f"flaky failure {n + 1}")
    return text


def fanout_delegator(message: str, ctx=None) -> str:
    """Assign `message` to echo workers twice; report what each call said."""
    results = []
    for i in range(2):
        try:
            results.append(ctx.assign("worker", f"{message} {i}"))
        except Exception as exc:
            results.append(f"REFUSED: {exc}")
    return "\n".join(results)
