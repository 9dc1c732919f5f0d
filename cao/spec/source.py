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

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVED: dict[str, str] = {}


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader with tag resolution memoised: resolving a plain scalar only depends
    on its text, and ids, keys and profile names repeat thousands of times in big files."""

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode:
            if not implicit[0]:   # quoted or block scalar: always a string
                return self.DEFAULT_SCALAR_TAG
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_RESOLVED) < 100_000:
                    _RESOLVED[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def descend_resolver(self, current_node, current_index):  # no path resolvers here
        return None

    def ascend_resolver(self):
        return None
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
    """Maps a path like ('nodes', 'b', 'needs', 0) to where it is written.

    Looked up lazily in the composed YAML nodes: positions are only needed for
    diagnostics, so a valid 10,000-node workflow never pays for indexing them."""

    def __init__(self, root: yaml.Node | None = None, offset: int = 0) -> None:
        self.root = root
        self.offset = offset
        self._index: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}

    def _child(self, node: yaml.Node, part: Any) -> tuple[yaml.Node, yaml.Node] | None:
        if isinstance(node, yaml.MappingNode):
            index = self._index.get(id(node))
            if index is None:
                index = {}
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        index.setdefault(key_node.value, (key_node, value_node))
                self._index[id(node)] = index
            return index.get(str(part))
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and 0 <= part < len(node.value):
            item = node.value[part]
            return item, item
        return None

    def _pos(self, key_node: yaml.Node, value_node: yaml.Node) -> Pos:
        k, v = key_node.start_mark, value_node.start_mark
        return Pos(self.offset + k.line + 1, k.column + 1, self.offset + v.line + 1,
                   v.column + 1, isinstance(value_node, yaml.ScalarNode)
                   and value_node.style in ("|", ">"))

    def get(self, path: tuple | list) -> Pos | None:
        """The position of the path, or of its nearest written ancestor."""
        node, found = self.root, None
        for part in path:
            if node is None:
                break
            child = self._child(node, part)
            if child is None:
                break
            found = child
            node = child[1]
        return self._pos(*found) if found else None

    def exact(self, path: tuple | list) -> Pos | None:
        node, found = self.root, None
        for part in path:
            child = self._child(node, part) if node is not None else None
            if child is None:
                return None
            found = child
            node = child[1]
        return self._pos(*found) if found else None


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
        duplicates: list[tuple[tuple, yaml.Node, yaml.Node]] = []
        if node is None:
            data = None
        else:
            try:
                data = _construct(node, loader, (), duplicates, {})
            except _Unusual:   # merge keys, explicit tags...: PyYAML's own constructor
                duplicates.clear()
                data = loader.construct_document(node)
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
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        doc.diagnostics.append(Diagnostic("error", f"invalid YAML: {exc}", file=doc.file,
                                          line=offset + 1, code="yaml"))
        return
    finally:
        loader.dispose()
    doc.data = {} if data is None else data
    doc.positions = Positions(node, offset)
    for path, key_node, first in duplicates:
        doc.diagnostics.append(Diagnostic(
            "error", f"duplicate key '{path[-1]}' (first written on line "
                     f"{offset + first.start_mark.line + 1})",
            file=doc.file, line=offset + key_node.start_mark.line + 1,
            column=key_node.start_mark.column + 1, field=_fmt(path),
            hint="remove one of the two entries", code="yaml"))


class _Unusual(Exception):
    """The document uses a YAML feature the fast constructor leaves to PyYAML."""


_STR, _SEQ, _MAP = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")
_SCALARS = {tag: fn for tag, fn in yaml.SafeLoader.yaml_constructors.items()
            if tag and tag.rsplit(":", 1)[-1] in ("null", "bool", "int", "float", "timestamp")}


def _construct(node: yaml.Node, loader: Any, path: tuple,
               duplicates: list, memo: dict[int, Any]) -> Any:
    """Python data from composed nodes, noting duplicate keys on the way. About twice as
    fast as PyYAML's constructor, which matters for 10,000-node workflows."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR:
            return node.value
        build = _SCALARS.get(node.tag)
        if build is None:
            raise _Unusual
        return build(loader, node)
    cached = memo.get(id(node))
    if cached is not None:
        return cached
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            raise _Unusual
        items: list = []
        memo[id(node)] = items
        for i, item in enumerate(node.value):
            items.append(_construct(item, loader, path, duplicates, memo))
        return items
    if not isinstance(node, yaml.MappingNode) or node.tag != _MAP:
        raise _Unusual
    mapping: dict = {}
    memo[id(node)] = mapping
    first_keys: dict = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise _Unusual   # complex keys: let PyYAML explain
        key = _construct(key_node, loader, path, duplicates, memo)
        if key in first_keys:
            duplicates.append((path + (key,), key_node, first_keys[key]))
        else:
            first_keys[key] = key_node
        mapping[key] = _construct(value_node, loader, path + (key,), duplicates, memo)
    return mapping


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
