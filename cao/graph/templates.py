"""Jinja2 templates of workflows: one shared environment, rendering, and static analysis.

Analysis walks the template AST (never regexes over the text) to find `nodes.X` /
`nodes['X']` and `inputs.Y` references: they become implicit edges and input checks.
Results are cached per source text, so 10,000 identical prompts are parsed once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from typing import TYPE_CHECKING

if TYPE_CHECKING:   # jinja2 itself is imported on first real use: most prompts never need it
    import jinja2
    from jinja2 import nodes as jn

_MARKERS = ("{{", "{%", "{#")
_SINGLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{|\{%).)*)\}\}\s*$", re.S)
FALSY_STRINGS = {"", "false", "0", "no", "off", "none", "null"}


class TemplateError(ValueError):
    """A template failed to parse or render; the message says where and why."""

    def __init__(self, message: str, lineno: int | None = None):
        super().__init__(message)
        self.lineno = lineno


def _fromjson(text: str) -> Any:
    return json.loads(text)


@lru_cache(maxsize=1)
def environment() -> "jinja2.Environment":
    """The one Jinja2 environment: sandboxed, StrictUndefined, no autoescape."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                        keep_trailing_newline=True)
    env.filters["fromjson"] = _fromjson
    return env


def __getattr__(name: str):   # `templates.ENV`, created lazily
    if name == "ENV":
        return environment()
    raise AttributeError(name)


@dataclass(frozen=True)
class TemplateInfo:
    nodes: frozenset[str] = frozenset()     # node ids referenced as nodes.X / nodes['X']
    inputs: frozenset[str] = frozenset()    # input names referenced as inputs.X
    names: frozenset[str] = frozenset()     # free top-level variables (inputs, nodes, item...)
    error: str | None = None                # syntax error message
    error_line: int | None = None           # 1-based line within the template
    positions: dict = field(default_factory=dict, compare=False, hash=False)


EMPTY = TemplateInfo()


def _has_markup(source: str) -> bool:
    return any(marker in source for marker in _MARKERS)


def _collect(tree: "jn.Node") -> TemplateInfo:
    from jinja2 import nodes as jn

    node_refs: set[str] = set()
    input_refs: set[str] = set()
    for sub in tree.find_all((jn.Getattr, jn.Getitem)):
        base = sub.node
        if not isinstance(base, jn.Name) or base.ctx != "load":
            continue
        if isinstance(sub, jn.Getattr):
            key = sub.attr
        elif isinstance(sub.arg, jn.Const) and isinstance(sub.arg.value, str):
            key = sub.arg.value
        else:
            continue
        if base.name == "nodes":
            node_refs.add(key)
        elif base.name == "inputs":
            input_refs.add(key)
    loaded: set[str] = set()
    stored: set[str] = set()
    for name in tree.find_all(jn.Name):
        (stored if name.ctx in ("store", "param") else loaded).add(name.name)
    return TemplateInfo(frozenset(node_refs), frozenset(input_refs),
                        frozenset(loaded - stored))


# Fast path: most prompts only print dotted names (`{{ nodes.a.output | trim }}`). For
# those, a few C-level regex passes over the whole text replace the Jinja2 parser (about
# 20x faster); anything else goes through the parser. A property test checks both agree.
_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_QUOTED = r"""(?:'[^'\\\n{}]*'|"[^"\\\n{}]*")"""
_SIMPLE_BODY = (r"\s*" + _ID + r"(?:\s*(?:\.\s*" + _ID + r"|\[\s*(?:" + _QUOTED + r"|\d+)\s*\]))*"
                r"\s*(?:\|\s*" + _ID + r"\s*)*")
_TEXT = r"(?:[^{]|\{(?![{%#]))*"
_ONLY_SIMPLE = re.compile(_TEXT + r"(?:\{\{-?" + _SIMPLE_BODY + r"-?\}\}" + _TEXT + r")*", re.S)
_BODIES = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)
_BASES = re.compile(r"\{\{-?\s*(" + _ID + r")")
_REFS = re.compile(r"\{\{-?\s*(nodes|inputs)\s*(?:\.\s*(" + _ID + r")|\[\s*(?:'([^'\\\n{}]*)'"
                   r"""|"([^"\\\n{}]*)")\s*\])""")
_IDENT_RE = re.compile(_ID)
_RESERVED = {"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is",
             "if", "else", "elif", "for", "endfor", "block", "recursive", "import", "with",
             "without", "context", "set", "include", "from", "as", "pass", "extends", "macro",
             "call", "filter", "raw", "endraw", "endif", "endblock", "endmacro", "endcall",
             "endfilter", "endset", "endwith", "autoescape", "endautoescape", "do",
             "continue", "break", "print", "trans", "pluralize", "endtrans", "scoped",
             "required", "ignore", "missing", "loop_controls", "self", "caller", "varargs",
             "kwargs"}


