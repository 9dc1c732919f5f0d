"""The python host's input reader: keystrokes and bracketed pastes, split anywhere."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings, strategies as st

from cao.providers.python_host import PASTE_BEGIN, PASTE_END, InputReader


def feed(chunks: list[bytes]) -> list[str]:
    """Write chunks to a pipe one by one and read every submission back."""
    r, w = os.pipe()
    reader = InputReader(r)
    out = []
    import threading

    def writer():
        for chunk in chunks:
            os.write(w, chunk)
        os.close(w)

    t = threading.Thread(target=writer)
    t.start()
    try:
        while True:
            out.append(reader.read_submission(echo=False))
    except EOFError:
        pass
    t.join()
    os.close(r)
    return out


def test_typed_line_with_backspace():
    assert feed([b"helo\x7flo\r"]) == ["hello"]


def test_paste_keeps_newlines_and_control_text():
    text = "line1\nline2\r\n$(rm -rf /) `x` \x03 tab\t"
    assert feed([PASTE_BEGIN + text.encode() + PASTE_END + b"\r"]) == [text]


def test_empty_enter_is_ignored_and_two_submissions_in_one_chunk():
    assert feed([b"\r\rone\rtwo\r"]) == ["one", "two"]


@settings(max_examples=150, deadline=None)
@given(text=st.text(min_size=1).filter(lambda t: t.strip() and "\x1b" not in t),
       cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=6))
def test_pastes_split_at_any_byte_arrive_whole(text, cuts):
    data = PASTE_BEGIN + text.encode("utf-8") + PASTE_END + b"\r"
    points = sorted({c % len(data) for c in cuts})
    chunks, last = [], 0
    for p in points:
        chunks.append(data[last:p])
        last = p
    chunks.append(data[last:])
    assert feed([c for c in chunks if c]) == [text]
