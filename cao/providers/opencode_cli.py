"""opencode (`opencode`, npm opencode-ai).

Launch: the TUI with XDG_CONFIG_HOME inside the terminal home, so it reads only
`opencode.json` written there: MCP servers (`mcp.<name>`, type local), the profile's
system prompt as an `instructions` file (opencode keeps its own prompt and appends it),
`autoupdate: false` plus OPENCODE_DISABLE_AUTOUPDATE=1. When OPENAI_BASE_URL (or
CAO_OPENCODE_BASE_URL) is set, a provider `cao` on @ai-sdk/openai-compatible (bundled)
points there and the API key is referenced as `{env:OPENAI_API_KEY}`, never written out.

Screen (1.18.33): a full-screen TUI with a right sidebar. Idle shows `Ask anything…` or
the input box `┃  Build · <model>` above `ctrl+p commands`; busy shows `esc interrupt`;
user turns are `┃`-barred blocks, answers are indented text closed by
`▣  Build · <model> · <duration>`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cao.providers import _screen as sc
from cao.providers._common import (
    AgentCliProvider, env_value, isolated_env, mcp_servers, passthrough, profile_attr,
    system_prompt, timeout_ms, translate_tools)
from cao.providers._sessions import opencode_answer
from cao.providers.base import LaunchContext, LaunchPlan, TerminalStatus

ENV_PASSTHROUGH = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
                   "OPENROUTER_API_KEY", "HTTPS_PROXY", "NO_PROXY"]
SIDEBAR_HEADERS = ("Context", "MCP", "LSP", "Modified Files", "Todo")
BUSY_RE = re.compile(r"esc interrupt|esc to interrupt")
IDLE_RES = [re.compile(r"ctrl\+p commands"), re.compile(r"Ask anything")]
PERMISSION_RES = [re.compile(r"Permission required"), re.compile(r"Allow once"),
                  re.compile(r"Allow always")]
ERROR_RES = [re.compile(r"^\s*(?:┃\s*)?Error: "), re.compile(r"API ?Error")]
# The duration reads `450ms`, `3.3s`, `1m 7s`, `2m`, `1h 2m` or `1d 2h` by the turn's length.
DONE_RE = re.compile(r"^\s*▣\s+\S.*·.*·\s*(?:\d+(?:\.\d+)?(?:ms|[smhd])\s*)+$")
STEP_RE = re.compile(r"^\s*▣\s")
BAR_RE = re.compile(r"^\s*┃")
TOOL_RE = re.compile(r"^\s*(?:⚙|\$|→|←|✱|%|◇|◈|⌕|☐|✓|•)\s")
# Permission names opencode uses for its tools.
PERMISSION_KEYS = {"bash": "bash", "edit": "edit", "write": "edit", "webfetch": "webfetch"}


class OpencodeCliProvider(AgentCliProvider):
    name = "opencode_cli"
    binary = "opencode"
    install_hint = "npm install -g opencode-ai  (or scripts/install-agent-clis.sh)"
    verified_versions = ("1.18.33",)
    exit_command = "/exit"

    # -- launch -----------------------------------------------------------------------
    def config(self, ctx: LaunchContext) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "$schema": "https://opencode.ai/config.json",
            "autoupdate": False,
            "share": "disabled",
            "mcp": {name: {"type": "local", "command": [s.command, *s.args],
                           "environment": s.env, "enabled": True, **timeout_ms(s)}
                    for name, s in mcp_servers(ctx).items()},
        }
        model = profile_attr(ctx.profile, "model")
        base_url = env_value(ctx, "CAO_OPENCODE_BASE_URL") or env_value(ctx, "OPENAI_BASE_URL")
        if base_url:
            model_id = str(model or "default")
            conf["provider"] = {"cao": {
                "npm": "@ai-sdk/openai-compatible", "name": "cao",
                "options": {"baseURL": base_url,
                            "apiKey": "{env:OPENAI_API_KEY}" if env_value(ctx, "OPENAI_API_KEY")
                            else "cao-local"},
                "models": {model_id: {"name": model_id, "tool_call": True}}}}
            conf["model"] = conf["small_model"] = f"cao/{model_id}"
        elif model:
            conf["model"] = str(model)  # provider/model, e.g. anthropic/claude-sonnet-4-5
        if system_prompt(ctx):
            conf["instructions"] = [str(ctx.terminal_home / "cao-system-prompt.md")]
        allowed = translate_tools(self.name, profile_attr(ctx.profile, "allowedTools"))
        if ctx.yolo or (allowed is not None and "*" in allowed):
            conf["permission"] = {"bash": "allow", "edit": "allow", "webfetch": "allow"}
        elif allowed is not None:
            # A tool listed is allowed; the others ask (opencode's default is to allow).
            keys = dict.fromkeys(PERMISSION_KEYS.values(), "ask")
            for tool, key in PERMISSION_KEYS.items():
                if tool in allowed:
                    keys[key] = "allow"
            conf["permission"] = keys
        return conf

    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        config_path = ctx.terminal_home / ".config" / "opencode" / "opencode.json"
        files = {config_path: json.dumps(self.config(ctx), indent=2)}
        prompt = system_prompt(ctx)
        if prompt:
            files[ctx.terminal_home / "cao-system-prompt.md"] = prompt + "\n"
        env = {**isolated_env(ctx), **passthrough(ctx, ENV_PASSTHROUGH),
               "OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1"}
        return LaunchPlan(argv=[self.binary or "opencode"], env=env, files=files,
                          cwd=ctx.working_directory)

    # -- screen -----------------------------------------------------------------------
    @staticmethod
    def _lines(screen: str) -> list[str]:
        return sc.crop_sidebar(sc.clean_lines(screen), SIDEBAR_HEADERS)

    def classify(self, screen: str) -> TerminalStatus:
        lines = self._lines(screen)
        if not lines:
            return TerminalStatus.STARTING
        bottom = sc.tail(lines, 12)
        if sc.any_match(PERMISSION_RES, bottom):
            return TerminalStatus.WAITING_USER_ANSWER
        if any(BUSY_RE.search(line) for line in sc.tail(lines, 3)):
            return TerminalStatus.PROCESSING
        if not sc.any_match(IDLE_RES, sc.tail(lines, 25)):
            return TerminalStatus.STARTING
        turn = self._last_turn(lines)
        if turn is None:
            # A long answer can push the prompt it answers off the visible screen.
            done = any(DONE_RE.match(l) for l in self._conversation(lines))
            return TerminalStatus.COMPLETED if done else TerminalStatus.IDLE
        if any(DONE_RE.match(line) for line in turn):
            return TerminalStatus.COMPLETED
        if sc.any_match(ERROR_RES, turn):
            return TerminalStatus.ERROR
        return TerminalStatus.PROCESSING

    @staticmethod
    def _conversation(lines: list[str]) -> list[str]:
        """Lines above the input box (the last run of `┃` lines at the bottom)."""
        end = len(lines)
        while end > 0 and not BAR_RE.match(lines[end - 1]):
            end -= 1
        while end > 0 and BAR_RE.match(lines[end - 1]):
            end -= 1
        return lines[:end]

    def _last_turn(self, lines: list[str]) -> list[str] | None:
        conv = self._conversation(lines)
        # A user turn is a `┃` block whose text is not tool output (`$ cmd` blocks are).
        end = len(conv)
        while end > 0:
            start = sc.last_index(conv, lambda l: bool(BAR_RE.match(l)), end=end)
            if start < 0:
                return None
            top = start
            while top > 0 and BAR_RE.match(conv[top - 1]):
                top -= 1
            block = [l.split("┃", 1)[1].strip() for l in conv[top:start + 1]]
            first = next((t for t in block if t), "")
            if first and not first.startswith("$ "):
                return conv[start + 1:]
            end = top
        return None

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        lines = self._lines(screen)
        turn = self._last_turn(lines)
        if turn is None:
            return None
        done = sc.last_index(turn, lambda l: bool(DONE_RE.match(l)))
        if done < 0:
            return None
        # The answer is the text between the last tool/step marker and the final `▣`.
        start = sc.last_index(turn, lambda l: bool(BAR_RE.match(l) or TOOL_RE.match(l)
                                                   or STEP_RE.match(l)), end=done) + 1
        body = turn[start:done]
        indents = [len(l) - len(l.lstrip()) for l in body if l.strip()]
        if not indents:
            return None
        cut = min(indents)
        return sc.join_answer([l[cut:] if l.strip() else "" for l in body])

    def session_answer(self, ctx: LaunchContext) -> str | None:
        return opencode_answer(ctx.terminal_home)
