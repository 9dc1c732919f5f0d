"""Reading a frontmatter-Markdown file: YAML data, the line of every key, and the body.

python-frontmatter's boundary rule splits the file; the YAML is then composed into nodes
so that every key keeps its line in the .md file (offset by the opening `---`), which is
what error messages point at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from frontmatter.default_handlers import YAMLHandler

from cao.spec.diagnostics import Diagnostic

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOUNDARY = YAMLHandler.FM_BOUNDARY
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")


class Pos(NamedTuple):
    line: int           # line of the key (or list item) in the file, 1-based
    column: int         # 1-based
    value_line: int     # line where the value starts
    value_column: int
    block: bool         # value is a block scalar (| or >): its text starts on the next line


class Positions:
    """Maps a path like ('nodes', 'b', 'needs', 0) to where it is written."""

    def __init__(self) -> None:
        self._map: dict[tuple, Pos] = {}

    def add(self, path: tuple, pos: Pos) -> None:
        self._map.setdefault(path, pos)

    def get(self, path: tuple | list) -> Pos | None:
        """The position of the path, or of its nearest written ancestor."""
        key = tuple(path)
        while True:
            pos = self._map.get(_norm(key))
            if pos is not None or not key:
                return pos
            key = key[:-1]

    def exact(self, path: tuple | list) -> Pos | None:
        return self._map.get(_norm(tuple(path)))


def _norm(path: tuple) -> tuple:
    return tuple(p if isinstance(p, int) else str(p) for p in path)


@dataclass
class Section:
    title: str
    text: str
    line: int   # file line where the section's text starts


@dataclass
class RawDocument:
    path: Path | None
    text: str
    has_frontmatter: bool = False
    data: Any = None
    positions: Positions = field(default_factory=Positions)
    body: str = ""
    body_line: int = 1
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def file(self) -> str | None:
        return str(self.path) if self.path is not None else None

    def diag(self, path: tuple | list, message: str, *, severity: str = "error",
             hint: str | None = None, code: str = "invalid", on_value: bool = False,
             at_line: int | None = None) -> Diagnostic:
        """A diagnostic pointing at the key of `path` (or its nearest ancestor), or at
        `at_line` (a line inside a template, where the column is unknown)."""
        from cao.spec.diagnostics import format_path

        pos = self.positions.get(path)
        line = column = None
        if pos is not None:
            line, column = (pos.value_line, pos.value_column) if on_value else (pos.line, pos.column)
        elif self.has_frontmatter:
            line, column = 1, 1
        if at_line is not None:
            line, column = at_line, None
        return Diagnostic(severity=severity, message=message, file=self.file, line=line,
                          column=column, field=format_path(path) or None, hint=hint, code=code)

    def sections(self) -> dict[str, Section]:
        """`## heading` sections of the body (headings inside code fences don't count)."""
        if not hasattr(self, "_sections"):
            self._sections = _split_sections(self.body, self.body_line)
        return self._sections


def read_document(path: Path | str | None, text: str | None = None) -> RawDocument:
    """Split and parse a document; problems are returned as diagnostics, never raised."""
    path = Path(path) if path is not None else None
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")  # type: ignore[union-attr]
        except UnicodeDecodeError as exc:
            doc = RawDocument(path, "")
            doc.diagnostics.append(Diagnostic("error", f"file is not UTF-8 text ({exc.reason})",
                                              file=str(path), code="encoding"))
            return doc
        except OSError as exc:
            doc = RawDocument(path, "")
            doc.diagnostics.append(Diagnostic("error", f"cannot read file: {exc.strerror or exc}",
                                              file=str(path), code="io"))
            return doc
    text = text.lstrip("\ufeff")
    doc = RawDocument(path, text)
    first = _BOUNDARY.match(text)
    if first is None or not text.startswith("---"):
        doc.body, doc.body_line = text, 1
        return doc
    second = _BOUNDARY.search(text, first.end())
    if second is None:
        doc.has_frontmatter = True
        doc.diagnostics.append(Diagnostic(
            "error", "frontmatter is not closed", file=doc.file, line=1, column=1,
            hint="end the YAML frontmatter with a line containing only '---'", code="frontmatter"))
        return doc
    doc.has_frontmatter = True
    fm = text[first.end():second.start()]
    fm_offset = text.count("\n", 0, first.end())
    doc.body = text[second.end():]
    doc.body_line = text.count("\n", 0, second.end()) + 1
    _parse_yaml(doc, fm, fm_offset)
    return doc


def _parse_yaml(doc: RawDocument, fm: str, offset: int) -> None:
    loader = _Loader(fm)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = str(exc.problem or "cannot parse")
        if exc.context:
            message += f" ({exc.context})"
        doc.diagnostics.append(Diagnostic(
            "error", f"invalid YAML: {message}", file=doc.file,
            line=offset + mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None, code="yaml",
            hint="check indentation, quoting and the ':' after each key"))
        return
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        doc.diagnostics.append(Diagnostic("error", f"invalid YAML: {exc}", file=doc.file,
                                          line=offset + 1, code="yaml"))
        return
    finally:
        loader.dispose()
    doc.data = {} if data is None else data
    if node is not None:
        _record_positions(doc, node, offset)


def _scalar_key(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return node.value
    return None


def _record_positions(doc: RawDocument, root: yaml.Node, offset: int) -> None:
    """Walk the composed nodes (iteratively: documents may nest deeply) and note positions."""
    positions = doc.positions
    stack: list[tuple[tuple, yaml.Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = _scalar_key(key_node)
                if key is None:
                    continue
                child = path + (key,)
                kmark, vmark = key_node.start_mark, value_node.start_mark
                if key in seen and key != "<<":
                    doc.diagnostics.append(Diagnostic(
                        "error", f"duplicate key '{key}' (first written on line {seen[key]})",
                        file=doc.file, line=offset + kmark.line + 1, column=kmark.column + 1,
                        field=_fmt(child), hint="remove one of the two entries", code="yaml"))
                seen.setdefault(key, offset + kmark.line + 1)
                positions.add(child, Pos(offset + kmark.line + 1, kmark.column + 1,
                                         offset + vmark.line + 1, vmark.column + 1,
                                         _is_block(value_node)))
                stack.append((child, value_node))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = path + (index,)
                mark = item.start_mark
                positions.add(child, Pos(offset + mark.line + 1, mark.column + 1,
                                         offset + mark.line + 1, mark.column + 1,
                                         _is_block(item)))
                stack.append((child, item))


def _is_block(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.style in ("|", ">")


def _fmt(path: tuple) -> str:
    from cao.spec.diagnostics import format_path

    return format_path(path)


def _split_sections(body: str, body_line: int) -> dict[str, Section]:
    sections: dict[str, Section] = {}
    current: str | None = None
    start = 0
    lines: list[str] = []
    in_fence = False

    def close() -> None:
        if current is not None and current not in sections:
            sections[current] = Section(current, "\n".join(lines).strip("\n"), start)

    for number, line in enumerate(body.split("\n")):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading and len(heading.group(1)) <= 2:
            close()
            lines = []
            current = heading.group(2).strip() if len(heading.group(1)) == 2 else None
            start = body_line + number + 1
            continue
        if current is not None:
            if not lines and not line.strip():
                start += 1   # the section's text starts at its first non-blank line
                continue
            lines.append(line)
    close()
    return sections
