"""Field types shared by the document models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from cao.spec.durations import DURATION_HINT, parse_duration
from cao.spec.errors import FieldError


def _check_duration(value: Any) -> Any:
    try:
        parse_duration(value)
    except ValueError as exc:
        raise FieldError(str(exc), hint=DURATION_HINT) from None
    return value


# Kept as written (so documents round-trip); `*_seconds` properties give the float.
Duration = Annotated[
    Any,
    BeforeValidator(_check_duration),
    WithJsonSchema({
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*)+$"},
            {"type": "null"},
        ],
        "description": 'Seconds, or a duration like "30s", "5m", "1h30m".',
    }),
]


def seconds(value: Any) -> float | None:
    return None if value is None else parse_duration(value)


def _check_catch_up(value: Any) -> Any:
    if value is None or value == "none":
        return value
    return _check_duration(value)


CatchUp = Annotated[
    Any,
    BeforeValidator(_check_catch_up),
    WithJsonSchema({
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*)+$"},
            {"const": "none"},
        ],
        "description": 'Duration, or "none" to skip missed runs.',
    }),
]
