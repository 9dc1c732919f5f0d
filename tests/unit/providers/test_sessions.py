"""Answers read from the CLIs' own session logs: exact text, whatever the screen did."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cao.providers import _sessions
from cao.providers.registry import get_provider
from provider_testlib import SESSIONS

EXPECTED = "Result for dataset A:\n\nmean = 3\nmedian = 3\n\n- checked inputs\n- computed stats\n\nDone."
REAL = ["claude_code", "codex", "gemini_cli", "opencode_cli", "qwen_code"]


@pytest.mark.parametrize("name", REAL)
def test_session_answer_from_real_logs(name, make_ctx):
    """tests/fixtures/sessions/<name> holds a session log the pinned CLI wrote while
    answering the multi-paragraph fixture (trimmed to the records readers use)."""
    ctx = make_ctx()
    shutil.copytree(SESSIONS / name, ctx.terminal_home)
    assert get_provider(name).session_answer(ctx) == EXPECTED


@pytest.mark.parametrize("name", REAL)
def test_no_log_no_answer(name, make_ctx):
    assert get_provider(name).session_answer(make_ctx()) is None


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


LONG = "\n".join(f"line {i}: " + "word " * (i % 40) for i in range(300))


def test_claude_long_answer_after_tool_use_and_out_of_order_entries(tmp_path):
    log = tmp_path / ".claude" / "projects" / "-work" / "s.jsonl"
    _write_jsonl(log, [
        {"type": "assistant", "timestamp": "2026-01-01T00:00:03Z",
         "message": {"content": [{"type": "text", "text": LONG}]}},
        {"type": "user", "timestamp": "2026-01-01T00:00:01Z", "message": {"content": "go"}},
        {"type": "assistant", "timestamp": "2026-01-01T00:00:02Z",
         "message": {"content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]}},
        {"type": "user", "timestamp": "2026-01-01T00:00:02.5Z",
         "message": {"content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}},
        {"type": "user", "timestamp": "2026-01-01T00:00:09Z",
         "message": {"content": "<command-name>/exit</command-name>"}},
        {"type": "assistant", "timestamp": "2026-01-01T00:00:04Z", "isSidechain": True,
         "message": {"content": [{"type": "text", "text": "subagent chatter"}]}},
    ])
    assert _sessions.claude_answer(tmp_path) == LONG


def test_codex_takes_the_latest_turn(tmp_path):
    log = tmp_path / ".codex" / "sessions" / "2026" / "01" / "01" / "rollout-x.jsonl"
    _write_jsonl(log, [
        {"type": "event_msg", "payload": {"type": "task_started"}},
        {"type": "event_msg", "payload": {"type": "task_complete", "last_agent_message": "old"}},
        {"type": "event_msg", "payload": {"type": "task_started"}},
        {"type": "response_item", "payload": {"type": "message", "role": "assistant",
                                              "content": [{"type": "output_text", "text": LONG}]}},
    ])
    assert _sessions.codex_answer(tmp_path) == LONG


def test_gemini_ignores_tool_results_and_empty_tool_call_records(tmp_path):
    log = tmp_path / ".gemini" / "tmp" / "p" / "chats" / "session-1.jsonl"
    _write_jsonl(log, [
        {"type": "user", "content": [{"text": "go"}]},
        {"type": "gemini", "content": ""},
        {"type": "user", "content": [{"functionResponse": {"name": "x", "response": {}}}]},
        {"type": "gemini", "content": LONG},
    ])
    assert _sessions.gemini_answer(tmp_path) == LONG


def test_a_partly_written_last_line_is_skipped(tmp_path):
    log = tmp_path / ".qwen" / "projects" / "w" / "chats" / "s.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps({"type": "user", "message": {"parts": [{"text": "go"}]}}) + "\n"
                   + json.dumps({"type": "assistant", "message": {"parts": [{"text": "A"}]}})
                   + "\n{\"type\": \"assis")
    assert _sessions.qwen_answer(tmp_path) == "A"


def test_cleanup_reaps_processes_of_the_terminal(make_ctx):
    """Codex's app-server daemon outlives the TUI; anything whose environment says it
    belongs to the terminal is terminated."""
    ctx = make_ctx()
    ctx.terminal_home.mkdir(parents=True)
    sleeper = "import time; time.sleep(60)"
    by_id = subprocess.Popen([sys.executable, "-c", sleeper],
                             env={"CAO_TERMINAL_ID": ctx.terminal_id, "PATH": "/usr/bin:/bin"})
    by_home = subprocess.Popen([sys.executable, "-c", sleeper],
                               env={"HOME": str(ctx.terminal_home), "PATH": "/usr/bin:/bin"})
    other = subprocess.Popen([sys.executable, "-c", sleeper],
                             env={"CAO_TERMINAL_ID": "someone-else", "PATH": "/usr/bin:/bin"})
    try:
        time.sleep(0.2)
        get_provider("codex").cleanup(ctx)
        assert by_id.wait(timeout=5) is not None
        assert by_home.wait(timeout=5) is not None
        assert other.poll() is None
    finally:
        for proc in (by_id, by_home, other):
            proc.kill()
            proc.wait()
