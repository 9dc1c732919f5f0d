"""Read the last answer from each CLI's own session log under the terminal home.

The screen wraps long lines and decorates text; the session logs hold the model's text
exactly. Each reader returns the text of the assistant's final message of the latest
turn, or None when the log is missing or the turn has no text yet. Formats are those of
the verified CLI versions (see docs/providers.md); a reader that meets an unknown shape
returns None and cao falls back to the screen.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cao.providers._common import newest


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line still being written
            if isinstance(value, dict):
                yield value


def _texts(blocks: Any, text_key: str = "text") -> list[str]:
    if isinstance(blocks, str):
        return [blocks]
    return [b[text_key] for b in blocks or []
            if isinstance(b, dict) and isinstance(b.get(text_key), str)
            and b.get("type", "text") == "text" and not b.get("thought")]


def claude_answer(home: Path) -> str | None:
    """~/.claude/projects/<cwd>/<session>.jsonl: user / assistant entries.

    Entries are not always written in order (the assistant reply can land before the
    prompt that caused it), so they are replayed by timestamp. Slash commands such as
    /exit are logged as user entries too and do not start a turn.
    """
    log = newest(list((home / ".claude" / "projects").glob("*/*.jsonl")))
    if log is None:
        return None
    entries = [e for e in _jsonl(log) if e.get("timestamp") and not e.get("isSidechain")]
    entries.sort(key=lambda e: str(e["timestamp"]))
    parts: list[str] = []
    for entry in entries:
        kind = entry.get("type")
        message = entry.get("message") or {}
        if kind == "user":
            content = message.get("content")
            if isinstance(content, str) and content.lstrip().startswith(("<local-command",
                                                                         "<command-")):
                continue
            parts = []  # a new prompt or a tool result: what follows is a newer message
        elif kind == "assistant":
            text = "".join(_texts(message.get("content")))
            if text:
                parts.append(text)
    return "\n\n".join(parts) if parts else None


def codex_answer(home: Path) -> str | None:
    """~/.codex/sessions/Y/M/D/rollout-*.jsonl: `task_complete` carries the final text."""
    log = newest(list((home / ".codex" / "sessions").glob("**/rollout-*.jsonl")))
    if log is None:
        return None
    answer = None
    for entry in _jsonl(log):
        payload = entry.get("payload") or {}
        if entry.get("type") == "event_msg" and payload.get("type") == "task_started":
            answer = None
        elif entry.get("type") == "event_msg" and payload.get("type") == "task_complete":
            answer = payload.get("last_agent_message") or answer
        elif (entry.get("type") == "response_item" and payload.get("type") == "message"
              and payload.get("role") == "assistant"):
            text = "".join(_texts(payload.get("content"))) or "".join(
                c.get("text", "") for c in payload.get("content") or [] if isinstance(c, dict))
            answer = text or answer
    return answer


def _gemini_like(records: Iterator[dict[str, Any]], model_type: str) -> str | None:
    answer = None
    for record in records:
        kind = record.get("type")
        if kind == "user":
            content = record.get("content")
            # a tool result is also a "user" record, but only a prompt starts a new turn
            if _texts(content):
                answer = None
        elif kind == model_type:
            text = "".join(_texts(record.get("content")))
            if text:
                answer = text
    return answer


def gemini_answer(home: Path) -> str | None:
    """~/.gemini/tmp/<project>/chats/session-*.jsonl: `user` / `gemini` records."""
    log = newest(list((home / ".gemini" / "tmp").glob("*/chats/session-*.jsonl")))
    return _gemini_like(_jsonl(log), "gemini") if log else None


def qwen_answer(home: Path) -> str | None:
    """~/.qwen/projects/<cwd>/chats/<session>.jsonl: `user` / `assistant` records whose
    `message.parts` hold the text."""
    log = newest(list((home / ".qwen" / "projects").glob("*/chats/*.jsonl")))
    if log is None:
        return None
    answer = None
    for record in _jsonl(log):
        kind = record.get("type")
        parts = (record.get("message") or {}).get("parts")
        if kind == "user" and _texts(parts):
            answer = None
        elif kind == "assistant":
            text = "".join(_texts(parts))
            if text:
                answer = text
    return answer


def opencode_answer(home: Path) -> str | None:
    """~/.local/share/opencode/opencode.db: `message` rows with `part` rows of text."""
    db = home / ".local" / "share" / "opencode" / "opencode.db"
    if not db.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute("SELECT id, data FROM message ORDER BY time_created, id").fetchall()
        answer_ids: list[str] = []
        for msg_id, data in rows:
            role = json.loads(data).get("role")
            if role == "user":
                answer_ids = []
            elif role == "assistant":
                answer_ids.append(msg_id)
        for msg_id in reversed(answer_ids):
            parts = conn.execute("SELECT data FROM part WHERE message_id = ? "
                                 "ORDER BY time_created, id", (msg_id,)).fetchall()
            texts = [json.loads(p[0]) for p in parts]
            text = "".join(t.get("text", "") for t in texts if t.get("type") == "text")
            if text:
                return text
    except (sqlite3.Error, json.JSONDecodeError):
        return None
    finally:
        conn.close()
    return None


def copilot_answer(home: Path) -> str | None:
    """~/.copilot/session-state/<id>/events.jsonl: `user.message` / `assistant.message`."""
    log = newest(list((home / ".copilot" / "session-state").glob("*/events.jsonl")))
    if log is None:
        return None
    answer = None
    for event in _jsonl(log):
        kind = event.get("type")
        data = event.get("data") or {}
        if kind == "user.message":
            answer = None
        elif kind == "assistant.message" and isinstance(data.get("content"), str):
            answer = data["content"] or answer
    return answer
