"""Kiro CLI (`kiro-cli chat`), successor of Amazon Q CLI and the reference system's
default provider. UNVERIFIED: installed by a native installer with an AWS login, neither
available offline here; built from public documentation and issue threads.

Two screens exist. The classic one (`--legacy-ui`, Q CLI's) is handled by the shared
Q-family rules. The default TUI (2.x) shows a placeholder
`ask a question, or describe a task` that stays visible even while busy, a busy line
`Thinking...` (older: `Kiro is working`), and ends each answer with a `▸ Credits:` line.
Since 2.11 a bracketed paste needs a second Enter to submit.
"""

from __future__ import annotations

import re

from cao.providers import _screen as sc
from cao.providers._q_family import PERMISSION_RES, QFamilyProvider
from cao.providers.base import LaunchContext, LaunchPlan, TerminalStatus

TUI_IDLE_RE = re.compile(r"ask a question,? or describe a task")
TUI_BUSY_RE = re.compile(r"Thinking\.\.\.|Kiro is working")
CREDITS_RE = re.compile(r"^\s*▸ Credits:")
ERROR_RE = re.compile(r"Kiro is having trouble responding right now")


class KiroCliProvider(QFamilyProvider):
    name = "kiro_cli"
    binary = "kiro-cli"
    install_hint = "install Kiro CLI (https://kiro.dev/cli), then `kiro-cli login`"
    agents_dir = ".kiro/agents"
    data_dirs = (".local/share/kiro-cli", ".aws/sso", ".aws/credentials", ".aws/config")
    error_res = [ERROR_RE]

    @property
    def submit_keys(self) -> list[str]:
        return ["Enter", "Enter"]  # 2.11+: the first Enter only ends the paste

    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        plan = super().build_launch(ctx)
        # Settings file of the per-terminal HOME: no self-update while cao drives it.
        plan.files[ctx.terminal_home / ".kiro" / "settings" / "cli.json"] = (
            '{\n  "app.disableAutoupdates": true,\n  "telemetry.enabled": false\n}\n')
        return plan

    def classify(self, screen: str) -> TerminalStatus:
        lines = sc.clean_lines(screen)
        if not any(TUI_IDLE_RE.search(line) for line in sc.tail(lines, 6)):
            return super().classify(screen)
        bottom = sc.tail(lines, 12)
        if sc.any_match(PERMISSION_RES, bottom):
            return TerminalStatus.WAITING_USER_ANSWER
        if any(TUI_BUSY_RE.search(line) for line in bottom):
            return TerminalStatus.PROCESSING
        credits = sc.last_index(lines, lambda l: bool(CREDITS_RE.match(l)))
        if any(ERROR_RE.search(line) for line in lines[credits + 1:]):
            return TerminalStatus.ERROR
        return TerminalStatus.COMPLETED if credits >= 0 else TerminalStatus.IDLE

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        lines = sc.clean_lines(screen)
        credits = sc.last_index(lines, lambda l: bool(CREDITS_RE.match(l)))
        if credits < 0:
            return super().extract_last_answer(screen, transcript)
        top = sc.last_index(lines, sc.is_rule, end=credits)
        body = lines[top + 1:credits]
        # the first paragraph echoes the user's message
        while body and not body[0].strip():
            body.pop(0)
        while body and body[0].strip():
            body.pop(0)
        indents = [len(l) - len(l.lstrip()) for l in body if l.strip()]
        cut = min(indents) if indents else 0
        return sc.join_answer([l[cut:] if l.strip() else "" for l in body])
