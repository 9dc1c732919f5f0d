"""What Amazon Q Developer CLI and its successor Kiro CLI share (UNVERIFIED: built from
public documentation and issue threads, not from runs; see docs/providers.md).

Both run `<cli> chat --agent NAME` where NAME is a JSON agent file (prompt, mcpServers,
tools, allowedTools) in the CLI's global agents folder. Their login lives in the user's
data directory, so the per-terminal HOME links that folder back (LaunchPlan.links) and
everything cao writes stays in the terminal home.

Classic screen: the prompt is `[agent] >` (variants `[agent] !>`, `[agent] 50% >`,
`[agent] λ >`); an answer starts with a `> ` line; tool use shows
"Allow this action? Use 't' to trust (always allow) this tool for the session. [y/n/t]:".
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar

from cao.providers import _screen as sc
from cao.providers._common import (
    CAO_MCP_NAME, AgentCliProvider, isolated_env, mcp_servers, passthrough, profile_attr,
    system_prompt)
from cao.providers.base import LaunchContext, LaunchPlan, TerminalStatus

PROMPT_RE = re.compile(r"^\[[\w.@-]+\]\s*(?:\d+%\s*)?(?:λ\s*)?!?>\s?(.*)$")
ANSWER_RE = re.compile(r"^> ")
PERMISSION_RES = [re.compile(r"Allow this action\?"), re.compile(r"\[y/n/t\]:")]
AWS_ENV = ["AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HTTPS_PROXY", "NO_PROXY"]


def agent_name(ctx: LaunchContext) -> str:
    base = re.sub(r"[^\w-]", "-", str(profile_attr(ctx.profile, "name") or "agent"))
    return f"cao-{base}"


class QFamilyProvider(AgentCliProvider):
    unverified = True
    agents_dir: ClassVar[str]              # relative to HOME
    data_dirs: ClassVar[tuple[str, ...]]   # login state, relative to HOME
    error_res: ClassVar[list[re.Pattern[str]]] = []
    exit_command = "/quit"

    # -- launch -----------------------------------------------------------------------
    def agent_config(self, ctx: LaunchContext) -> dict[str, Any]:
        servers = {name: {"command": s.command, "args": s.args, "env": s.env}
                   for name, s in mcp_servers(ctx).items()}
        allowed = list(profile_attr(ctx.profile, "allowedTools") or [])
        if f"@{CAO_MCP_NAME}" not in allowed:
            allowed.append(f"@{CAO_MCP_NAME}")  # cao's own tools never need a prompt
        config: dict[str, Any] = {
            "name": agent_name(ctx),
            "description": f"cao terminal {ctx.terminal_id}",
            "prompt": system_prompt(ctx) or None,
            "mcpServers": servers,
            "tools": ["*"],
            "allowedTools": [t for t in allowed if t != "*"],
        }
        model = profile_attr(ctx.profile, "model")
        if model:
            config["model"] = str(model)
        return config

    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        home = ctx.terminal_home
        name = agent_name(ctx)
        files = {home / self.agents_dir / f"{name}.json": json.dumps(self.agent_config(ctx), indent=2)}
        argv = [self.binary or "", "chat", "--agent", name]
        if ctx.yolo or "*" in (profile_attr(ctx.profile, "allowedTools") or []):
            argv.append("--trust-all-tools")
        real_home = Path(os.path.expanduser("~"))
        links = {home / rel: real_home / rel for rel in self.data_dirs
                 if (real_home / rel).exists()}
        env = {**isolated_env(ctx), **passthrough(ctx, AWS_ENV)}
        return LaunchPlan(argv=argv, env=env, files=files, cwd=ctx.working_directory,
                          links=links)

    # -- screen -----------------------------------------------------------------------
    def classify(self, screen: str) -> TerminalStatus:
        lines = sc.clean_lines(screen)
        if not lines:
            return TerminalStatus.STARTING
        bottom = sc.tail(lines, 8)
        if sc.any_match(PERMISSION_RES, bottom):
            return TerminalStatus.WAITING_USER_ANSWER
        if not PROMPT_RE.match(lines[-1]) or PROMPT_RE.match(lines[-1]).group(1).strip():
            # no empty prompt at the bottom: streaming, or a spinner is drawn
            return TerminalStatus.PROCESSING if self._last_user(lines) >= 0 else TerminalStatus.STARTING
        turn_start = self._last_user(lines[:-1])
        if turn_start < 0:
            return TerminalStatus.IDLE
        turn = lines[turn_start + 1:-1]
        if sc.any_match(self.error_res, turn):
            return TerminalStatus.ERROR
        if any(ANSWER_RE.match(line) for line in turn):
            return TerminalStatus.COMPLETED
        return TerminalStatus.IDLE

    @staticmethod
    def _last_user(lines: list[str]) -> int:
        return sc.last_index(lines, lambda l: bool(PROMPT_RE.match(l))
                             and bool(PROMPT_RE.match(l).group(1).strip()))

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        lines = sc.clean_lines(screen)
        end = len(lines) - 1 if lines and PROMPT_RE.match(lines[-1]) else len(lines)
        user = self._last_user(lines[:end])
        if user < 0:
            return None
        start = sc.last_index(lines, lambda l: bool(ANSWER_RE.match(l)), end=end)
        if start <= user:
            return None
        body = [lines[start][2:]] + lines[start + 1:end]
        return sc.join_answer(body)
