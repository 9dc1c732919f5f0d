"""Launch helpers shared by the agent-CLI providers.

Each CLI runs with HOME (and the XDG directories) pointed at the terminal's own directory
under cao's home, so its config, caches, session logs and any self-update attempt stay
there and the user's own dotfiles are never read or written.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cao.providers.base import LaunchContext, McpServerLaunch, Provider

CAO_MCP_NAME = "cao-mcp-server"
# How long a cao-mcp-server tool call may take: a handoff waits up to a day (its `timeout`
# is capped at 86400 s) plus its client's margin. The CLIs' own limits are shorter (Codex
# and the MCP TypeScript SDK: 60 s, Gemini CLI and Qwen Code: 10 min) and would abort a
# long handoff while its worker goes on, so every provider passes this one instead.
CAO_MCP_CALL_TIMEOUT = 86400 + 120

# CAO profiles name tools the way Kiro/Amazon Q do; map them to each CLI's own names.
TOOL_ALIASES: dict[str, dict[str, list[str]]] = {
    "claude_code": {"execute_bash": ["Bash"], "fs_read": ["Read", "Glob", "Grep"],
                    "fs_write": ["Edit", "Write"], "web_fetch": ["WebFetch"]},
    "gemini_cli": {"execute_bash": ["run_shell_command"], "fs_read": ["read_file", "glob"],
                   "fs_write": ["write_file", "replace"], "web_fetch": ["web_fetch"]},
    "qwen_code": {"execute_bash": ["run_shell_command"], "fs_read": ["read_file", "glob"],
                  "fs_write": ["write_file", "edit"], "web_fetch": ["web_fetch"]},
    "opencode_cli": {"execute_bash": ["bash"], "fs_read": ["read", "glob", "grep"],
                     "fs_write": ["edit", "write"], "web_fetch": ["webfetch"]},
}


def env_value(ctx: LaunchContext, name: str) -> str | None:
    """A setting from the terminal's env first, then cao's own environment."""
    value = ctx.env.get(name)
    if value is None:
        value = os.environ.get(name)
    return value or None


def isolated_env(ctx: LaunchContext) -> dict[str, str]:
    """HOME and XDG dirs inside the terminal home, plus the terminal's identity."""
    home = ctx.terminal_home
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "CAO_TERMINAL_ID": ctx.terminal_id,
    }


def passthrough(ctx: LaunchContext, names: list[str]) -> dict[str, str]:
    """The subset of `names` that is set, so endpoints and keys reach the CLI."""
    out = {}
    for name in names:
        value = env_value(ctx, name)
        if value is not None:
            out[name] = value
    return out


def is_loopback(url: str | None) -> bool:
    return bool(url) and bool(re.match(r"https?://(127\.|localhost|\[::1\])", url or ""))


def profile_attr(profile: Any, name: str) -> Any:
    return getattr(profile, name, None) if profile is not None else None


def system_prompt(ctx: LaunchContext) -> str:
    return (profile_attr(ctx.profile, "system_prompt") or "").strip()


def _mcp_field(entry: Any, key: str) -> Any:
    if isinstance(entry, Mapping):
        return entry.get(key)
    return getattr(entry, key, None)


def mcp_servers(ctx: LaunchContext) -> dict[str, McpServerLaunch]:
    """The profile's stdio MCP servers plus cao-mcp-server, which always carries this
    terminal's CAO_TERMINAL_ID so its tool calls are attributed to the right agent."""
    servers: dict[str, McpServerLaunch] = {}
    for name, entry in (profile_attr(ctx.profile, "mcpServers") or {}).items():
        if name == CAO_MCP_NAME:
            continue  # cao's own server is injected below with the right identity
        kind = _mcp_field(entry, "type") or "stdio"
        command = _mcp_field(entry, "command")
        if kind != "stdio" or not command:
            continue  # remote (http/sse) servers are not translated yet; see validate_profile
        servers[name] = McpServerLaunch(
            command=str(command),
            args=[str(a) for a in _mcp_field(entry, "args") or []],
            env={str(k): str(v) for k, v in (_mcp_field(entry, "env") or {}).items()},
        )
    cao = ctx.cao_mcp
    servers[CAO_MCP_NAME] = McpServerLaunch(
        command=cao.command, args=list(cao.args),
        env={**cao.env, "CAO_TERMINAL_ID": ctx.terminal_id}, call_timeout=CAO_MCP_CALL_TIMEOUT)
    return servers


