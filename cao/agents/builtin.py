"""Small general-purpose python agents: handy for trying cao and for testing flows.

- `echo`: answers with the message itself, exactly.
- `sleeper`: answers after sleeping; the message may start with `sleep N`.
"""

from __future__ import annotations

import re
import time
from typing import Any

SLEEP_RE = re.compile(r"^\s*sleep\s+(\d+(?:\.\d+)?)\s*", re.IGNORECASE)


def echo(message: str, ctx: Any = None) -> str:
    return message


def sleeper(message: str, ctx: Any = None) -> str:
    """`sleep 2.5 rest of text` waits 2.5 s, then answers `rest of text`."""
    match = SLEEP_RE.match(message)
    if match:
        time.sleep(float(match.group(1)))
        message = message[match.end():]
    return message
