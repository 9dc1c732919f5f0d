"""Kimi CLI (`kimi`, Moonshot AI). UNVERIFIED: the PyPI package is now a stub pointing to
Kimi Code CLI (installed by a curl script, or npm @moonshot-ai/kimi-code which needs
Node 22), and both need a Moonshot login; built from public documentation and issues.

Launch: `kimi --no-thinking --agent-file <yaml> --mcp-config-file <json>`: the agent file
extends the built-in `default` agent with the profile's system prompt; `--no-thinking`
keeps thinking bullets (told apart from answers only by colour) off the screen.

Screen: the prompt is `user@dir✨` (`💫` with thinking) at the bottom; a submitted
message is echoed in a `╭─ ... ╰─` box; answer lines start with `• `; tool approval
offers "Approve", "Approve for this session" and "Reject".
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from cao.providers import _screen as sc
from cao.providers._common import (
    AgentCliProvider, isolated_env, mcp_servers, passthrough, profile_attr, system_prompt)
from cao.providers.base import LaunchContext, LaunchPlan, TerminalStatus

PROMPT_RE = re.compile(r"^\S+@[\w.-]+[✨💫]\s?(.*)$")
PERMISSION_RES = [re.compile(r"Approve for (?:this )?session"), re.compile(r"\bReject\b.*\bApprove\b|\bApprove\b.*\bReject\b")]
ERROR_RES = [re.compile(r"^(?:Error|APIError|ConnectionError):")]


class KimiCliProvider(AgentCliProvider):
    name = "kimi_cli"
    binary = "kimi"
    install_hint = "install Kimi Code CLI (https://www.kimi.com/code), then `kimi login`"
    unverified = True
    exit_command = "/exit"

    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        home = ctx.terminal_home
        prompt_file = home / "cao-system.md"
        agent_file = home / "cao-agent.yaml"
        mcp_file = home / "cao-mcp.json"
        servers = {n: {"command": s.command, "args": s.args, "env": s.env}
                   for n, s in mcp_servers(ctx).items()}
        files = {mcp_file: json.dumps({"mcpServers": servers}, indent=2)}
        argv = [self.binary or "kimi", "--no-thinking", "--mcp-config-file", str(mcp_file)]
        if system_prompt(ctx):
            files[prompt_file] = system_prompt(ctx) + "\n"
            files[agent_file] = ("version: 1\nagent:\n  extend: default\n"
                                 f"  system_prompt_path: {json.dumps(str(prompt_file))}\n")
            argv += ["--agent-file", str(agent_file)]
        model = profile_attr(ctx.profile, "model")
        if model:
            argv += ["--model", str(model)]
        if ctx.yolo or "*" in (profile_attr(ctx.profile, "allowedTools") or []):
            argv.append("--yolo")
        real = Path(os.path.expanduser("~")) / ".kimi"  # login state and config
        links = {home / ".kimi": real} if real.exists() else {}
        env = {**isolated_env(ctx),
               **passthrough(ctx, ["MOONSHOT_API_KEY", "KIMI_API_KEY", "KIMI_BASE_URL",
                                   "HTTPS_PROXY", "NO_PROXY"])}
        return LaunchPlan(argv=argv, env=env, files=files, cwd=ctx.working_directory,
                          links=links)

    def classify(self, screen: str) -> TerminalStatus:
        lines = sc.clean_lines(screen)
        if not lines:
            return TerminalStatus.STARTING
        if sc.any_match(PERMISSION_RES, sc.tail(lines, 10)):
            return TerminalStatus.WAITING_USER_ANSWER
        prompt = PROMPT_RE.match(lines[-1])
        if prompt is None:
            return TerminalStatus.PROCESSING if self._box_end(lines) >= 0 else TerminalStatus.STARTING
        end = self._box_end(lines)
        if end < 0:
            return TerminalStatus.IDLE
        turn = lines[end + 1:-1]
        if sc.any_match(ERROR_RES, turn):
            return TerminalStatus.ERROR
        return TerminalStatus.COMPLETED if any(l.startswith("• ") for l in turn) else TerminalStatus.IDLE

    @staticmethod
    def _box_end(lines: list[str]) -> int:
        """End of the box that echoes the last submitted message (after a prompt line)."""
        for i in range(len(lines) - 1, 0, -1):
            if lines[i].startswith("╰") and any(PROMPT_RE.match(l) for l in lines[max(0, i - 40):i]):
                top = sc.last_index(lines, lambda l: l.startswith("╭"), end=i)
                if top > 0 and PROMPT_RE.match(lines[top - 1]):
                    return i
        return -1

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        lines = sc.clean_lines(screen)
        end = self._box_end(lines)
        if end < 0:
            return None
        stop = len(lines) - 1 if PROMPT_RE.match(lines[-1]) else len(lines)
        body = lines[end + 1:stop]
        start = next((i for i, l in enumerate(body) if l.startswith("• ")), None)
        if start is None:
            return None
        body = body[start:]
        body[0] = body[0][2:]
        return sc.join_answer(body)
