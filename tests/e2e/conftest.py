"""Fixtures for the conformance suite: pinned agent CLIs, the fake model, tmux agents.

Everything here is marked `e2e` (the full tier): `python -m pytest -m e2e tests/e2e`.
The CLIs are installed by scripts/install-agent-clis.sh into a cached prefix
(CAO_AGENT_CLIS_DIR, default ~/.cache/cao/agent-clis), so only the first run downloads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cao.providers.base import LaunchContext, McpServerLaunch
from cao.providers.registry import get_provider
from tests.e2e.driver import TmuxAgent, kill_server, socket_name
from tests.fakellm import FakeLLM

ROOT = Path(__file__).resolve().parents[2]
ECHO_MCP = ROOT / "tests" / "fakellm" / "echo_mcp.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


@dataclass
class Profile:
    name: str = "conformance"
    provider: str | None = None
    model: str | None = "fake-model"
    system_prompt: str = "You are a cao conformance test agent."
    allowedTools: list[str] | None = None
    mcpServers: dict[str, Any] | None = None
    custom: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="session")
def agent_cli_bin() -> Path:
    """The bin directory of the pinned CLIs (installed once, then cached)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is needed to install the agent CLIs")
    if shutil.which("tmux") is None:
        pytest.skip("tmux is needed for the conformance suite")
    out = subprocess.run(["bash", str(ROOT / "scripts" / "install-agent-clis.sh")],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        pytest.fail(f"install-agent-clis.sh failed:\n{out.stderr[-3000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def fake_llm(tmp_path: Path) -> Iterator[FakeLLM]:
    with FakeLLM(log_path=tmp_path / "model-requests.jsonl") as fake:
        yield fake


def model_env(fake: FakeLLM) -> dict[str, str]:
    """Point every CLI at the fake model, whatever variable it reads."""
    return {
        "ANTHROPIC_BASE_URL": fake.url,
        "OPENAI_BASE_URL": f"{fake.url}/v1",
        "GOOGLE_GEMINI_BASE_URL": fake.url,
        "COPILOT_PROVIDER_BASE_URL": f"{fake.url}/v1",
    }


@pytest.fixture
def make_agent(tmp_path: Path, agent_cli_bin: Path, fake_llm: FakeLLM):
    """Build a TmuxAgent for a provider; every agent is killed and reaped at teardown,
    and the test fails if a process of the terminal is still alive afterwards."""
    socket = socket_name()
    agents: list[TmuxAgent] = []

    def make(provider_name: str, profile: Profile | None = None, yolo: bool = False,
             mcp_file: Path | None = None) -> TmuxAgent:
        provider = get_provider(provider_name)
        profile = profile or Profile(provider=provider_name)
        provider = provider.for_profile(profile)
        terminal_id = f"conf{len(agents)}{os.getpid() % 10000}"
        work = tmp_path / f"work-{terminal_id}"
        work.mkdir()
        env = {"PATH": f"{agent_cli_bin}:{os.environ.get('PATH', '')}",
               "TERM": "xterm-256color", **model_env(fake_llm)}
        # Stands in for cao-mcp-server until the conformance suite runs against the real
        # one: an MCP server that records each call with the caller's CAO_TERMINAL_ID.
        cao_mcp = McpServerLaunch(command=sys.executable, args=[str(ECHO_MCP)],
                                  env={"ECHO_MCP_FILE": str(mcp_file or tmp_path / "mcp-calls.jsonl")})
        ctx = LaunchContext(terminal_id=terminal_id, profile=profile, working_directory=work,
                            terminal_home=tmp_path / "terminals" / terminal_id, env=env,
                            cao_mcp=cao_mcp, yolo=yolo)
        agent = TmuxAgent(provider, ctx, socket)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.kill()
    kill_server(socket)
    leftovers = [pid for agent in agents for pid in _processes_of(agent.ctx)]
    assert not leftovers, f"processes left behind: {leftovers}"


def _processes_of(ctx: LaunchContext) -> list[int]:
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        if env.get("CAO_TERMINAL_ID") == ctx.terminal_id or env.get("HOME") == str(ctx.terminal_home):
            found.append(proc.pid)
    return found
