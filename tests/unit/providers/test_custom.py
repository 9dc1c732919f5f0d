"""The `custom` provider: configuration checks, launch, and the bash REPL example."""

from __future__ import annotations

import shutil
from pathlib import Path

import frontmatter
import pytest

from cao.providers.base import TerminalStatus as S
from cao.providers.custom import CustomProvider
from cao.providers.registry import get_provider
from provider_testlib import SCREENS, Profile

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "bash-repl-agent" / "profile.md"
BASE = {"command": ["bash", "agent.sh"], "idle": "^agent> ", "busy": r"^thinking\.\.\.$"}


def provider(**custom) -> CustomProvider:
    return get_provider("custom").for_profile(Profile(custom={**BASE, **custom}))


def example_profile() -> Profile:
    post = frontmatter.load(EXAMPLE)
    return Profile(name=post["name"], provider=post["provider"], custom=post["custom"],
                   system_prompt=post.content)


@pytest.mark.parametrize("custom,expected", [
    (None, "custom: a profile with `provider: custom` needs a `custom:` section"),
    ("bash", "custom: expected a mapping, got str"),
    ({"idle": "> "}, "custom.command: is required"),
    ({"command": "agent"}, "custom.idle: is required"),
    ({"command": [], "idle": "> "}, "custom.command: must name the program to run"),
    ({"command": "a", "idle": "(unclosed"}, "custom.idle: not a valid regular expression"),
    ({"command": "a", "idle": "> ", "answer": {"start": "["}}, "custom.answer.start: not a valid"),
    ({"command": "a", "idle": "> ", "idel": "x"}, "custom.idel: is not a known key"),
    ({"command": "a", "idle": "> ", "env": {"A": 1}}, "custom.env.A: Input should be a valid string"),
])
def test_validation_messages_name_the_field(custom, expected):
    problems = get_provider("custom").validate_profile(Profile(custom=custom))
    assert any(p.startswith(expected) for p in problems), problems


def test_example_profile_is_valid():
    assert get_provider("custom").validate_profile(example_profile()) == []


def test_for_profile_refuses_a_bad_section():
    with pytest.raises(ValueError, match=r"custom\.idle: is required"):
        get_provider("custom").for_profile(Profile(custom={"command": "x"}))


def test_unconfigured_provider_says_how_to_configure():
    with pytest.raises(RuntimeError, match="for_profile"):
        get_provider("custom").classify("agent> ")


def test_launch_never_uses_a_shell_and_fills_placeholders(make_ctx):
    p = provider(command="my-cli --mcp {mcp_config} --prompt '{system_prompt_file}' 'two words'",
                 env={"X": "1"})
    ctx = make_ctx(profile=Profile(system_prompt="Be brief."))
    plan = p.build_launch(ctx)
    home = ctx.terminal_home
    assert plan.argv == ["my-cli", "--mcp", str(home / "cao-mcp.json"), "--prompt",
                         str(home / "system-prompt.md"), "two words"]
    assert plan.env["X"] == "1" and plan.env["CAO_TERMINAL_ID"] == "term-42"
    assert plan.files[home / "system-prompt.md"] == "Be brief.\n"
    assert '"CAO_TERMINAL_ID": "term-42"' in plan.files[home / "cao-mcp.json"]
    assert all(path.is_relative_to(home) for path in plan.files)


def test_status_and_answers_on_a_synthetic_screen():
    p = provider(error="^ERROR:")
    assert p.classify("") == S.STARTING
    assert p.classify("agent> ") == S.IDLE
    assert p.classify("agent> sum 1 2\nthinking...") == S.PROCESSING
    assert p.classify("agent> sum 1 2") == S.PROCESSING
    done = "agent> stats 1 2\nthinking...\nmean = 1.5\n\nmedian = 1.5\nagent> "
    assert p.classify(done) == S.COMPLETED
    assert p.extract_last_answer(done, "") == "mean = 1.5\n\nmedian = 1.5"
    assert p.classify("agent> fail\nthinking...\nERROR: no\nagent> ") == S.ERROR


def test_answer_by_regex_group_and_by_markers():
    screen = "agent> q\nlog line\nANSWER: 42\nmore\nBEGIN\nline 1\nline 2\nEND\nagent> "
    assert provider(answer=r"ANSWER: (?P<answer>.*)").extract_last_answer(screen, "") == "42"
    markers = provider(answer={"start": "^BEGIN$", "end": "^END$"})
    assert markers.extract_last_answer(screen, "") == "line 1\nline 2"
    assert markers.classify(screen) == S.COMPLETED
    assert provider(answer="NOPE").classify(screen) == S.IDLE


@pytest.mark.parametrize("name,status,answer", [
    ("bash-agent-permission-live.txt", S.WAITING_USER_ANSWER, None),
    ("bash-agent-error-live.txt", S.ERROR, "ERROR: asked to fail"),
])
def test_captured_bash_agent_screens(name, status, answer):
    p = get_provider("custom").for_profile(example_profile())
    text = (SCREENS / "custom" / name).read_text()
    assert p.classify(text) == status
    if answer:
        assert p.extract_last_answer(text, "") == answer


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_bash_agent_in_real_tmux(tmp_path, make_ctx):
    from tests.e2e.driver import TmuxAgent, kill_server, socket_name

    profile = example_profile()
    profile.custom["env"]["AGENT_DELAY"] = "0.3"
    p = get_provider("custom").for_profile(profile)
    ctx = make_ctx(profile=profile)
    ctx.working_directory = ROOT
    socket = socket_name()
    agent = TmuxAgent(p, ctx, socket, width=100, height=30)
    agent.start()
    try:
        assert agent.wait_for({S.IDLE}, 15) == S.IDLE
        agent.send("stats 10 20 30 40 50")
        assert agent.wait_for({S.PROCESSING, S.COMPLETED}, 10) in (S.PROCESSING, S.COMPLETED)
        assert agent.wait_for({S.COMPLETED}, 15) == S.COMPLETED
        assert p.extract_last_answer(agent.screen(), "") == "mean = 30\nmedian = 30\nstdev = 14.14"
        agent.send("rm x")
        assert agent.wait_for({S.WAITING_USER_ANSWER}, 10) == S.WAITING_USER_ANSWER
        agent.keys("n", "Enter")
        assert agent.wait_for({S.COMPLETED}, 10) == S.COMPLETED
        assert agent.exit(10)
    finally:
        agent.kill()
        kill_server(socket)
