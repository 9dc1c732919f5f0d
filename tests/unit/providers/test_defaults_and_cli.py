"""Default provider resolution, `cao config` and `cao providers`."""

from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from cao import user_config
from cao.providers.defaults import NoProviderError, resolve_default_provider
from cao.providers.registry import UnknownProviderError


@pytest.fixture
def cao_env(tmp_path, monkeypatch):
    """An empty CAO_HOME and a PATH holding only a bin dir the test fills."""
    monkeypatch.setenv("CAO_HOME", str(tmp_path / "cao-home"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def fake_cli(bin_dir, name, version="1.2.3"):
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\necho '{name} {version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_nothing_installed_gives_a_helpful_error(cao_env):
    with pytest.raises(NoProviderError) as info:
        resolve_default_provider()
    text = str(info.value)
    for needle in ("kiro-cli", "claude", "codex", "gemini", "opencode", "qwen",
                   "npm install -g @openai/codex", "install-agent-clis.sh",
                   "cao config set default_provider", "python"):
        assert needle in text


def test_kiro_first_then_documented_order(cao_env):
    fake_cli(cao_env, "qwen")
    fake_cli(cao_env, "codex")
    assert resolve_default_provider() == "codex"
    fake_cli(cao_env, "kiro-cli")
    assert resolve_default_provider() == "kiro_cli"


def test_configured_default_wins(cao_env):
    fake_cli(cao_env, "kiro-cli")
    user_config.set_value("default_provider", "gemini_cli")
    assert resolve_default_provider() == "gemini_cli"
    assert resolve_default_provider(configured="codex") == "codex"
    with pytest.raises(UnknownProviderError, match="cao config set default_provider"):
        resolve_default_provider(configured="nope")


def test_user_config_rejects_unknown_keys_and_values(cao_env):
    with pytest.raises(user_config.UserConfigError, match="known settings: default_provider"):
        user_config.set_value("default_providr", "codex")
    with pytest.raises(user_config.UserConfigError, match="unknown provider 'nope'"):
        user_config.set_value("default_provider", "nope")
    assert user_config.get("default_provider") is None
    assert user_config.unset("default_provider") is False


def cli(*args):
    from cao.cli.main import app

    return CliRunner().invoke(app, list(args))


def test_config_commands(cao_env):
    assert cli("config", "set", "default_provider", "codex").output == "default_provider = codex\n"
    assert cli("config", "get", "default_provider").output == "codex\n"
    stored = json.loads((user_config.path()).read_text())
    assert stored == {"default_provider": "codex"}
    result = cli("config", "set", "default_provider", "nope")
    assert result.exit_code == 1 and "unknown provider 'nope'" in result.output
    assert cli("config", "unset", "default_provider").output == "default_provider unset\n"
    assert cli("config", "get", "default_provider").output == "\n"


def test_providers_command_reports_installed_and_verified(cao_env):
    fake_cli(cao_env, "codex", "0.169.0")      # a verified version
    fake_cli(cao_env, "gemini", "0.1.0")       # installed, version never verified
    fake_cli(cao_env, "kiro-cli", "2.0.0")     # installed, unverified provider
    result = cli("providers", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["codex"]["installed"] and rows["codex"]["verified"]
    assert rows["codex"]["path"] == str(cao_env / "codex")
    assert rows["gemini_cli"]["version"] == "0.1.0" and not rows["gemini_cli"]["verified"]
    assert "verified: 0.61.0" in rows["gemini_cli"]["notes"]
    assert rows["kiro_cli"]["unverified_provider"] and "unverified" in rows["kiro_cli"]["notes"]
    assert not rows["claude_code"]["installed"] and "npm install" in rows["claude_code"]["notes"]
    table = cli("providers").output.splitlines()
    assert table[0].split() == ["NAME", "INSTALLED", "PATH", "VERSION", "VERIFIED", "NOTES"]
    assert any(line.startswith("codex ") and " yes " in line for line in table)


def test_version_probe_never_touches_the_real_home(cao_env, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    probe = cao_env / "codex"
    probe.write_text('#!/bin/sh\nmkdir -p "$HOME/.codex"\necho 0.169.0\n')
    probe.chmod(0o755)
    from cao.providers.registry import get_provider

    assert get_provider("codex").installed_version() == "0.169.0"
    assert os.listdir(home) == []
