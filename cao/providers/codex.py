"""OpenAI Codex CLI (`codex`, npm @openai/codex).

Launch: the TUI with every setting as a `-c key=value` override and CODEX_HOME inside
the terminal home, so no config file of the user's is read. Started that way Codex did
not spawn its app-server daemon; started from a config file it did, and the daemon
outlives the TUI, so `cleanup` reaps whatever is left anyway.

A custom model provider is defined when OPENAI_BASE_URL (or CAO_CODEX_BASE_URL) is set:
Codex 0.169 speaks only the Responses API over HTTP with a custom provider, while its
built-in `openai` provider ignores OPENAI_BASE_URL and tries a WebSocket.

Screen (0.169.0): idle is `› ` input above `<model> · <cwd>` and `? for shortcuts`;
busy is `• Working (1s • esc to interrupt)`; an answer is a `• ` block followed by
`Worked for Ns`.
"""

from __future__ import annotations

import re
from typing import Any

from cao.providers import _screen as sc
from cao.providers._common import (
    AgentCliProvider, env_value, is_loopback, isolated_env, mcp_servers, passthrough,
    profile_attr, system_prompt, toml_inline)
from cao.providers._sessions import codex_answer
from cao.providers.base import DialogAnswer, LaunchContext, LaunchPlan, TerminalStatus

HANDOFF_NOTE = ("(cao captures your final answer automatically when you finish; just answer, "
                "do not send it back with send_message.)")

ENV_PASSTHROUGH = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_API_KEY", "HTTPS_PROXY",
                   "NO_PROXY"]
INPUT_RE = re.compile(r"^› ")
BUSY_RES = [re.compile(r"esc to interrupt"), re.compile(r"^• Working \(")]
PERMISSION_RES = [re.compile(r"Would you like to (?:run|make|apply|allow)"),
                  re.compile(r"Yes, proceed"), re.compile(r"Allow (?:command|the tool)"),
                  re.compile(r"Press enter to confirm")]
ERROR_RES = [re.compile(r"^■ "), re.compile(r"stream disconnected before completion")]
TRUST_RE = re.compile(r"Trust this folder\?|1\. Trust and continue")
# `• Ran cmd`, `• Called server.tool`, ... are tool activity, not answers.
TOOL_RE = re.compile(r"^• (?:Ran|Running|Called|Calling|Explored|Exploring|Edited|Editing|"
                     r"Added|Deleted|Updated Plan|Read|Searched|Waited|Working)\b")
DONE_RE = re.compile(r"^\s*(?:─+ )?Worked for ")


def _input_line(lines: list[str]) -> int:
    """Index of the `› ` input line: the last one, with the model/cwd status under it."""
    for i in range(len(lines) - 1, -1, -1):
        if INPUT_RE.match(lines[i]):
            below = [l for l in lines[i + 1:] if l.strip()]
            if below and any("?" in l and "shortcuts" in l for l in below[-2:]):
                return i
            return -1
    return -1


