"""Gemini CLI (`gemini`, npm @google/gemini-cli).

Launch: `gemini` with `~/.gemini/settings.json` in the terminal home (API-key auth, no
auto-update, cao-mcp-server trusted so its tools run without a prompt), the working
directory trusted both by `trustedFolders.json` and GEMINI_CLI_TRUST_WORKSPACE, and the
profile's system prompt as global memory in `~/.gemini/GEMINI.md`.

The model endpoint comes from GOOGLE_GEMINI_BASE_URL and the key from GEMINI_API_KEY.
Screen (0.61.0): see cao.providers._gemini_family.
"""

from __future__ import annotations

import json
import re

from cao.providers._common import env_value, is_loopback
from cao.providers._gemini_family import GeminiFamilyProvider
from cao.providers._sessions import gemini_answer
from cao.providers.base import LaunchContext, LaunchPlan


class GeminiCliProvider(GeminiFamilyProvider):
    name = "gemini_cli"
    binary = "gemini"
    install_hint = "npm install -g @google/gemini-cli  (or scripts/install-agent-clis.sh)"
    verified_versions = ("0.61.0",)
    settings_dir = ".gemini"
    context_file = "GEMINI.md"
    auth_type = "gemini-api-key"
    env_passthrough = ["GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL",
                       "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION",
                       "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_APPLICATION_CREDENTIALS",
                       "HTTPS_PROXY", "NO_PROXY"]
    safe_dialogs = [
        (re.compile(r"Do you trust the files in this folder\?"),
         re.compile(r"● 1\. Trust folder"), "trust the working directory cao launched in"),
        (re.compile(r"How would you like to authenticate"),
         re.compile(r"● \d\. Use Gemini API Key"), "use the GEMINI_API_KEY cao passed in"),
    ]
    blocking_dialogs = [re.compile(r"How would you like to authenticate")]

    def extra_env(self, ctx: LaunchContext) -> dict[str, str]:
        # CI=true (GitHub Actions sets it, and cao-server inherits it) makes gemini take the
        # headless path: it exits 42 for want of a prompt on stdin. A cao terminal is an
        # interactive tmux window whatever the host is, so say so.
        env = {"GEMINI_CLI_TRUST_WORKSPACE": "true", "CI": "false"}
        if not env_value(ctx, "GEMINI_API_KEY") and is_loopback(
                env_value(ctx, "GOOGLE_GEMINI_BASE_URL")):
            env["GEMINI_API_KEY"] = "cao-local"  # a local endpoint needs no real key
        return env

    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        plan = super().build_launch(ctx)
        trusted = {str(ctx.working_directory): "TRUST_FOLDER"}
        plan.files[ctx.terminal_home / ".gemini" / "trustedFolders.json"] = json.dumps(trusted)
        return plan

    def session_answer(self, ctx: LaunchContext) -> str | None:
        return gemini_answer(ctx.terminal_home)
