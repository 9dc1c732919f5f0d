"""Screen-reading helpers shared by the provider classifiers and answer extractors.

Every agent TUI draws the same few things in its own glyphs: an input box at the bottom,
a history of user turns and answer blocks above it, a spinner while busy, a numbered
menu when it needs a decision. These helpers find those parts in plain screen text so
each provider only states its glyphs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from cao.providers.base import strip_ansi

RULE_CHARS = "─━═▀▄-"
BOX_SIDES = "│┃║"


def clean_lines(screen: str) -> list[str]:
    """Screen text as lines: ANSI removed, no-break spaces made plain, right-trimmed,
    trailing blank lines dropped."""
    text = strip_ansi(screen).replace("\xa0", " ").replace("\r", "")
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def is_rule(line: str, min_len: int = 20) -> bool:
    """A horizontal rule: a long run of one line-drawing character (optionally boxed)."""
    s = line.strip()
    return len(s) >= min_len and len(set(s)) == 1 and s[0] in RULE_CHARS


def ruled_input(lines: list[str], prompt_re: re.Pattern[str]) -> int:
    """Index of the rule drawn above the last input line matching `prompt_re`, or -1 when
    no such input box is on screen (Claude Code and Copilot CLI draw theirs this way)."""
    for i in range(len(lines) - 1, 0, -1):
        if prompt_re.match(lines[i]) and is_rule(lines[i - 1]):
            return i - 1
    return -1


def tail(lines: list[str], count: int) -> list[str]:
    """The last `count` non-blank lines."""
    return [line for line in lines if line.strip()][-count:]


def any_match(patterns: Iterable[re.Pattern[str]], lines: Iterable[str]) -> bool:
    text = "\n".join(lines)
    return any(p.search(text) for p in patterns)


def last_index(lines: list[str], pred: Callable[[str], bool], end: int | None = None) -> int:
    """Index of the last line before `end` satisfying `pred`, or -1."""
    stop = len(lines) if end is None else end
    for i in range(stop - 1, -1, -1):
        if pred(lines[i]):
            return i
    return -1


def block_after(lines: list[str], start: int, marker: str, indent: int | None = None,
                stop: Callable[[str], bool] | None = None) -> list[str]:
    """The answer block that starts at `lines[start]` with `marker` (e.g. "● ").

    Continuation lines are blank or indented at least `indent` columns (default: the
    marker's width, which is how every TUI here aligns wrapped answer text); the block
    ends at the first line that is not, or for which `stop` is true. The marker and the
    indentation are removed and trailing blank lines dropped.
    """
    first = lines[start]
    col = first.index(marker)
    width = indent if indent is not None else col + len(marker)
    out = [first[col + len(marker):]]
    for line in lines[start + 1:]:
        if stop is not None and stop(line):
            break
        if line.strip() and not line.startswith(" " * width):
            break
        out.append(line[width:] if line.strip() else "")
    while out and not out[-1].strip():
        out.pop()
    return out


def strip_box(line: str) -> str:
    """`│ text │` -> `text` (one level of box sides)."""
    s = line.strip()
    if s and s[0] in BOX_SIDES:
        s = s[1:]
    if s and s[-1] in BOX_SIDES:
        s = s[:-1]
    return s.strip()


def crop_sidebar(lines: list[str], headers: Iterable[str]) -> list[str]:
    """Cut a right-hand sidebar off. Its left edge is the column of a section header
    (one of `headers`) that ends a line after a wide gap."""
    pattern = re.compile(r"\s{20,}(" + "|".join(re.escape(h) for h in headers) + r")$")
    for line in lines:
        match = pattern.search(line)
        if match:
            col = match.start(1)
            return [line[:col].rstrip() for line in lines]
    return lines


def turn_after(history: list[str], is_prompt: Callable[[str], bool]) -> list[str] | None:
    """The current turn: the lines after the last echo of a prompt, or None when no
    prompt is on screen."""
    start = last_index(history, is_prompt)
    return None if start < 0 else history[start + 1:]


def last_turn_answer(lines: list[str], input_start: int,
                     last_turn: Callable[[list[str]], list[str] | None],
                     answer_start: Callable[[list[str]], int],
                     block: Callable[[list[str], int], list[str]]) -> str | None:
    """The answer on screen, in the shape the TUIs share: the history above the input
    area holds the last prompt's echo, then the agent's lines, the last of which to
    begin with the answer marker starts the answer block. None when nothing was asked
    yet or the answer is not on screen."""
    history = lines[:input_start] if input_start >= 0 else lines
    turn = last_turn(history)
    if turn is None:
        return None
    start = answer_start(turn)
    if start < 0:
        return None
    return join_answer(block(turn, start))


def numbered_menu(lines: list[str]) -> bool:
    """A selection menu with a highlighted first-level choice (`❯ 1.`, `› 1.`, `● 1.`)."""
    menu = re.compile(r"^\s*(?:[│┃]\s*)*[❯›>●]\s*\d+\.\s+\S")
    return any(menu.match(line) for line in lines)


def join_answer(lines: list[str]) -> str | None:
    text = "\n".join(lines).strip("\n")
    return text if text.strip() else None