def _fast_analyze(source: str) -> TemplateInfo | None:
    if "{%" in source or "{#" in source or _ONLY_SIMPLE.fullmatch(source) is None:
        return None
    words = _IDENT_RE.findall(" ".join(_BODIES.findall(source)))
    if not _RESERVED.isdisjoint(words):
        return None
    node_refs: set[str] = set()
    input_refs: set[str] = set()
    for base, attr, single, double in _REFS.findall(source):
        key = attr or single or double
        (node_refs if base == "nodes" else input_refs).add(key)
    return TemplateInfo(frozenset(node_refs), frozenset(input_refs),
                        frozenset(_BASES.findall(source)))


@lru_cache(maxsize=65536)
def analyze_template(source: str) -> TemplateInfo:
    """References and syntax errors of a template (plain text is a template too)."""
    if not _has_markup(source):
        return EMPTY
    fast = _fast_analyze(source)
    if fast is not None:
        return fast
    return _slow_analyze(source)


def _slow_analyze(source: str) -> TemplateInfo:
    from jinja2 import TemplateSyntaxError

    try:
        tree = environment().parse(source)
    except TemplateSyntaxError as exc:
        return TemplateInfo(error=exc.message or str(exc), error_line=exc.lineno)
    return _collect(tree)


def _parse_expression(expr: str) -> "jn.Expr":
    import jinja2
    from jinja2.parser import Parser

    parser = Parser(environment(), expr, state="variable")
    tree = parser.parse_expression()
    if not parser.stream.eos:
        token = parser.stream.current
        raise jinja2.TemplateSyntaxError(f"unexpected {token.value!r} after the expression",
                                         token.lineno)
    return tree


@lru_cache(maxsize=65536)
def analyze_expression(expr: str) -> TemplateInfo:
    """Like analyze_template, for a bare expression such as `inputs.mode == 'full'`.
    An expression written as a `{{ ... }}` template is analysed as a template."""
    from jinja2 import TemplateSyntaxError

    if _has_markup(expr):
        return analyze_template(expr)
    try:
        tree = _parse_expression(expr)
    except TemplateSyntaxError as exc:
        return TemplateInfo(error=exc.message or str(exc), error_line=exc.lineno)
    return _collect(tree)


def template_references(source: str) -> set[str]:
    """Node ids a template reads (`nodes.X`, `nodes['X']`)."""
    return set(analyze_template(source).nodes)


@lru_cache(maxsize=4096)
def _compiled(source: str) -> "jinja2.Template":
    return environment().from_string(source)


@lru_cache(maxsize=4096)
def _compiled_expr(expr: str):
    return environment().compile_expression(expr, undefined_to_none=False)


def _explain(exc: Exception) -> str:
    import jinja2

    if isinstance(exc, jinja2.UndefinedError):
        return f"{exc.message}; check the spelling, or that the node ran before this one"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"syntax error on line {exc.lineno}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def render_template(source: str, variables: dict[str, Any]) -> str:
    """Render with StrictUndefined: a missing variable is an error, never an empty string."""
    import jinja2

    if not _has_markup(source):
        return source
    try:
        return _compiled(source).render(**variables)
    except jinja2.TemplateError as exc:
        raise TemplateError(_explain(exc), getattr(exc, "lineno", None)) from exc
    except (TypeError, ValueError, LookupError, ArithmeticError) as exc:
        raise TemplateError(_explain(exc)) from exc


def evaluate_expression(expr: str, variables: dict[str, Any]) -> Any:
    """The native value of a Jinja2 expression (`inputs.n > 3`, `inputs.items | dictsort`).
    A `{{ expr }}` wrapper is accepted and unwrapped."""
    import jinja2

    match = _SINGLE_EXPR.match(expr)
    if match:
        expr = match.group("expr")
    try:
        return _compiled_expr(expr.strip())(**variables)
    except jinja2.TemplateError as exc:
        raise TemplateError(_explain(exc), getattr(exc, "lineno", None)) from exc
    except (TypeError, ValueError, LookupError, ArithmeticError) as exc:
        raise TemplateError(_explain(exc)) from exc


def evaluate_condition(when: Any, variables: dict[str, Any]) -> bool:
    """A node's `when`: a bool, a bare expression, or a template whose text is truthy
    unless it is empty, false, 0, no, off, none or null."""
    if when is None:
        return True
    if isinstance(when, bool):
        return when
    text = str(when)
    if _has_markup(text) and not _SINGLE_EXPR.match(text):
        return render_template(text, variables).strip().lower() not in FALSY_STRINGS
    value = evaluate_expression(text, variables)
    if isinstance(value, str):
        return value.strip().lower() not in FALSY_STRINGS
    return bool(value)


def evaluate_for_each(value: Any, variables: dict[str, Any]) -> list[Any]:
    """Items of a `for_each`: a literal list, or an expression/template evaluating to a
    list (a mapping gives its (key, value) pairs sorted by key)."""
    if isinstance(value, list):
        return list(value)
    result = evaluate_expression(str(value), variables)
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            raise TemplateError(f"for_each must evaluate to a list, got the text {result[:60]!r}")
    if isinstance(result, dict):
        return sorted(result.items())
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        raise TemplateError(f"for_each must evaluate to a list, got {type(result).__name__}")
    return list(result)