def timeout_ms(server: McpServerLaunch) -> dict[str, int]:
    """`{"timeout": ms}` for the JSON MCP configs that take one (Claude Code, Gemini CLI,
    Qwen Code, opencode, Copilot CLI), empty when the server keeps the CLI's default."""
    return {"timeout": int(server.call_timeout * 1000)} if server.call_timeout else {}


def mcp_problems(profile: Any) -> list[str]:
    problems = []
    for name, entry in (profile_attr(profile, "mcpServers") or {}).items():
        kind = _mcp_field(entry, "type") or "stdio"
        if kind != "stdio":
            problems.append(f"mcpServers.{name}: type {kind!r} is not supported yet; "
                            "only stdio servers (command + args) are passed to the CLI")
        elif not _mcp_field(entry, "command"):
            problems.append(f"mcpServers.{name}: a stdio server needs a `command`")
    return problems


def translate_tools(provider: str, tools: list[str] | None) -> list[str] | None:
    """Profile `allowedTools` in the CLI's own names; `@server` means all of an MCP
    server's tools. None when the profile sets no list."""
    if tools is None:
        return None
    aliases = TOOL_ALIASES.get(provider, {})
    out: list[str] = []
    for tool in tools:
        for name in aliases.get(tool, [tool]):
            if name not in out:
                out.append(name)
    return out


def run_version(path: str) -> str | None:
    """`<cli> --version` in a throwaway HOME: some CLIs write state on every start."""
    with tempfile.TemporaryDirectory(prefix="cao-version-") as home:
        env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": f"{home}/.config",
               "XDG_DATA_HOME": f"{home}/.local/share", "XDG_CACHE_HOME": f"{home}/.cache",
               "XDG_STATE_HOME": f"{home}/.local/state"}
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True,
                                 timeout=30, env=env, stdin=subprocess.DEVNULL, cwd=home)
        except (OSError, subprocess.SubprocessError):
            return None
    match = re.search(r"\d+\.\d+\.\d+", out.stdout + out.stderr)
    return match.group(0) if match else None


def reap_processes(ctx: LaunchContext, grace: float = 3.0) -> list[int]:
    """Processes left behind by this terminal's CLI: its CAO_TERMINAL_ID or its HOME."""
    from cao.processes import reap_processes as reap

    return reap(ctx.terminal_id, home=str(ctx.terminal_home), grace=grace)


_CACHE_LOCK = threading.Lock()


def cached_version(path: str) -> str | None:
    """`run_version` remembered per executable (real path, size, mtime) under CAO_HOME:
    a Node CLI's first `--version` in a fresh HOME takes up to ~10 s."""
    import json

    from cao.config import cao_home

    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return None
    key = f"{real}:{st.st_size}:{int(st.st_mtime)}"
    cache = cao_home() / "cache" / "cli-versions.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    version = run_version(path)
    if version:
        with _CACHE_LOCK:  # `cao providers` asks for all versions at once, in threads
            try:
                known = json.loads(cache.read_text())
            except (OSError, ValueError):
                known = {}
            known[key] = version
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known, indent=1))
            os.replace(tmp, cache)
    return version


class AgentCliProvider(Provider):
    """Defaults shared by the real agent-CLI providers."""

    def installed_version(self) -> str | None:
        path = self.installed_path()
        return cached_version(path) if path else None

    def cleanup(self, ctx: LaunchContext) -> None:
        reap_processes(ctx)

    def validate_profile(self, profile: Any) -> list[str]:
        return mcp_problems(profile)


def toml_string(value: str) -> str:
    """A TOML basic string (JSON escaping is a valid subset for the characters we emit)."""
    import json

    return json.dumps(value)


def toml_inline(value: Any) -> str:
    """A TOML inline value for `codex -c key=value` overrides."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_inline(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{toml_string(str(k))} = {toml_inline(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"cannot express {value!r} in TOML")


def newest(paths: list[Path]) -> Path | None:
    existing = [p for p in paths if p.is_file()]
    return max(existing, key=lambda p: p.stat().st_mtime_ns) if existing else None