class CodexProvider(AgentCliProvider):
    name = "codex"
    binary = "codex"
    install_hint = "npm install -g @openai/codex  (or scripts/install-agent-clis.sh)"
    verified_versions = ("0.169.0",)
    exit_command = "/quit"
    # Codex sends the first turn without waiting for MCP servers to finish starting.
    wait_for_mcp_before_first_input = True

    # -- launch -----------------------------------------------------------------------
    def overrides(self, ctx: LaunchContext) -> dict[str, Any]:
        cwd = str(ctx.working_directory)
        conf: dict[str, Any] = {
            "check_for_update_on_startup": False,
            f'projects."{cwd}".trust_level': "trusted",
            "analytics.enabled": False,
            "feedback.enabled": False,
        }
        base_url = env_value(ctx, "CAO_CODEX_BASE_URL") or env_value(ctx, "OPENAI_BASE_URL")
        if base_url:
            conf.update({
                "model_provider": "cao",
                "model_providers.cao.name": "cao",
                "model_providers.cao.base_url": base_url,
                "model_providers.cao.env_key": "OPENAI_API_KEY",
                "model_providers.cao.wire_api": "responses",
            })
        model = profile_attr(ctx.profile, "model")
        if model:
            conf["model"] = str(model)
        prompt = system_prompt(ctx)
        if prompt:
            conf["developer_instructions"] = prompt
        for name, server in mcp_servers(ctx).items():
            key = f"mcp_servers.{name}"
            conf[f"{key}.command"] = server.command
            conf[f"{key}.args"] = server.args
            if server.env:
                conf[f"{key}.env"] = server.env
            # MCP calls would otherwise stop for approval (or fail when approval is "never").
            conf[f"{key}.default_tools_approval_mode"] = "approve"
            if server.call_timeout:
                conf[f"{key}.tool_timeout_sec"] = float(server.call_timeout)
        return conf

    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        argv = [self.binary or "codex"]
        for key, value in self.overrides(ctx).items():
            argv += ["-c", f"{key}={toml_inline(value)}"]
        if ctx.yolo or "*" in (profile_attr(ctx.profile, "allowedTools") or []):
            argv.append("--dangerously-bypass-approvals-and-sandbox")
        else:
            argv += ["--sandbox", "workspace-write", "--ask-for-approval", "on-request"]
        env = {**isolated_env(ctx), **passthrough(ctx, ENV_PASSTHROUGH),
               "CODEX_HOME": str(ctx.terminal_home / ".codex")}
        base_url = env_value(ctx, "CAO_CODEX_BASE_URL") or env_value(ctx, "OPENAI_BASE_URL")
        if "OPENAI_API_KEY" not in env and is_loopback(base_url):
            env["OPENAI_API_KEY"] = "cao-local"  # a local endpoint needs no real key
        # Codex creates CODEX_HOME lazily but refuses a missing one; a placeholder file
        # makes the terminal layer create the directory.
        files = {ctx.terminal_home / ".codex" / ".cao": "codex home of a cao terminal\n"}
        return LaunchPlan(argv=argv, env=env, files=files, cwd=ctx.working_directory)

    def validate_profile(self, profile: Any) -> list[str]:
        problems = super().validate_profile(profile)
        tools = profile_attr(profile, "allowedTools")
        if tools and "*" not in tools:
            problems.append("allowedTools: Codex has no per-tool allow list; cao runs it "
                            "sandboxed (workspace-write) and asks on request. Use ['*'] "
                            "to bypass approvals.")
        return problems

    def format_message(self, message: str, *, kind: str = "message") -> str:
        if kind == "handoff":
            return f"[CAO Handoff] {message}\n\n{HANDOFF_NOTE}"
        return message

    def dialog_answer(self, screen: str) -> DialogAnswer | None:
        lines = sc.tail(sc.clean_lines(screen), 15)
        if any(TRUST_RE.search(line) for line in lines):
            return DialogAnswer(["Enter"], "trust the working directory cao launched in")
        return None

    # -- screen -----------------------------------------------------------------------
    def classify(self, screen: str) -> TerminalStatus:
        lines = sc.clean_lines(screen)
        if not lines:
            return TerminalStatus.STARTING
        bottom = sc.tail(lines, 16)
        if self.dialog_answer(screen) is not None:
            return TerminalStatus.WAITING_USER_ANSWER
        if sc.any_match(PERMISSION_RES, bottom):
            return TerminalStatus.WAITING_USER_ANSWER
        if sc.any_match(BUSY_RES, bottom):
            return TerminalStatus.PROCESSING
        box = _input_line(lines)
        if box < 0:
            return TerminalStatus.STARTING
        turn = self._last_turn(lines[:box])
        if turn is None:
            # A long answer can push the prompt it answers off the visible screen.
            history = lines[:box]
            done = any(DONE_RE.match(l) for l in history) and self._answer_start(history) >= 0
            return TerminalStatus.COMPLETED if done else TerminalStatus.IDLE
        if self._answer_start(turn) < 0 and any(DONE_RE.match(l) for l in turn):
            # Codex pins the prompt at the top while a long answer scrolls under it, so
            # the answer's first line can be gone while the turn's end is on screen.
            return TerminalStatus.COMPLETED
        if any(p.search(line) for p in ERROR_RES for line in turn):
            return TerminalStatus.ERROR
        if self._answer_start(turn) >= 0:
            return TerminalStatus.COMPLETED
        return TerminalStatus.PROCESSING

    @staticmethod
    def _last_turn(history: list[str]) -> list[str] | None:
        return sc.turn_after(history, lambda l: bool(INPUT_RE.match(l)))

    @staticmethod
    def _answer_start(turn: list[str]) -> int:
        return sc.last_index(turn, lambda l: l.startswith("• ") and not TOOL_RE.match(l))

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        def block(turn: list[str], start: int) -> list[str]:
            lines = sc.block_after(turn, start, "• ", indent=2,
                                   stop=lambda l: bool(DONE_RE.match(l)))
            # Codex tucks a usage tip under the last block (`└ Tip: ...`); not the answer.
            return [l for l in lines if not l.lstrip().startswith("└ Tip:")]

        lines = sc.clean_lines(screen)
        return sc.last_turn_answer(lines, _input_line(lines), self._last_turn,
                                   self._answer_start, block)

    def session_answer(self, ctx: LaunchContext) -> str | None:
        return codex_answer(ctx.terminal_home)
