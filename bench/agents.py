"""Python agents used only by the benchmarks (the bench/ folder is on the server's PYTHONPATH).

Each records wall-clock times (time.time(), the same clock the benchmark reads) as JSON
lines in $BENCH_STAMPS/<terminal id>.jsonl, so latencies can be measured from the agent's
side of the screen rather than guessed.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

SLEEP_RE = re.compile(r"^\s*sleep\s+(\d+(?:\.\d+)?)\s*")


def _stamp(event: str, **extra) -> None:
    folder = os.environ.get("BENCH_STAMPS")
    if not folder:
        return
    line = json.dumps({"event": event, "t": time.time(), **extra})
    with open(Path(folder) / f"{os.environ.get('CAO_TERMINAL_ID', 'unknown')}.jsonl", "a") as fh:
        fh.write(line + "\n")


def _sleep_prefix(message: str) -> str:
    m = SLEEP_RE.match(message)
    if m:
        time.sleep(float(m.group(1)))
        return message[m.end():]
    return message


def stamp(message: str, ctx=None) -> str:
    """Record `received`, sleep if the message starts with `sleep N`, record `answer`, answer.

    `answer` is stamped right before returning: the host prints the answer and its
    done line microseconds later.
    """
    _stamp("received", sender=getattr(ctx, "sender_id", None), message=message[:80])
    rest = _sleep_prefix(message)
    _stamp("answer")
    return f"ok {rest[:40]}"


def work50(message: str, ctx=None) -> str:
    """The reference mock agent's behaviour: answer after 50 ms of 'work'."""
    _stamp("received", message=message[:80])
    time.sleep(0.05)
    return f"done: {message[:40]}"


def quick(message: str, ctx=None) -> str:
    """Answer at once (a caller/sink that receives callbacks)."""
    return "ok"


def delegate(message: str, ctx=None) -> str:
    """`handoff PROFILE text`: hand off through the agent's own MCP session, time it."""
    verb, profile, text = message.split(" ", 2)
    t0 = time.time()
    if verb == "handoff":
        out = ctx.handoff(profile, text)
    elif verb == "assign":
        out = ctx.assign(profile, text)
    else:
        raise ValueError(verb)
    _stamp("tool", verb=verb, seconds=time.time() - t0)
    return out
