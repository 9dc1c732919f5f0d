"""Claude Code (`claude`, npm @anthropic-ai/claude-code).

Launch: the interactive TUI with `--mcp-config` (a per-terminal file) and
`--strict-mcp-config`, so only cao's and the profile's MCP servers load and no project
`.mcp.json` approval dialog appears. `~/.claude.json` in the terminal home is seeded with
onboarding done and the working directory trusted: without it the welcome screen tries to
reach api.anthropic.com and exits when offline.

Screen (2.1.197): idle is a `❯` line between two rules with `? for shortcuts` below;
busy shows `esc to interrupt` in the footer; an answer is a `● ` block followed by
`✻ <Verb> for Ns`; a permission box asks "Do you want to proceed?" over a `❯ 1. Yes` menu.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cao.providers import _screen as sc
from cao.providers._common import (
    CAO_MCP_NAME, AgentCliProvider, env_value, is_loopback, isolated_env, mcp_servers,
    passthrough, profile_attr, system_prompt, timeout_ms, translate_tools)
from cao.providers._sessions import claude_answer
from cao.providers.base import DialogAnswer, LaunchContext, LaunchPlan, TerminalStatus

ENV_PASSTHROUGH = ["ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY",
                   "ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL", "CLAUDE_CODE_USE_BEDROCK",
                   "CLAUDE_CODE_USE_VERTEX", "AWS_REGION", "AWS_PROFILE",
                   "ANTHROPIC_VERTEX_PROJECT_ID", "CLOUD_ML_REGION", "HTTPS_PROXY", "NO_PROXY"]

PROMPT_RE = re.compile(r"^❯(?: (.*))?$")
BUSY_RES = [re.compile(r"esc to interrupt"), re.compile(r"^[·✢✳✶✻✽*] \S.*…")]
PERMISSION_RES = [re.compile(r"Do you want to (?:proceed|make this edit|create)"),
                  re.compile(r"Esc to cancel · Tab to amend")]
ERROR_RES = [re.compile(r"Unable to connect to Anthropic services"),
             re.compile(r"^\s*⎿\s+API Error"), re.compile(r"Invalid API key")]
TRUST_RE = re.compile(r"Yes, I trust this folder")
API_KEY_RE = re.compile(r"Detected a custom API key")


def _answer_starts(turn: list[str]) -> list[int]:
    """`● ` lines that open answer text: a tool call is `● Name(args)` with a `⎿` result
    line under it."""
    starts = []
    for i, line in enumerate(turn):
        if not line.startswith("● "):
            continue
        following = next((l for l in turn[i + 1:] if l.strip()), "")
        if re.match(r"^● [\w.:-]+\(", line) and following.lstrip().startswith("⎿"):
            continue
        starts.append(i)
    return starts


def _input_box(lines: list[str]) -> int:
    return sc.ruled_input(lines, PROMPT_RE)


class ClaudeCodeProvider(AgentCliProvider):
    name = "claude_code"
    binary = "claude"
    install_hint = "npm install -g @anthropic-ai/claude-code  (or scripts/install-agent-clis.sh)"
    verified_versions = ("2.1.197",)
    exit_command = "/exit"
    wait_for_mcp_before_first_input = True

    # -- launch -----------------------------------------------------------------------
    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        home = ctx.terminal_home
        cwd = str(ctx.working_directory)
        servers = {name: {"type": "stdio", "command": s.command, "args": s.args, "env": s.env,
                          **timeout_ms(s)}
                   for name, s in mcp_servers(ctx).items()}
        mcp_path = home / "cao-mcp.json"
        state: dict[str, Any] = {
            "hasCompletedOnboarding": True,
            "theme": "dark",
            "autoUpdates": False,
            "projects": {cwd: {"hasTrustDialogAccepted": True,
                               "hasCompletedProjectOnboarding": True}},
        }
        api_key = env_value(ctx, "ANTHROPIC_API_KEY")
        if api_key:  # else Claude asks whether to use the key it found in the environment
            state["customApiKeyResponses"] = {"approved": [api_key[-20:]], "rejected": []}
        argv = [self.binary or "claude", "--mcp-config", str(mcp_path), "--strict-mcp-config"]
        model = profile_attr(ctx.profile, "model")
        if model:
            argv += ["--model", str(model)]
        prompt = system_prompt(ctx)
        if prompt:
            argv += ["--append-system-prompt", prompt]
        env = {**isolated_env(ctx), **passthrough(ctx, ENV_PASSTHROUGH),
               "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        if not (api_key or env_value(ctx, "ANTHROPIC_AUTH_TOKEN")) and is_loopback(
                env_value(ctx, "ANTHROPIC_BASE_URL")):
            env["ANTHROPIC_AUTH_TOKEN"] = "cao-local"  # a local endpoint needs no real key
        allowed = translate_tools(self.name, profile_attr(ctx.profile, "allowedTools"))
        if ctx.yolo or (allowed is not None and "*" in allowed):
            argv.append("--dangerously-skip-permissions")
            env["IS_SANDBOX"] = "1"  # Claude refuses to skip permissions as root otherwise
        else:
            # cao's own tools never need a prompt; `@server` means every tool of a server.
            rules = [f"mcp__{CAO_MCP_NAME}"]
            for tool in allowed or []:
                rule = f"mcp__{tool[1:]}" if tool.startswith("@") else tool
                if tool != "@builtin" and rule not in rules:
                    rules.append(rule)
            argv += ["--allowedTools", ",".join(rules)]
        files = {home / ".claude.json": json.dumps(state, indent=2),
                 mcp_path: json.dumps({"mcpServers": servers}, indent=2)}
        return LaunchPlan(argv=argv, env=env, files=files, cwd=ctx.working_directory)

    def dialog_answer(self, screen: str) -> DialogAnswer | None:
        lines = sc.tail(sc.clean_lines(screen), 20)
        if any(TRUST_RE.search(line) for line in lines):
            return DialogAnswer(["Enter"], "trust the working directory cao launched in")
        if any(API_KEY_RE.search(line) for line in lines):
            return DialogAnswer(["Up", "Enter"], "use the API key cao passed in the environment")
        return None

    # -- screen -----------------------------------------------------------------------
    def classify(self, screen: str) -> TerminalStatus:
        lines = sc.clean_lines(screen)
        if not lines:
            return TerminalStatus.STARTING
        bottom = sc.tail(lines, 14)
        if sc.any_match(ERROR_RES, bottom) and _input_box(lines) < 0:
            return TerminalStatus.ERROR
        if self.dialog_answer(screen) is not None:
            return TerminalStatus.WAITING_USER_ANSWER
        if sc.any_match(PERMISSION_RES, bottom) or (
                sc.numbered_menu(bottom) and any("Esc to cancel" in l for l in bottom)):
            return TerminalStatus.WAITING_USER_ANSWER
        box = _input_box(lines)
        footer = lines[box:] if box >= 0 else bottom
        if any(p.search(line) for p in BUSY_RES for line in footer):
            return TerminalStatus.PROCESSING
        if box < 0:
            return TerminalStatus.STARTING
        history = lines[:box]
        turn = self._last_turn(history)
        if turn is None:
            # A long answer can push the prompt it answers off the visible screen.
            # The start-up banner is then gone too: a fresh session always shows it.
            banner = any("Claude Code v" in l for l in history)
            done = not banner and any(l.strip() for l in history)
            return TerminalStatus.COMPLETED if done else TerminalStatus.IDLE
        if any(BUSY_RES[1].match(line) for line in turn[-3:]):
            return TerminalStatus.PROCESSING
        if any(p.search(line) for p in ERROR_RES for line in turn):
            return TerminalStatus.ERROR
        if _answer_starts(turn):
            return TerminalStatus.COMPLETED
        return TerminalStatus.PROCESSING

    @staticmethod
    def _last_turn(history: list[str]) -> list[str] | None:
        return sc.turn_after(history, lambda l: bool(PROMPT_RE.match(l)) and l.strip() != "❯")

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        lines = sc.clean_lines(screen)
        return sc.last_turn_answer(lines, _input_box(lines), self._last_turn,
                                   lambda turn: (_answer_starts(turn) or [-1])[-1],
                                   lambda turn, start: sc.block_after(turn, start, "● ", indent=2))

    def session_answer(self, ctx: LaunchContext) -> str | None:
        return claude_answer(ctx.terminal_home)
