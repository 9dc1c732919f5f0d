"""GitHub Copilot CLI (`copilot`, npm @github/copilot).

Verified offline: since 1.0 the CLI has a "bring your own key" mode. With
COPILOT_PROVIDER_BASE_URL set (OpenAI Chat Completions by default, COPILOT_PROVIDER_TYPE
and COPILOT_PROVIDER_WIRE_API select others) and COPILOT_OFFLINE=true it needs no GitHub
login and makes no other network calls. Without them it uses the user's GitHub
Copilot subscription (COPILOT_GITHUB_TOKEN / GH_TOKEN).

Launch: `copilot --additional-mcp-config @<file>` with COPILOT_HOME in the terminal home,
whose `config.json` lists the working directory under `trustedFolders` (else a
"Confirm folder trust" box opens), COPILOT_AUTO_UPDATE=false, and the profile's system
prompt as personal instructions in `$COPILOT_HOME/copilot-instructions.md`.

Screen (1.0.102): idle is a `❯` line between two rules above
`... Interactive · Manual Approval · / commands · ? help`; busy replaces that footer
with `○ Working esc esc edit prompt`; user turns are ` ❯ text   HH:MM`; answers are
` ● text` blocks; approvals are boxes asking "Do you want to run this command?" or
"Do you want to use this tool?" over a `❯ 1. Yes` menu.
"""

from __future__ import annotations

import json
import re
from cao.providers import _screen as sc
from cao.providers._common import (
    CAO_MCP_NAME, AgentCliProvider, env_value, isolated_env, mcp_servers, passthrough,
    profile_attr, system_prompt, timeout_ms)
from cao.providers._sessions import copilot_answer
from cao.providers.base import DialogAnswer, LaunchContext, LaunchPlan, TerminalStatus

ENV_PASSTHROUGH = ["COPILOT_PROVIDER_BASE_URL", "COPILOT_PROVIDER_TYPE", "COPILOT_PROVIDER_API_KEY",
                   "COPILOT_PROVIDER_BEARER_TOKEN", "COPILOT_PROVIDER_WIRE_API",
                   "COPILOT_PROVIDER_MODEL_ID", "COPILOT_PROVIDER_WIRE_MODEL", "COPILOT_MODEL",
                   "COPILOT_OFFLINE", "COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN",
                   "GH_HOST", "HTTPS_PROXY", "NO_PROXY"]
PROMPT_RE = re.compile(r"^❯(?: (.*))?$")
USER_RE = re.compile(r"^ ❯ \S")
BUSY_RES = [re.compile(r"\bWorking\b.*\besc\b"), re.compile(r"esc to (?:cancel|interrupt)")]
PERMISSION_RES = [re.compile(r"Do you want to (?:run this command|use this tool|allow|proceed|"
                             r"edit|create)")]
TRUST_RE = re.compile(r"Confirm folder trust|Do you trust the files in this folder\?")
ERROR_RES = [re.compile(r"^\s*[✗✕×] "), re.compile(r"^ ● Error\b"), re.compile(r"\bAPI error\b", re.I)]
# ` ● name (MCP: server) · args   7s`: a finished tool call, not an answer.
TOOL_DONE_RE = re.compile(r"\(MCP: |\s{3,}\d+(?:\.\d+)?m?s$")


def _input_box(lines: list[str]) -> int:
    return sc.ruled_input(lines, PROMPT_RE)


