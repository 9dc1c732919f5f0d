"""Every classifier against every captured screen of its CLI (tests/fixtures/screens)."""

from __future__ import annotations

import re

import pytest

from cao.providers.base import TerminalStatus as S
from cao.providers.registry import get_provider

from provider_testlib import SCREENS, screen

MULTILINE = "Result for dataset A:\n\nmean = 3\nmedian = 3\n\n{b} checked inputs\n{b} computed stats\n\nDone."

# (provider, fixture dir, file, status, answer extracted from the screen)
CASES = [
    ("claude_code", "claude", "idle.txt", S.IDLE, None),
    ("claude_code", "claude", "firstrun-4.txt", S.IDLE, None),
    ("claude_code", "claude", "busy.txt", S.PROCESSING, None),
    ("claude_code", "claude", "done.txt", S.COMPLETED, "interactive answer from fake"),
    ("claude_code", "claude", "after-tool.txt", S.COMPLETED, "TOOL-DONE: (Bash completed with no output)"),
    ("claude_code", "claude", "mcp-done.txt", S.COMPLETED, 'TOOL-DONE: {"result":"echoed: tmux-mcp-claude"}'),
    ("claude_code", "claude", "permission.txt", S.WAITING_USER_ANSWER, None),
    ("claude_code", "claude", "firstrun-1.txt", S.ERROR, None),
    ("claude_code", "claude", "firstrun-2.txt", S.WAITING_USER_ANSWER, None),
    ("claude_code", "claude", "firstrun-3.txt", S.WAITING_USER_ANSWER, None),
    ("claude_code", "claude", "multiline-live.txt", S.COMPLETED, MULTILINE.format(b="-")),
    ("codex", "codex", "idle.txt", S.IDLE, None),
    ("codex", "codex", "firstrun-1.txt", S.IDLE, None),
    ("codex", "codex", "busy.txt", S.PROCESSING, None),
    ("codex", "codex", "done.txt", S.COMPLETED, "interactive answer from fake codex"),
    ("codex", "codex", "shell-1.txt", S.COMPLETED,
     "TOOL-DONE: Chunk ID: e87053\nWall time: 0.0000 seconds\nProcess exited with code 0\n"
     "Original token count: 0\nOutput:"),
    ("codex", "codex", "mcp-done.txt", S.COMPLETED,
     'TOOL-DONE: Wall time: 0.0091 seconds\nOutput:\n{"result":"echoed: tmux-mcp-codex"}'),
    ("codex", "codex", "firstrun-git.txt", S.WAITING_USER_ANSWER, None),
    ("codex", "codex", "permission-live.txt", S.WAITING_USER_ANSWER, None),
    # Codex renders Markdown list bullets as `•` on screen; the session log keeps `-`.
    ("codex", "codex", "multiline-live.txt", S.COMPLETED, MULTILINE.format(b="•")),
    ("gemini_cli", "gemini", "idle.txt", S.IDLE, None),
    ("gemini_cli", "gemini", "firstrun-1.txt", S.IDLE, None),
    ("gemini_cli", "gemini", "busy.txt", S.PROCESSING, None),
    ("gemini_cli", "gemini", "done.txt", S.COMPLETED, "interactive answer from fake gemini"),
    ("gemini_cli", "gemini", "after-tool.txt", S.COMPLETED,
     "TOOL-DONE: <untrusted_context>\nOutput: (empty)\nProcess Group PGID: 16348\n</untrusted_context>"),
    ("gemini_cli", "gemini", "mcp-done.txt", S.COMPLETED,
     "TOOL-DONE: <untrusted_context>\nechoed: tmux-mcp-gemini\n</untrusted_context>"),
    ("gemini_cli", "gemini", "permission.txt", S.WAITING_USER_ANSWER, None),
    ("gemini_cli", "gemini", "firstrun-fresh.txt", S.WAITING_USER_ANSWER, None),
    ("gemini_cli", "gemini", "firstrun-fresh-2.txt", S.WAITING_USER_ANSWER, None),
    ("gemini_cli", "gemini", "loop-detected-live.txt", S.WAITING_USER_ANSWER, None),
    ("gemini_cli", "gemini", "multiline-live.txt", S.COMPLETED, MULTILINE.format(b=" -")),
    ("qwen_code", "qwen", "idle.txt", S.IDLE, None),
    ("qwen_code", "qwen", "firstrun-1.txt", S.IDLE, None),
    ("qwen_code", "qwen", "busy.txt", S.PROCESSING, None),
    ("qwen_code", "qwen", "done.txt", S.COMPLETED, "interactive answer from fake qwen"),
    ("qwen_code", "qwen", "mcp.txt", S.COMPLETED, "TOOL-DONE: echoed: tmux-mcp-qwen"),
    ("qwen_code", "qwen", "permission.txt", S.WAITING_USER_ANSWER, None),
    ("qwen_code", "qwen", "multiline-live.txt", S.COMPLETED, MULTILINE.format(b=" -")),
    ("opencode_cli", "opencode", "idle.txt", S.IDLE, None),
    ("opencode_cli", "opencode", "busy.txt", S.PROCESSING, None),
    ("opencode_cli", "opencode", "done.txt", S.COMPLETED, "interactive answer from fake opencode"),
    ("opencode_cli", "opencode", "shell.txt", S.COMPLETED, "TOOL-DONE: (no output)"),
    ("opencode_cli", "opencode", "mcp-done.txt", S.COMPLETED, "TOOL-DONE: echoed: tmux-mcp-opencode"),
    ("opencode_cli", "opencode", "permission-live.txt", S.WAITING_USER_ANSWER, None),
    ("opencode_cli", "opencode", "multiline-live.txt", S.COMPLETED, MULTILINE.format(b="-")),
    ("copilot_cli", "copilot", "idle-live.txt", S.IDLE, None),
    ("copilot_cli", "copilot", "busy-live.txt", S.PROCESSING, None),
    ("copilot_cli", "copilot", "done-live.txt", S.COMPLETED, "copilot line one\ncopilot line two"),
    ("copilot_cli", "copilot", "firstrun-trust-live.txt", S.WAITING_USER_ANSWER, None),
    ("copilot_cli", "copilot", "permission-live.txt", S.WAITING_USER_ANSWER, None),
    ("copilot_cli", "copilot", "mcp-permission-live.txt", S.WAITING_USER_ANSWER, None),
    ("copilot_cli", "copilot", "mcp-done-live.txt", S.COMPLETED,
     'TOOL-DONE: echoed: tui copilot\n\n{"result":"echoed: tui copilot"}'),
    ("copilot_cli", "copilot", "mcp-allowed-live.txt", S.COMPLETED,
     'TOOL-DONE: echoed: cop mcp\n\n{"result":"echoed: cop mcp"}'),
    # hand-written from public docs and issues (unverified providers; see their READMEs)
    ("q_cli", "q_cli", "idle.txt", S.IDLE, None),
    ("q_cli", "q_cli", "busy.txt", S.PROCESSING, None),
    ("q_cli", "q_cli", "done.txt", S.COMPLETED, "The working tree is clean.\n\nNothing to commit on branch main."),
    ("q_cli", "q_cli", "permission.txt", S.WAITING_USER_ANSWER, None),
    ("q_cli", "q_cli", "error.txt", S.ERROR, None),
    ("kiro_cli", "kiro_cli", "legacy-idle.txt", S.IDLE, None),
    ("kiro_cli", "kiro_cli", "legacy-done.txt", S.COMPLETED, "The mean is 3.\n\nSum 15 over 5 values."),
    ("kiro_cli", "kiro_cli", "legacy-permission.txt", S.WAITING_USER_ANSWER, None),
    ("kiro_cli", "kiro_cli", "tui-idle.txt", S.IDLE, None),
    ("kiro_cli", "kiro_cli", "tui-busy.txt", S.PROCESSING, None),
    ("kiro_cli", "kiro_cli", "tui-done.txt", S.COMPLETED, "The mean is 3.\n\nSum 15 over 5 values."),
    ("kimi_cli", "kimi_cli", "idle.txt", S.IDLE, None),
    ("kimi_cli", "kimi_cli", "busy.txt", S.PROCESSING, None),
    ("kimi_cli", "kimi_cli", "done.txt", S.COMPLETED,
     "The mean is 3.\n\ndef mean(xs):\n    return sum(xs) / len(xs)"),
    ("kimi_cli", "kimi_cli", "permission.txt", S.WAITING_USER_ANSWER, None),
    # Seen live: after a 120-line answer the visible screen no longer shows the prompt it
    # answers (nor the answer's first line); it must read `completed`, not `idle`. The
    # answer itself comes from the scrollback or the session log, so it is not checked.
    ("claude_code", "claude", "long-answer-live.txt", S.COMPLETED, ...),
    ("codex", "codex", "long-answer-live.txt", S.COMPLETED, ...),
    ("gemini_cli", "gemini", "long-answer-live.txt", S.COMPLETED, ...),
    ("qwen_code", "qwen", "long-answer-live.txt", S.COMPLETED, ...),
    ("copilot_cli", "copilot", "long-answer-live.txt", S.COMPLETED, ...),
]


