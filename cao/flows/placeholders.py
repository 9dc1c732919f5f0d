"""Fill a flow's prompt from its gate output.

Two notations, both fed by the gate's `output` object:

* `[[name]]` placeholders (the reference system's convention). `[[ name ]]` with spaces
  works too, and `[[a.b]]` reaches into nested objects. Strings go in as they are, other
  values as JSON (`true`, `3`, `{"k": 1}`). A placeholder with no value is left exactly as
  written (a prompt may legitimately contain `[[...]]` text) and reported by
  `unknown_placeholders` so the scheduler can log it.
* Jinja2 (`{{ name }}`, `{% if %}`), only when the text contains Jinja2 syntax, so prompts
  written for the reference system never change meaning. Undefined variables are an error.

Jinja2 runs first, on the author's text only; placeholders are then filled in one pass, so
a gate value is never re-read as a template or as another placeholder.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

import jinja2

PLACEHOLDER = re.compile(r"\[\[\s*([A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)\s*\]\]")
_MISSING = object()


class TemplateError(ValueError):
    """The prompt's Jinja2 template could not be rendered; the message says where."""


def _lookup(values: Mapping[str, Any], name: str) -> Any:
    if name in values:  # a flat key that happens to contain dots wins
        return values[name]
    current: Any = values
    for part in name.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def fill_placeholders(text: str, values: Mapping[str, Any]) -> str:
    """Replace each `[[name]]` that has a value; leave the others untouched."""
    def sub(m: re.Match) -> str:
        value = _lookup(values, m.group(1))
        return m.group(0) if value is _MISSING else _as_text(value)
    return PLACEHOLDER.sub(sub, text)


def unknown_placeholders(text: str, values: Mapping[str, Any]) -> list[str]:
    """Names of `[[...]]` placeholders in `text` that `values` cannot fill."""
    seen: list[str] = []
    for m in PLACEHOLDER.finditer(text):
        if _lookup(values, m.group(1)) is _MISSING and m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def has_jinja(text: str) -> bool:
    return "{{" in text or "{%" in text


_env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                          keep_trailing_newline=True)


def render_prompt(text: str, values: Mapping[str, Any],
                  context: Mapping[str, Any] | None = None) -> str:
    """Render Jinja2 (if used) with `values` and `context` as variables, then fill `[[...]]`.

    `values` (the gate output) is also available as `output`; `context` adds names such as
    `flow` and `fire_time` and wins over a gate key of the same name.
    """
    if has_jinja(text):
        variables = {**values, "output": dict(values), **(context or {})}
        try:
            text = _env.from_string(text).render(variables)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"prompt template syntax error on line {exc.lineno}: "
                                f"{exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"prompt template uses an undefined variable: {exc.message}; "
                                f"the gate output has {sorted(values) or 'no keys'}") from None
    return fill_placeholders(text, values)


def fill_structure(obj: Any, values: Mapping[str, Any]) -> Any:
    """`fill_placeholders` applied to every string inside lists and dicts (workflow inputs)."""
    if isinstance(obj, str):
        return fill_placeholders(obj, values)
    if isinstance(obj, list):
        return [fill_structure(v, values) for v in obj]
    if isinstance(obj, dict):
        return {k: fill_structure(v, values) for k, v in obj.items()}
    return obj
