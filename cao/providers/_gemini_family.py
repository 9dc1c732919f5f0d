"""What Gemini CLI and its fork Qwen Code share: settings layout, screen and answer shape.

Both read `~/.<dir>/settings.json` (auth type, auto-update, MCP servers with `trust`),
load `~/.<dir>/<CONTEXT>.md` as global memory (where cao puts the profile's system
prompt, so the CLI keeps its own), draw an input line `>   Type your message...` under a
rule, show `(... esc to cancel ...)` while busy, answer in `✦ ` blocks and ask for tool
permission in a box with "Allow execution of ...".
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

from cao.providers import _screen as sc
from cao.providers._common import (
    AgentCliProvider, isolated_env, mcp_servers, passthrough, profile_attr, system_prompt,
    timeout_ms, translate_tools)
from cao.providers.base import DialogAnswer, LaunchContext, LaunchPlan, TerminalStatus

INPUT_RE = re.compile(r"^\s*(?:│\s*)?>\s{1,3}\S")
PLACEHOLDER_RE = re.compile(r"Type your message")
USER_ECHO_RE = re.compile(r"^\s{0,3}> \S")
BUSY_RES = [re.compile(r"esc to cancel"), re.compile(r"^\s*[⠁-⣿]\s+\S.*\(\d+s")]
PERMISSION_RES = [re.compile(r"Allow execution of"), re.compile(r"Waiting for user confirmation"),
                  re.compile(r"Apply this change\?"), re.compile(r"Do you want to proceed\?"),
                  re.compile(r"[●›]\s*1\.\s+(?:Allow once|Yes, allow once)")]
ERROR_RES = [re.compile(r"^\s*✕ "), re.compile(r"\[API Error")]
STATUS_HINT_RE = re.compile(r"for shortcuts|esc to cancel")


def input_area_start(lines: list[str]) -> int:
    """Index where the input area (status hint, rule, input line, footer) begins, or -1."""
    for i in range(len(lines) - 1, -1, -1):
        if INPUT_RE.match(lines[i]) and (PLACEHOLDER_RE.search(lines[i]) or i >= len(lines) - 8):
            rule = sc.last_index(lines, sc.is_rule, end=i)
            if rule < 0:
                return -1
            while rule > 0 and (STATUS_HINT_RE.search(lines[rule - 1]) or not lines[rule - 1].strip()):
                rule -= 1
            return rule
    return -1


class GeminiFamilyProvider(AgentCliProvider):
    settings_dir: ClassVar[str]
    context_file: ClassVar[str]
    auth_type: ClassVar[str]
    env_passthrough: ClassVar[list[str]] = []
    # Trust and auth dialogs that are safe to accept with Enter (default choice shown).
    safe_dialogs: ClassVar[list[tuple[re.Pattern[str], re.Pattern[str], str]]] = []
    blocking_dialogs: ClassVar[list[re.Pattern[str]]] = []
    banner_re: ClassVar[re.Pattern[str]] = re.compile(r"Tips for getting started|Tips:")
    exit_command = "/quit"

    # -- launch -----------------------------------------------------------------------
    def settings(self, ctx: LaunchContext) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "security": {"auth": {"selectedType": self.auth_type}},
            "privacy": {"usageStatisticsEnabled": False},
            # The only switch that stops these TUIs from `npm install -g`-ing a newer self.
            "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
            "mcpServers": {name: {"command": s.command, "args": s.args, "env": s.env,
                                  "trust": True, **timeout_ms(s)}
                           for name, s in mcp_servers(ctx).items()},
        }
        allowed = translate_tools(self.name, profile_attr(ctx.profile, "allowedTools"))
        if allowed:
            settings["tools"] = {"allowed": [t for t in allowed if not t.startswith("@")
                                             and t != "*"]}
        return settings

    def extra_env(self, ctx: LaunchContext) -> dict[str, str]:
        return {}

    def context_text(self, ctx: LaunchContext) -> str:
        return system_prompt(ctx)

    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        home = ctx.terminal_home / self.settings_dir
        files: dict[Path, str] = {home / "settings.json": json.dumps(self.settings(ctx), indent=2)}
        context = self.context_text(ctx)
        if context:
            files[home / self.context_file] = context + "\n"
        argv = [self.binary or self.name]
        model = profile_attr(ctx.profile, "model")
        if model:
            argv += ["--model", str(model)]
        if ctx.yolo or "*" in (profile_attr(ctx.profile, "allowedTools") or []):
            argv.append("--yolo")
        env = {**isolated_env(ctx), **passthrough(ctx, self.env_passthrough),
               **self.extra_env(ctx)}
        return LaunchPlan(argv=argv, env=env, files=files, cwd=ctx.working_directory)

    def dialog_answer(self, screen: str) -> DialogAnswer | None:
        bottom = sc.tail(sc.clean_lines(screen), 30)
        text = "\n".join(bottom)
        for question, default, reason in self.safe_dialogs:
            if question.search(text) and default.search(text):
                return DialogAnswer(["Enter"], reason)
        return None

    # -- screen -----------------------------------------------------------------------
    def classify(self, screen: str) -> TerminalStatus:
        lines = sc.clean_lines(screen)
        if not lines:
            return TerminalStatus.STARTING
        bottom = sc.tail(lines, 30)
        if self.dialog_answer(screen) is not None or sc.any_match(self.blocking_dialogs, bottom):
            return TerminalStatus.WAITING_USER_ANSWER
        if sc.any_match(PERMISSION_RES, sc.tail(lines, 20)):
            return TerminalStatus.WAITING_USER_ANSWER
        area = input_area_start(lines)
        if area < 0 and sc.numbered_menu(sc.tail(lines, 12)):
            return TerminalStatus.WAITING_USER_ANSWER  # any other question box, e.g. loop detection
        status_zone = lines[area:] if area >= 0 else sc.tail(lines, 8)
        if sc.any_match(BUSY_RES, status_zone):
            return TerminalStatus.PROCESSING
        if area < 0:
            return TerminalStatus.STARTING
        turn = self._last_turn(lines[:area])
        if turn is None:
            # A long answer can push the prompt it answers off the visible screen.
            # The start-up banner is then gone too: a fresh session always shows it.
            history = lines[:area]
            banner = any(self.banner_re.search(l) for l in history)
            done = self._answer_start(history) >= 0 or (
                not banner and any(l.strip() for l in history))
            return TerminalStatus.COMPLETED if done else TerminalStatus.IDLE
        if self._answer_start(turn) >= 0:
            return TerminalStatus.COMPLETED
        if sc.any_match(ERROR_RES, turn):
            return TerminalStatus.ERROR
        return TerminalStatus.PROCESSING

    @staticmethod
    def _last_turn(history: list[str]) -> list[str] | None:
        return sc.turn_after(history, lambda l: bool(USER_ECHO_RE.match(l)))

    @staticmethod
    def _answer_start(turn: list[str]) -> int:
        return sc.last_index(turn, lambda l: l.lstrip().startswith("✦ "))

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        lines = sc.clean_lines(screen)
        return sc.last_turn_answer(lines, input_area_start(lines), self._last_turn,
                                   self._answer_start,
                                   lambda turn, start: sc.block_after(turn, start, "✦ "))
