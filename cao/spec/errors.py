"""Turning pydantic validation errors into Diagnostics with lines and suggestions."""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from cao.spec.diagnostics import Diagnostic, did_you_mean
from cao.spec.source import RawDocument

_KEY_HINTS = {
    "nodes": ("node ids start with a letter or '_' and contain only letters, digits, "
              "'_' and '-'"),
    "inputs": "input names are identifiers: letters, digits and '_', not starting with a digit",
}
_NOUNS = {
    "string_type": "a string", "list_type": "a list", "int_type": "an integer",
    "int_parsing": "an integer", "int_from_float": "an integer", "float_type": "a number",
    "float_parsing": "a number", "bool_type": "true or false", "bool_parsing": "true or false",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}


class FieldError(ValueError):
    """A validator error that belongs to a sub-field and carries a fix-it hint."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.field = field
        self.hint = hint


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _step(tp: Any, part: Any) -> tuple[Any, bool]:
    """Type reached by following one loc part; second item says the part was a real key."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            if part in (name, info.alias):
                return info.annotation, True
        return Any, True
    origin = typing.get_origin(tp)
    if _is_union(tp):
        arms = [_unwrap(a) for a in typing.get_args(tp) if a is not type(None)]
        if len(arms) == 1:   # Optional[X]: pydantic adds no tag
            return _step(arms[0], part)
        if isinstance(part, str):
            for arm in arms:   # pydantic tags union branches with the arm's name
                name = getattr(arm, "__name__", None)
                origin_name = getattr(typing.get_origin(arm), "__name__", None)
                if part == name or (origin_name and part.startswith(origin_name + "[")):
                    return arm, False
            if _looks_like_tag(part):
                return Any, False
        for arm in arms:   # no tag: follow the first arm that has structure
            if typing.get_origin(arm) in (dict, list) or (
                    isinstance(arm, type) and issubclass(arm, BaseModel)):
                return _step(arm, part)
        return Any, True
    if origin in (list, tuple, set) and isinstance(part, int):
        args = typing.get_args(tp)
        return (args[0] if args else Any), True
    if origin is dict:
        args = typing.get_args(tp)
        return (args[1] if len(args) == 2 else Any), True
    if isinstance(part, str) and _looks_like_tag(part):
        return tp, False
    return Any, True


_TAG = re.compile(r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|function-\w+\[.*\]|"
                  r"literal\[.*\]|json-or-python\[.*\]|[a-z-]+\[.*\]|constrained-\w+)$")


def _looks_like_tag(part: str) -> bool:
    return bool(_TAG.match(part))


def _clean_loc(model: type[BaseModel], loc: tuple) -> tuple[tuple, Any, bool]:
    """(path without pydantic's union tags, type of the parent of the last part, is_key)."""
    path: list = []
    tp: Any = model
    parent: Any = model
    is_key = False
    for part in loc:
        if part == "[key]":
            is_key = True
            continue
        nxt, real = _step(tp, part)
        if real:
            parent = tp
            path.append(part)
        tp = nxt
    return tuple(path), _unwrap(parent), is_key


def _allowed_keys(tp: Any) -> list[str]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validation_diagnostics(exc: ValidationError, model: type[BaseModel],
                           raw: RawDocument) -> list[Diagnostic]:
    grouped: dict[tuple, list[tuple[dict, Any, bool]]] = {}
    for err in exc.errors():
        path, parent, is_key = _clean_loc(model, tuple(err["loc"]))
        grouped.setdefault((path, is_key), []).append((err, parent, is_key))
    return [_one(path, items, raw) for (path, _), items in grouped.items()]


def _one(path: tuple, items: list, raw: RawDocument) -> Diagnostic:
    errs = [e for e, _, _ in items]
    err, parent, is_key = items[0]
    kind = err["type"]
    # The most specific error wins: our own validators say exactly what is wrong.
    value_errs = [e for e in errs if e["type"] in ("value_error", "assertion_error")]
    if value_errs:
        cause = (value_errs[0].get("ctx") or {}).get("error")
        message = str(cause) if cause is not None else value_errs[0]["msg"]
        hint = getattr(cause, "hint", None)
        sub = getattr(cause, "field", None)
        field_path = path + (sub,) if sub else path
        return raw.diag(field_path, message, hint=hint, code="invalid-value")
    if kind == "extra_forbidden":
        key = path[-1] if path else "?"
        allowed = _allowed_keys(parent)
        guess = did_you_mean(str(key), allowed)
        message = f"unknown key '{key}'" + (f" — did you mean '{guess}'?" if guess else "")
        hint = f"allowed keys: {', '.join(allowed)}" if allowed else None
        return raw.diag(path, message, hint=hint, code="unknown-key")
    if kind == "missing":
        key = path[-1] if path else "?"
        return raw.diag(path[:-1], f"missing required key '{key}'", code="missing-key",
                        hint=f"add '{key}:' here")
    if is_key:
        key = path[-1] if path else "?"
        section = path[0] if path else ""
        label = {"nodes": "node id", "inputs": "input name"}.get(section, "key")
        return raw.diag(path, f"invalid {label} '{key}'", hint=_KEY_HINTS.get(section),
                        code="invalid-key")
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        return raw.diag(path, f"invalid value {_short(err.get('input'))}; expected {expected}",
                        code="invalid-value")
    nouns = [_NOUNS[e["type"]] for e in errs if e["type"] in _NOUNS]
    if nouns and len(nouns) == len(errs):
        wanted = " or ".join(dict.fromkeys(nouns))
        return raw.diag(path, f"expected {wanted}, got {_short(err.get('input'))}",
                        code="invalid-type")
    if kind in ("too_short", "too_long") and isinstance(err.get("input"), (dict, list)):
        return raw.diag(path, "must not be empty", code="invalid-value")
    message = err["msg"]
    if "input" in err and not isinstance(err["input"], (dict, list)):
        message += f" (got {_short(err['input'])})"
    return raw.diag(path, message[:1].lower() + message[1:], code="invalid-value")
