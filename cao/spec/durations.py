"""Durations as people write them: "30s", "5m", "1h30m", "2h", "250ms", or plain seconds."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")

DURATION_HINT = 'write a number of seconds or a duration like "30s", "5m", "1h30m", "2h"'


def parse_duration(value: object) -> float:
    """Seconds as a float; raises ValueError with a readable message."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            if not text or not _WHOLE.fullmatch(text):
                raise ValueError(f"invalid duration {value!r}") from None
            seconds = sum(float(num) * _UNITS[unit] for num, unit in _PART.findall(text))
    else:
        raise ValueError(f"invalid duration {value!r}")
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}; it must be a finite, non-negative time")
    return seconds


def format_duration(seconds: float) -> str:
    """Inverse of parse_duration for display: 5400 -> '1h30m'."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"
