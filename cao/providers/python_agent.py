"""The built-in `python` provider: a Python function run as an agent by python_host."""

from __future__ import annotations

import base64
import json
import re
import sys
from typing import Any

from cao.providers import python_host as host
from cao.providers.base import LaunchContext, LaunchPlan, Provider, TerminalStatus

_ANSWER_RE = re.compile(re.escape(host.OSC_ANSWER) + r"([A-Za-z0-9+/=]*)" + re.escape(host.BEL))


class PythonProvider(Provider):
    name = "python"
    binary = None
    exit_command = "/exit"
    verified_versions = ("builtin",)
    busy_before_done = False  # each turn adds its own done line: the screen proves it
    paste_settle = 0.0  # the host parses paste and Enter from one read: submit at once

    def validate_profile(self, profile: Any) -> list[str]:
        entry = getattr(profile, "entrypoint", None)
        if not entry or ":" not in entry:
            return ["provider 'python' needs `entrypoint: package.module:function` in the profile"]
        return []

    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        problems = self.validate_profile(ctx.profile)
        if problems:
            raise ValueError(f"profile {ctx.profile.name!r}: {problems[0]}")
        env = {
            "CAO_PROFILE": ctx.profile.name,
            "CAO_MCP_COMMAND": ctx.cao_mcp.command,
            "CAO_MCP_ARGS": json.dumps(ctx.cao_mcp.args),
            "PYTHONUNBUFFERED": "1",
        }
        return LaunchPlan(argv=[sys.executable, "-m", "cao.providers.python_host",
                                ctx.profile.entrypoint], env=env, cwd=ctx.working_directory)

    def classify(self, screen: str) -> TerminalStatus:
        lines = [line for line in screen.rstrip().split("\n") if line.strip()]
        for idx in range(len(lines) - 1, -1, -1):
            line = lines[idx]
            if line.startswith(host.ASK_PROMPT.strip()):
                return TerminalStatus.WAITING_USER_ANSWER
            if line.startswith(host.PROMPT.strip()):
                # A prompt: what came before it tells idle from done from failed, unless
                # the prompt is followed by the busy line of a submitted message.
                for prev in reversed(lines[:idx]):
                    if prev.startswith(host.DONE):
                        return TerminalStatus.COMPLETED
                    if prev.startswith(host.FAILED):
                        return TerminalStatus.ERROR
                    if prev.startswith((host.PROMPT.strip(), host.BUSY)):
                        break
                return TerminalStatus.IDLE
            if line.startswith((host.BUSY, host.DONE)):
                return TerminalStatus.PROCESSING
            if line.startswith(host.FAILED):
                return TerminalStatus.ERROR
        return TerminalStatus.STARTING

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        matches = _ANSWER_RE.findall(transcript)
        if not matches:
            return None
        return base64.b64decode(matches[-1]).decode("utf-8", "replace")
