"""Launch plans: per-terminal config only under the terminal home, MCP injection with the
terminal's id, profile translation, auto-update switches, endpoint pass-through."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from cao.providers.registry import get_provider
from provider_testlib import Profile

REAL = ["claude_code", "codex", "gemini_cli", "opencode_cli", "qwen_code"]
ALL = REAL + ["copilot_cli", "kiro_cli", "q_cli", "kimi_cli"]
PROMPT = 'You are "careful".\nAnswer in one line; use C:\\paths and {braces}.'
EXTRA_MCP = {"lab": {"type": "stdio", "command": "/usr/bin/python3", "args": ["echo.py"],
                     "env": {"ECHO_FILE": "/tmp/echo"}}}


def codex_config(argv: list[str]) -> dict:
    """The `-c key=value` overrides, each parsed as TOML as Codex does."""
    conf = {}
    for flag, item in zip(argv, argv[1:]):
        if flag == "-c":
            key, _, value = item.partition("=")
            conf[key] = tomllib.loads(f"v = {value}")["v"]
    return conf


def mcp_of(name: str, plan, ctx) -> dict[str, dict]:
    """name -> {command, args, env} as the CLI will read it."""
    home = ctx.terminal_home
    if name == "claude_code":
        path = Path(plan.argv[plan.argv.index("--mcp-config") + 1])
        return json.loads(plan.files[path])["mcpServers"]
    if name == "codex":
        conf = codex_config(plan.argv)
        servers: dict[str, dict] = {}
        for key, value in conf.items():
            if key.startswith("mcp_servers."):
                _, server, field = key.split(".", 2)
                servers.setdefault(server, {})[field] = value
        return servers
    if name in ("copilot_cli", "kimi_cli"):
        path = ctx.terminal_home / "cao-mcp.json"
        return json.loads(plan.files[path])["mcpServers"]
    if name in ("kiro_cli", "q_cli"):
        agent = next(v for k, v in plan.files.items() if k.parent.name in ("agents", "cli-agents"))
        return json.loads(agent)["mcpServers"]
    if name in ("gemini_cli", "qwen_code"):
        folder = ".gemini" if name == "gemini_cli" else ".qwen"
        return json.loads(plan.files[home / folder / "settings.json"])["mcpServers"]
    conf = json.loads(plan.files[home / ".config" / "opencode" / "opencode.json"])
    return {k: {"command": v["command"][0], "args": v["command"][1:], "env": v["environment"],
                **({"timeout": v["timeout"]} if "timeout" in v else {})}
            for k, v in conf["mcp"].items()}


# The key each CLI reads for how long one MCP tool call may take, and cao's value there.
LONG_CALLS = {"claude_code": ("timeout", 86_520_000), "codex": ("tool_timeout_sec", 86_520.0),
              "gemini_cli": ("timeout", 86_520_000), "qwen_code": ("timeout", 86_520_000),
              "opencode_cli": ("timeout", 86_520_000), "copilot_cli": ("timeout", 86_520_000)}


@pytest.mark.parametrize("name", sorted(LONG_CALLS))
def test_cao_tool_calls_may_last_as_long_as_the_longest_handoff(name, make_ctx):
    # Left at the CLIs' defaults (Codex 60 s, opencode and Copilot the MCP SDK's 60 s,
    # Gemini and Qwen 10 min) a long handoff would be aborted while its worker goes on.
    ctx = make_ctx(profile=Profile(mcpServers=EXTRA_MCP))
    servers = mcp_of(name, get_provider(name).build_launch(ctx), ctx)
    key, value = LONG_CALLS[name]
    assert servers["cao-mcp-server"][key] == value
    assert key not in servers["lab"]  # the profile's own servers keep the CLI's default


@pytest.mark.parametrize("name", ALL)
def test_files_stay_in_the_terminal_home_and_nothing_is_written(name, make_ctx):
    ctx = make_ctx(profile=Profile(system_prompt=PROMPT, mcpServers=EXTRA_MCP))
    plan = get_provider(name).build_launch(ctx)
    assert plan.files, "every provider writes some per-terminal config"
    for path in plan.files:
        assert path.is_relative_to(ctx.terminal_home), path
    assert not ctx.terminal_home.exists(), "build_launch must only describe files"
    assert plan.env["HOME"] == str(ctx.terminal_home)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        assert Path(plan.env[var]).is_relative_to(ctx.terminal_home)
    assert plan.env["CAO_TERMINAL_ID"] == "term-42"
    assert plan.cwd == ctx.working_directory
    assert plan.argv[0] == get_provider(name).binary


@pytest.mark.parametrize("name", ALL)
def test_cao_mcp_server_is_injected_with_the_terminal_id(name, make_ctx):
    ctx = make_ctx(profile=Profile(mcpServers=EXTRA_MCP))
    servers = mcp_of(name, get_provider(name).build_launch(ctx), ctx)
    cao = servers["cao-mcp-server"]
    assert cao["command"] == ctx.cao_mcp.command
    assert cao["args"] == ["-m", "cao.mcp.server"]
    assert cao["env"] == {"CAO_SERVER_URL": "http://127.0.0.1:9889", "CAO_TERMINAL_ID": "term-42"}
    assert servers["lab"]["command"] == "/usr/bin/python3"
    assert servers["lab"]["args"] == ["echo.py"]
    assert servers["lab"]["env"] == {"ECHO_FILE": "/tmp/echo"}


@pytest.mark.parametrize("name", REAL)
def test_model_and_endpoint_come_from_profile_and_env(name, make_ctx, monkeypatch):
    env = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:5001", "OPENAI_BASE_URL": "http://127.0.0.1:5002/v1",
           "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:5003"}
    ctx = make_ctx(profile=Profile(model="fake-model"), env=env)
    plan = get_provider(name).build_launch(ctx)
    text = json.dumps({"argv": plan.argv, "env": plan.env,
                       "files": {str(k): v for k, v in plan.files.items()}})
    assert "fake-model" in text
    expected = {"claude_code": "http://127.0.0.1:5001", "gemini_cli": "http://127.0.0.1:5003"}
    assert expected.get(name, "http://127.0.0.1:5002/v1") in text


def test_endpoint_is_also_read_from_cao_s_own_environment(make_ctx, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:6001")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok")
    plan = get_provider("claude_code").build_launch(make_ctx())
    assert plan.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:6001"
    assert plan.env["ANTHROPIC_AUTH_TOKEN"] == "tok"


def test_claude_code_launch(make_ctx):
    ctx = make_ctx(profile=Profile(system_prompt=PROMPT, allowedTools=["execute_bash", "@lab"]),
                   env={"ANTHROPIC_API_KEY": "sk-ant-0123456789abcdefghijKLMN"})
    plan = get_provider("claude_code").build_launch(ctx)
    state = json.loads(plan.files[ctx.terminal_home / ".claude.json"])
    assert state["hasCompletedOnboarding"] is True
    assert state["projects"][str(ctx.working_directory)]["hasTrustDialogAccepted"] is True
    assert state["customApiKeyResponses"]["approved"] == ["3456789abcdefghijKLMN"[-20:]]
    assert plan.argv[plan.argv.index("--append-system-prompt") + 1] == PROMPT
    assert "--strict-mcp-config" in plan.argv
    allowed = plan.argv[plan.argv.index("--allowedTools") + 1].split(",")
    assert allowed == ["mcp__cao-mcp-server", "Bash", "mcp__lab"]
    assert plan.env["DISABLE_AUTOUPDATER"] == "1"
    assert "--dangerously-skip-permissions" not in plan.argv


def test_claude_code_yolo_sets_sandbox_flag(make_ctx):
    plan = get_provider("claude_code").build_launch(make_ctx(yolo=True))
    assert "--dangerously-skip-permissions" in plan.argv and plan.env["IS_SANDBOX"] == "1"


def test_codex_launch_uses_overrides_only(make_ctx):
    ctx = make_ctx(profile=Profile(system_prompt=PROMPT, model="fake-model"),
                   env={"OPENAI_BASE_URL": "http://127.0.0.1:5002/v1"})
    plan = get_provider("codex").build_launch(ctx)
    conf = codex_config(plan.argv)
    assert conf["check_for_update_on_startup"] is False
    assert conf[f'projects."{ctx.working_directory}".trust_level'] == "trusted"
    assert conf["developer_instructions"] == PROMPT
    assert conf["model_provider"] == "cao"
    assert conf["model_providers.cao.base_url"] == "http://127.0.0.1:5002/v1"
    assert conf["model_providers.cao.wire_api"] == "responses"
    assert conf["mcp_servers.cao-mcp-server.default_tools_approval_mode"] == "approve"
    assert plan.env["CODEX_HOME"] == str(ctx.terminal_home / ".codex")
    assert plan.env["OPENAI_API_KEY"] == "cao-local"  # loopback endpoint, no key given
    assert not any(p.name == "config.toml" for p in plan.files)


def test_codex_without_endpoint_uses_its_default_provider(make_ctx):
    conf = codex_config(get_provider("codex").build_launch(make_ctx()).argv)
    assert "model_provider" not in conf


def test_codex_handoff_message_format():
    codex = get_provider("codex")
    text = codex.format_message("Summarise A", kind="handoff")
    assert text.startswith("[CAO Handoff] Summarise A")
    assert "captures your final answer automatically" in text
    assert codex.format_message("hi") == "hi"
    assert codex.format_message("hi", kind="assign") == "hi"


@pytest.mark.parametrize("name,folder,context", [("gemini_cli", ".gemini", "GEMINI.md"),
                                                 ("qwen_code", ".qwen", "QWEN.md")])
def test_gemini_family_settings(name, folder, context, make_ctx):
    ctx = make_ctx(profile=Profile(system_prompt=PROMPT, allowedTools=["execute_bash"]))
    plan = get_provider(name).build_launch(ctx)
    settings = json.loads(plan.files[ctx.terminal_home / folder / "settings.json"])
    assert settings["general"]["enableAutoUpdate"] is False
    assert "disableAutoUpdate" not in settings["general"]  # ignored by Qwen 0.15: it self-updated
    assert all(s["trust"] is True for s in settings["mcpServers"].values())
    assert settings["tools"]["allowed"] == ["run_shell_command"]
    assert plan.files[ctx.terminal_home / folder / context].startswith(PROMPT)
    assert "--yolo" not in plan.argv


def test_gemini_trusts_the_working_directory(make_ctx):
    ctx = make_ctx(env={"GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:5003"})
    plan = get_provider("gemini_cli").build_launch(ctx)
    trusted = json.loads(plan.files[ctx.terminal_home / ".gemini" / "trustedFolders.json"])
    assert trusted == {str(ctx.working_directory): "TRUST_FOLDER"}
    assert plan.env["GEMINI_CLI_TRUST_WORKSPACE"] == "true"
    assert plan.env["GEMINI_API_KEY"] == "cao-local"
    settings = json.loads(plan.files[ctx.terminal_home / ".gemini" / "settings.json"])
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"


def test_gemini_stays_interactive_when_the_host_is_ci(make_ctx):
    # With CI=true inherited from the host, gemini 0.61 goes headless and exits 42.
    ctx = make_ctx(env={"CI": "true"})
    plan = get_provider("gemini_cli").build_launch(ctx)
    assert {**ctx.env, **plan.env}["CI"] == "false"


def test_qwen_warns_the_model_about_its_builtin_send_message(make_ctx):
    ctx = make_ctx(profile=Profile(model="fake-model"))
    plan = get_provider("qwen_code").build_launch(ctx)
    note = plan.files[ctx.terminal_home / ".qwen" / "QWEN.md"]
    assert "mcp__cao-mcp-server__send_message" in note and "tool_search" in note
    assert plan.env["OPENAI_MODEL"] == "fake-model"


def test_opencode_config(make_ctx):
    ctx = make_ctx(profile=Profile(system_prompt=PROMPT, model="fake-model", allowedTools=["fs_read"]),
                   env={"OPENAI_BASE_URL": "http://127.0.0.1:5002/v1", "OPENAI_API_KEY": "sk-x"})
    plan = get_provider("opencode_cli").build_launch(ctx)
    conf = json.loads(plan.files[ctx.terminal_home / ".config" / "opencode" / "opencode.json"])
    assert conf["autoupdate"] is False and plan.env["OPENCODE_DISABLE_AUTOUPDATE"] == "1"
    assert conf["model"] == "cao/fake-model"
    assert conf["provider"]["cao"]["options"] == {"baseURL": "http://127.0.0.1:5002/v1",
                                                  "apiKey": "{env:OPENAI_API_KEY}"}
    assert "sk-x" not in json.dumps(conf)  # keys stay in the environment
    assert conf["permission"] == {"bash": "ask", "edit": "ask", "webfetch": "ask"}
    prompt_file = Path(conf["instructions"][0])
    assert plan.files[prompt_file].startswith(PROMPT)


@pytest.mark.parametrize("name", ALL)
def test_remote_mcp_servers_are_reported(name):
    problems = get_provider(name).validate_profile(
        Profile(mcpServers={"web": {"type": "http", "url": "https://x"}, "bad": {"type": "stdio"}}))
    assert any("mcpServers.web" in p for p in problems)
    assert any("mcpServers.bad" in p and "command" in p for p in problems)


@pytest.mark.parametrize("name", REAL + ["copilot_cli"])
def test_verified_versions_match_the_install_script(name):
    script = (Path(__file__).resolve().parents[3] / "scripts" / "install-agent-clis.sh").read_text()
    for version in get_provider(name).verified_versions:
        assert f"@{version}\"" in script


def test_copilot_launch(make_ctx):
    ctx = make_ctx(profile=Profile(system_prompt=PROMPT, model="fake-model"),
                   env={"COPILOT_PROVIDER_BASE_URL": "http://127.0.0.1:5002/v1"})
    plan = get_provider("copilot_cli").build_launch(ctx)
    home = ctx.terminal_home / ".copilot"
    assert json.loads(plan.files[home / "config.json"]) == {
        "trustedFolders": [str(ctx.working_directory)]}
    assert plan.files[home / "copilot-instructions.md"].startswith(PROMPT)
    assert plan.env["COPILOT_HOME"] == str(home)
    assert plan.env["COPILOT_AUTO_UPDATE"] == "false"
    assert plan.env["COPILOT_OFFLINE"] == "true" and plan.env["COPILOT_MODEL"] == "fake-model"
    assert plan.argv[plan.argv.index("--allow-tool") + 1] == "cao-mcp-server"


@pytest.mark.parametrize("name,agents", [("kiro_cli", ".kiro/agents"),
                                         ("q_cli", ".aws/amazonq/cli-agents")])
def test_q_family_agent_file(name, agents, make_ctx, monkeypatch, tmp_path):
    real_home = tmp_path / "real-home"
    monkeypatch.setenv("HOME", str(real_home))
    data = ".local/share/kiro-cli" if name == "kiro_cli" else ".local/share/amazon-q"
    (real_home / data).mkdir(parents=True)
    ctx = make_ctx(profile=Profile(name="data analyst", system_prompt=PROMPT,
                                   allowedTools=["fs_read", "@lab"]))
    plan = get_provider(name).build_launch(ctx)
    agent = json.loads(plan.files[ctx.terminal_home / agents / "cao-data-analyst.json"])
    assert agent["prompt"] == PROMPT
    assert agent["allowedTools"] == ["fs_read", "@lab", "@cao-mcp-server"]
    assert plan.argv[1:4] == ["chat", "--agent", "cao-data-analyst"]
    assert plan.links == {ctx.terminal_home / data: real_home / data}
    assert not any(link.is_relative_to(real_home) for link in plan.links)


def test_kimi_agent_file(make_ctx):
    ctx = make_ctx(profile=Profile(system_prompt=PROMPT))
    plan = get_provider("kimi_cli").build_launch(ctx)
    agent = plan.files[Path(plan.argv[plan.argv.index("--agent-file") + 1])]
    assert "extend: default" in agent and "cao-system.md" in agent
    assert "--no-thinking" in plan.argv