@pytest.mark.parametrize("provider,cli,name,status,answer", CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_screen(provider, cli, name, status, answer):
    p = get_provider(provider)
    text = screen(cli, name)
    assert p.classify(text) == status
    if status == S.COMPLETED and answer is not ...:
        assert p.extract_last_answer(text, "") == answer
    if status == S.PROCESSING:
        # a busy screen has no finished answer for this turn
        assert p.extract_last_answer(text, "") is None


@pytest.mark.parametrize("took", ["450ms", "3.3s", "1m 7s", "2m", "1h 2m", "3h", "1d 2h"])
def test_opencode_turn_done_whatever_it_took(took):
    # opencode ends a turn with `▣  Build · model · <duration>`; past a minute the
    # duration reads `1m 7s`, and a turn that long must still read as done.
    # Same width as the captured line, so the sidebar beside it stays in its column.
    text = re.sub(r"· 3\.3s( +)", lambda m: f"· {took}".ljust(len(m.group(0))),
                  screen("opencode", "done.txt"))
    p = get_provider("opencode_cli")
    assert p.classify(text) == S.COMPLETED
    assert p.extract_last_answer(text, "") == "interactive answer from fake opencode"


def test_every_captured_screen_is_covered():
    covered = {(c[1], c[2]) for c in CASES}
    dirs = {c[1] for c in CASES}
    for cli in dirs:
        for path in (SCREENS / cli).glob("*.txt"):
            assert (cli, path.name) in covered, f"screen fixture {cli}/{path.name} has no test"


@pytest.mark.parametrize("provider,cli,name,keys", [
    ("claude_code", "claude", "firstrun-2.txt", ["Enter"]),
    ("claude_code", "claude", "firstrun-3.txt", ["Up", "Enter"]),
    ("codex", "codex", "firstrun-git.txt", ["Enter"]),
    ("gemini_cli", "gemini", "firstrun-fresh.txt", ["Enter"]),
    ("gemini_cli", "gemini", "firstrun-fresh-2.txt", ["Enter"]),
    ("copilot_cli", "copilot", "firstrun-trust-live.txt", ["Enter"]),
])
def test_first_run_dialogs_are_answered(provider, cli, name, keys):
    answer = get_provider(provider).dialog_answer(screen(cli, name))
    assert answer is not None and answer.keys == keys and answer.reason


@pytest.mark.parametrize("provider,cli,name", [
    ("claude_code", "claude", "permission.txt"),
    ("codex", "codex", "permission-live.txt"),
    ("gemini_cli", "gemini", "permission.txt"),
    ("qwen_code", "qwen", "permission.txt"),
    ("gemini_cli", "gemini", "loop-detected-live.txt"),
    ("copilot_cli", "copilot", "permission-live.txt"),
    ("copilot_cli", "copilot", "mcp-permission-live.txt"),
])
def test_permission_prompts_are_never_answered_automatically(provider, cli, name):
    assert get_provider(provider).dialog_answer(screen(cli, name)) is None


def test_ansi_and_nbsp_do_not_matter():
    p = get_provider("claude_code")
    text = screen("claude", "done.txt").replace("● ", "\x1b[38;5;15m●\x1b[0m\xa0", 1)
    assert p.classify(text) == S.COMPLETED
    assert p.extract_last_answer(text, "") == "interactive answer from fake"


@pytest.mark.parametrize("name,unverified", [
    ("claude_code", False), ("codex", False), ("gemini_cli", False), ("opencode_cli", False),
    ("qwen_code", False), ("copilot_cli", False),
    ("kiro_cli", True), ("q_cli", True), ("kimi_cli", True)])
def test_unverified_flag(name, unverified):
    provider = get_provider(name)
    assert provider.unverified is unverified
    assert bool(provider.verified_versions) is not unverified

