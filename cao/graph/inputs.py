"""Workflow inputs given at run time (`--input n=3`): coerced, checked, defaults filled."""

from __future__ import annotations

import json
from typing import Any

from cao.spec.diagnostics import Diagnostic, SpecError
from cao.spec.workflow import Workflow, type_matches, type_name_of

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _coerce(name: str, value: Any, type_name: str) -> Any:
    """CLI strings (`--input n=3`) to the declared type; other values are checked as is."""
    if isinstance(value, str) and type_name != "string":
        text = value.strip()
        try:
            if type_name == "integer":
                return int(text)
            if type_name == "number":
                number = float(text)
                return int(number) if number.is_integer() and "." not in text else number
            if type_name == "boolean":
                if text.lower() in _TRUE:
                    return True
                if text.lower() in _FALSE:
                    return False
                raise ValueError
            return json.loads(text)   # array / object as JSON
        except ValueError:
            example = {"integer": "3", "number": "2.5", "boolean": "true",
                       "array": "'[1, 2]'", "object": "'{\"a\": 1}'"}[type_name]
            raise SpecError([Diagnostic(
                "error", f"input '{name}' must be {_article(type_name)}, got {value!r}",
                field=f"inputs.{name}", hint=f"for example --input {name}={example}",
                code="input-type")]) from None
    return value


def _article(type_name: str) -> str:
    return ("an " if type_name[0] in "aeiou" else "a ") + type_name


def resolve_inputs(workflow: Workflow, given: dict[str, Any] | None) -> dict[str, Any]:
    """Declared inputs filled from `given` (coerced) and defaults; raises SpecError listing
    every unknown, missing or mistyped input."""
    from cao.spec.diagnostics import did_you_mean

    given = dict(given or {})
    problems: list[Diagnostic] = []
    for name in given:
        if name not in workflow.inputs:
            guess = did_you_mean(name, workflow.inputs)
            declared = ", ".join(workflow.inputs) or "none"
            problems.append(Diagnostic(
                "error", f"unknown input '{name}'" + (f" — did you mean '{guess}'?" if guess else ""),
                field=f"inputs.{name}", hint=f"this workflow's inputs: {declared}",
                code="input-unknown"))
    resolved: dict[str, Any] = {}
    for name, spec in workflow.inputs.items():
        if name in given:
            try:
                value = _coerce(name, given[name], spec.type)
            except SpecError as exc:
                problems.extend(exc.diagnostics)
                continue
            if not type_matches(value, spec.type):
                problems.append(Diagnostic(
                    "error", f"input '{name}' must be {_article(spec.type)}, "
                             f"got {type_name_of(value)}", field=f"inputs.{name}",
                    code="input-type"))
                continue
            resolved[name] = value
        elif spec.default is not None:
            resolved[name] = spec.default
        elif spec.is_required:
            problems.append(Diagnostic(
                "error", f"missing required input '{name}'", field=f"inputs.{name}",
                hint=f"pass --input {name}=VALUE" + (f" ({spec.description})"
                                                     if spec.description else ""),
                code="input-missing"))
        else:
            resolved[name] = None
    if problems:
        raise SpecError(problems)
    return resolved
