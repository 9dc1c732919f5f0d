"""Qwen Code (`qwen`, npm @qwen-code/qwen-code), a Gemini CLI fork on OpenAI-style APIs.

Launch: `qwen` with `~/.qwen/settings.json` in the terminal home: OpenAI auth,
`general.enableAutoUpdate: false` (in 0.15 the Gemini-style `disableAutoUpdate` key is
ignored and the TUI `npm install -g`s a newer self), cao-mcp-server trusted. Endpoint
and model come from OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL (or the profile).

Qwen defers MCP tools behind its `tool_search` tool and has a built-in `send_message`
of its own, so the context file tells the model to load cao's tools first.
Screen (0.15.10): see cao.providers._gemini_family.
"""

from __future__ import annotations

import re

from cao.providers._common import (
    CAO_MCP_NAME, env_value, is_loopback, profile_attr, system_prompt)
from cao.providers._gemini_family import GeminiFamilyProvider
from cao.providers._sessions import qwen_answer
from cao.providers.base import LaunchContext

TOOL_NOTE = (f"cao orchestration tools (handoff, assign, send_message) come from the MCP "
             f"server `{CAO_MCP_NAME}`: load them with tool_search first and call "
             f"mcp__{CAO_MCP_NAME}__send_message, not the built-in send_message.")


class QwenCodeProvider(GeminiFamilyProvider):
    name = "qwen_code"
    binary = "qwen"
    install_hint = "npm install -g @qwen-code/qwen-code  (or scripts/install-agent-clis.sh)"
    verified_versions = ("0.15.10",)
    settings_dir = ".qwen"
    context_file = "QWEN.md"
    auth_type = "openai"
    env_passthrough = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL",
                       "DASHSCOPE_API_KEY", "HTTPS_PROXY", "NO_PROXY"]
    blocking_dialogs = [re.compile(r"How would you like to authenticate"),
                        re.compile(r"Do you trust the files in this folder\?")]

    def extra_env(self, ctx: LaunchContext) -> dict[str, str]:
        env: dict[str, str] = {}
        model = profile_attr(ctx.profile, "model")
        if model:
            env["OPENAI_MODEL"] = str(model)
        if not env_value(ctx, "OPENAI_API_KEY") and is_loopback(env_value(ctx, "OPENAI_BASE_URL")):
            env["OPENAI_API_KEY"] = "cao-local"  # a local endpoint needs no real key
        return env

    def context_text(self, ctx: LaunchContext) -> str:
        prompt = system_prompt(ctx)
        return f"{prompt}\n\n{TOOL_NOTE}" if prompt else TOOL_NOTE

    def session_answer(self, ctx: LaunchContext) -> str | None:
        return qwen_answer(ctx.terminal_home)
