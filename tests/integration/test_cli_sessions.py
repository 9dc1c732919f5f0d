"""The session, install, info and agent commands, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import tmux_windows, wait_until, write_profile


def cao(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "cao.cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_launch_session_commands_and_shutdown(cao_env, server, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    res = cao("launch", "--agents", "echoer", "--headless", "--session-name", "demo", "first words")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "first words"
    listing = cao("session", "list", "--json")
    names = [s["name"] for s in json.loads(listing.stdout)]
    assert names == ["cao-demo"]
    res = cao("session", "send", "cao-demo", "second $(words)")
    assert res.returncode == 0 and res.stdout.strip() == "second $(words)"
    status = json.loads(cao("session", "status", "cao-demo", "--json").stdout)
    assert status["terminals"][0]["status"] == "completed"
    res = cao("session", "send", "cao-demo", "async one", "--async")
    assert res.returncode == 0 and "delivered" in res.stderr
    res = cao("shutdown", "--session", "cao-demo")
    assert res.returncode == 0 and "stopped cao-demo" in res.stdout
    assert not tmux_windows(cao_env["CAO_TMUX_SOCKET"])
    assert cao("shutdown").returncode == 2


def test_launch_async_returns_once_delivered(cao_env, server, profiles_dir):
    write_profile(profiles_dir, "slowpoke", "testagents:slow")
    res = cao("launch", "--agents", "slowpoke", "--headless", "--async", "--session-name", "bg", "5 later")
    assert res.returncode == 0, res.stderr
    assert "message delivered" in res.stderr
    status = json.loads(cao("session", "status", "cao-bg", "--json").stdout)
    assert status["terminals"][0]["status"] == "processing"


def test_attach_without_a_terminal_prints_the_command(cao_env, server, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    res = cao("launch", "--agents", "echoer", "--session-name", "att")
    assert res.returncode == 0
    assert f"tmux -L {cao_env['CAO_TMUX_SOCKET']} attach-session -t cao-att:" in res.stdout


def test_install_info_and_profiles(cao_env, server, tmp_path):
    src = tmp_path / "helper.md"
    src.write_text("---\nname: helper\ndescription: a helper\nprovider: python\n"
                   "entrypoint: cao.agents.builtin:echo\n---\nHelp.\n")
    res = cao("install", str(src))
    assert res.returncode == 0, res.stderr
    assert (cao_env["home"] / "agent-store" / "helper.md").exists()
    listed = json.loads(cao("profiles", "--json").stdout)
    sources = {p["name"]: p["source"] for p in listed}
    assert sources["helper"] == "store" and sources["developer"] == "builtin"
    api_list = subprocess.run(["curl", "-s", f"{server.url}/agents/profiles"], capture_output=True, text=True)
    assert "helper" in api_list.stdout
    bad = tmp_path / "bad.md"
    bad.write_text("---\nname: bad\nnedds: x\n---\n")
    res = cao("install", str(bad))
    assert res.returncode == 1 and "nedds" in res.stderr
    res = cao("install", "nonexistent-thing")
    assert res.returncode == 1 and "neither a file" in res.stderr
    info = cao("info")
    assert str(cao_env["home"]) in info.stdout and "running" in info.stdout


def test_agent_commands_from_a_terminal(cao_env, server, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    res = cao("launch", "--agents", "echoer", "--headless", "--session-name", "ag")
    caller = json.loads(cao("session", "status", "cao-ag", "--json").stdout)["terminals"][0]["id"]
    env = {"CAO_TERMINAL_ID": caller}
    res = cao("agent", "handoff", "echoer", "multi\nline 'quoted'", env=env)
    assert res.returncode == 0 and res.stdout == "multi\nline 'quoted'\n"
    res = cao("agent", "assign", "echoer", "background", env=env)
    worker = res.stdout.strip()
    assert res.returncode == 0 and len(worker) == 8
    res = cao("agent", "send-message", worker, "hello worker", env=env)
    assert res.returncode == 0 and "queued" in res.stdout
    res = cao("agent", "handoff", "echoer", "x", env={"CAO_TERMINAL_ID": "bogus123"})
    assert res.returncode == 1 and "not known to this cao-server" in res.stderr


def test_no_server_is_a_clear_error(cao_env):
    res = cao("session", "list")
    assert res.returncode == 1
    assert "no cao-server answers" in res.stderr and "cao-server" in res.stderr
