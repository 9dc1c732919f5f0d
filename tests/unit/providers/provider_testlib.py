"""Helpers for provider tests: a profile stand-in, fixture paths, a context factory."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cao.providers.base import LaunchContext, McpServerLaunch

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SCREENS = FIXTURES / "screens"
SESSIONS = FIXTURES / "sessions"


@dataclass
class Profile:
    """Only the attributes providers may read from cao.spec's AgentProfile."""

    name: str = "worker"
    provider: str | None = None
    model: str | None = None
    system_prompt: str = ""
    allowedTools: list[str] | None = None
    mcpServers: dict[str, Any] | None = None
    custom: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def screen(cli: str, name: str) -> str:
    return (SCREENS / cli / name).read_text(encoding="utf-8")


def make_context(tmp_path: Path, profile: Profile | None = None,
                 env: dict[str, str] | None = None, yolo: bool = False) -> LaunchContext:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return LaunchContext(
        terminal_id="term-42",
        profile=profile or Profile(),
        working_directory=work,
        terminal_home=tmp_path / "cao-home" / "terminals" / "term-42",
        env=dict(env or {}),
        cao_mcp=McpServerLaunch(command=sys.executable, args=["-m", "cao.mcp.server"],
                                env={"CAO_SERVER_URL": "http://127.0.0.1:9889"}),
        yolo=yolo,
    )