class CopilotCliProvider(AgentCliProvider):
    name = "copilot_cli"
    binary = "copilot"
    install_hint = "npm install -g @github/copilot  (or scripts/install-agent-clis.sh)"
    verified_versions = ("1.0.102",)
    exit_command = "/exit"

    # -- launch -----------------------------------------------------------------------
    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        home = ctx.terminal_home / ".copilot"
        servers = {name: {"type": "local", "command": s.command, "args": s.args, "env": s.env,
                          "tools": ["*"], **timeout_ms(s)}
                   for name, s in mcp_servers(ctx).items()}
        mcp_path = ctx.terminal_home / "cao-mcp.json"
        files = {
            mcp_path: json.dumps({"mcpServers": servers}, indent=2),
            home / "config.json": json.dumps(
                {"trustedFolders": [str(ctx.working_directory)]}, indent=2),
        }
        env = {**isolated_env(ctx), **passthrough(ctx, ENV_PASSTHROUGH),
               "COPILOT_HOME": str(home), "COPILOT_AUTO_UPDATE": "false"}
        if env_value(ctx, "COPILOT_PROVIDER_BASE_URL") and "COPILOT_OFFLINE" not in env:
            env["COPILOT_OFFLINE"] = "true"  # BYOK: no GitHub login, no other traffic
        model = profile_attr(ctx.profile, "model")
        if model:
            env["COPILOT_MODEL"] = str(model)
        prompt = system_prompt(ctx)
        if prompt:  # "personal instructions", loaded on top of the CLI's own prompt
            files[home / "copilot-instructions.md"] = prompt + "\n"
        argv = [self.binary or "copilot", "--additional-mcp-config", f"@{mcp_path}",
                "--disable-client-telemetry"]
        tools = profile_attr(ctx.profile, "allowedTools")
        if ctx.yolo or (tools and "*" in tools):
            argv.append("--allow-all")
        else:
            # cao's own tools never need a prompt; `@server` means every tool of a server.
            allowed = [CAO_MCP_NAME] + [t[1:] if t.startswith("@") else t for t in tools or []
                                        if t != "@builtin"]
            for tool in dict.fromkeys(allowed):
                argv += ["--allow-tool", {"execute_bash": "shell", "fs_write": "write"}.get(tool, tool)]
        return LaunchPlan(argv=argv, env=env, files=files, cwd=ctx.working_directory)

    def dialog_answer(self, screen: str) -> DialogAnswer | None:
        bottom = sc.tail(sc.clean_lines(screen), 20)
        if any(TRUST_RE.search(line) for line in bottom) and any("❯ 1. Yes" in l for l in bottom):
            return DialogAnswer(["Enter"], "trust the working directory cao launched in")
        return None

    # -- screen -----------------------------------------------------------------------
    def classify(self, screen: str) -> TerminalStatus:
        lines = sc.clean_lines(screen)
        if not lines:
            return TerminalStatus.STARTING
        bottom = sc.tail(lines, 20)
        if self.dialog_answer(screen) is not None or sc.any_match(PERMISSION_RES, bottom):
            return TerminalStatus.WAITING_USER_ANSWER
        box = _input_box(lines)
        if box < 0:
            if sc.numbered_menu(bottom):
                return TerminalStatus.WAITING_USER_ANSWER
            return TerminalStatus.STARTING
        if sc.any_match(BUSY_RES, lines[box:]):
            return TerminalStatus.PROCESSING
        turn = self._last_turn(lines[:box])
        if turn is None:
            # A long answer can push the prompt it answers off the visible screen; the
            # start-up banner is then gone too.
            banner = any("Copilot v" in l for l in lines[:box])
            done = not banner and any(l.strip() for l in lines[:box])
            return TerminalStatus.COMPLETED if done else TerminalStatus.IDLE
        if self._answer_start(turn) >= 0:
            return TerminalStatus.COMPLETED
        if sc.any_match(ERROR_RES, turn):
            return TerminalStatus.ERROR
        return TerminalStatus.PROCESSING

    @staticmethod
    def _last_turn(history: list[str]) -> list[str] | None:
        start = sc.last_index(history, lambda l: bool(USER_RE.match(l)))
        if start < 0:
            return None
        # a long prompt wraps onto lines indented under it; skip them
        end = start + 1
        while end < len(history) and history[end].startswith("   ") and history[end].strip():
            end += 1
        return history[end:]

    @staticmethod
    def _answer_start(turn: list[str]) -> int:
        return sc.last_index(turn, lambda l: l.startswith(" ● ") and not TOOL_DONE_RE.search(l))

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        lines = sc.clean_lines(screen)
        # block_after stops before the working-directory line above the input box
        return sc.last_turn_answer(lines, _input_box(lines), self._last_turn, self._answer_start,
                                   lambda turn, start: sc.block_after(turn, start, "● "))

    def session_answer(self, ctx: LaunchContext) -> str | None:
        return copilot_answer(ctx.terminal_home)
