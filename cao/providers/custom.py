"""A CLI cao does not know, described in the profile's frontmatter instead of Python.

    provider: custom
    custom:
      command: ["bash", "examples/bash-repl-agent/agent.sh"]   # or one string, split like a shell
      env: {AGENT_DELAY: "0.2"}
      idle: '^agent> '            # the input prompt, at the start of a line
      busy: 'thinking\\.\\.\\.'      # shown while it works
      answer: '(?s)(?P<answer>.*)'  # or {start: REGEX, end: REGEX}; default: the whole output
      permission: '\\[y/n\\]'       # a question only a person should answer
      error: '^ERROR'
      exit_command: exit

How the screen is read: the CLI is ready when the last non-blank line matches `idle`
with nothing typed after it. A line matching `idle` followed by text is a message that
was sent; the lines after the last one are that turn's output. `answer` picks the answer
out of that output (a named group `answer`, else the whole match; markers take the lines
between them). The command never runs through a shell; `{terminal_home}`,
`{working_directory}`, `{mcp_config}` and `{system_prompt_file}` in its arguments are
replaced, and the same values are in CAO_TERMINAL_HOME, CAO_MCP_CONFIG and
CAO_SYSTEM_PROMPT_FILE for a CLI that wires MCP itself.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cao.providers import _screen as sc
from cao.providers._common import mcp_servers, system_prompt
from cao.providers.base import LaunchContext, LaunchPlan, Provider, TerminalStatus


def _regex(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression for {field}: {exc}") from None
    return value


class AnswerMarkers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str
    end: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _check(cls, value: str | None, info: Any) -> str | None:
        return _regex(value, info.field_name)


class CustomConfig(BaseModel):
    """The `custom:` section of a profile."""

    model_config = ConfigDict(extra="forbid")
    command: list[str] | str
    env: dict[str, str] = Field(default_factory=dict)
    idle: str
    busy: str | None = None
    answer: str | AnswerMarkers | None = None
    permission: str | None = None
    error: str | None = None
    exit_command: str | None = None

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str] | str) -> list[str]:
        argv = shlex.split(value) if isinstance(value, str) else list(value)
        if not argv or not argv[0]:
            raise ValueError("must name the program to run, e.g. [\"bash\", \"agent.sh\"]")
        return argv

    @field_validator("idle", "busy", "permission", "error")
    @classmethod
    def _patterns(cls, value: str | None, info: Any) -> str | None:
        return _regex(value, info.field_name)

    @field_validator("answer")
    @classmethod
    def _answer(cls, value: Any) -> Any:
        return _regex(value, "answer") if isinstance(value, str) else value


_BRANCH_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str, "AnswerMarkers": dict, "list[str]": list}


def config_errors(raw: Any) -> list[str]:
    """Human-readable problems with a `custom:` section, each naming its field."""
    if raw is None:
        return ["custom: a profile with `provider: custom` needs a `custom:` section with at "
                "least `command` (what to run) and `idle` (the regex of its input prompt)"]
    if not isinstance(raw, dict):
        return [f"custom: expected a mapping, got {type(raw).__name__}"]
    try:
        CustomConfig.model_validate(raw)
    except ValidationError as exc:
        out = []
        errors = exc.errors()
        for err in errors:
            # A union field reports one error per branch; keep the branch the value was
            # written as (a mapping for `answer` markers, a string for a regex, ...),
            # unless the value fits none of them.
            branch = next((p for p in err["loc"] if p in _BRANCH_TYPES), None)
            value = raw.get(err["loc"][0]) if err["loc"] else None
            fits = [b for b in _BRANCH_TYPES if isinstance(value, _BRANCH_TYPES[b])]
            if branch and fits and branch not in fits:
                continue
            where = ".".join(str(p) for p in err["loc"]
                             if not isinstance(p, int) and p not in _BRANCH_TYPES) or "custom"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                message = "is required"
            elif err["type"] == "extra_forbidden":
                message = ("is not a known key (known: command, env, idle, busy, answer, "
                           "permission, error, exit_command)")
            out.append(f"custom.{where}: {message}")
        return list(dict.fromkeys(out))
    return []


class CustomProvider(Provider):
    name = "custom"
    binary = None
    install_hint = "configure `custom:` in the profile (see docs/providers.md)"

    def __init__(self, config: CustomConfig | None = None):
        self.config = config

    @property
    def exit_command(self) -> str | None:  # type: ignore[override]
        return self.config.exit_command if self.config else None

    def for_profile(self, profile: Any) -> "CustomProvider":
        raw = getattr(profile, "custom", None)
        problems = config_errors(raw)
        if problems:
            raise ValueError("; ".join(problems))
        return CustomProvider(CustomConfig.model_validate(raw))

    def validate_profile(self, profile: Any) -> list[str]:
        return config_errors(getattr(profile, "custom", None))

    def _cfg(self) -> CustomConfig:
        if self.config is None:
            raise RuntimeError("the custom provider needs the profile's `custom:` section; "
                               "use get_provider('custom').for_profile(profile)")
        return self.config

    # -- launch -----------------------------------------------------------------------
    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        cfg = self._cfg()
        home = ctx.terminal_home
        mcp_path = home / "cao-mcp.json"
        prompt_path = home / "system-prompt.md"
        servers = {n: {"command": s.command, "args": s.args, "env": s.env}
                   for n, s in mcp_servers(ctx).items()}
        values = {"terminal_home": str(home), "working_directory": str(ctx.working_directory),
                  "mcp_config": str(mcp_path), "system_prompt_file": str(prompt_path)}
        argv = [_fill(arg, values) for arg in cfg.command]  # type: ignore[union-attr]
        env = {**cfg.env, "CAO_TERMINAL_ID": ctx.terminal_id, "CAO_TERMINAL_HOME": str(home),
               "CAO_MCP_CONFIG": str(mcp_path), "CAO_SYSTEM_PROMPT_FILE": str(prompt_path)}
        files = {mcp_path: json.dumps({"mcpServers": servers}, indent=2),
                 prompt_path: system_prompt(ctx) + "\n"}
        return LaunchPlan(argv=argv, env=env, files=files, cwd=ctx.working_directory)

    # -- screen -----------------------------------------------------------------------
    def _prompt_rest(self, line: str) -> str | None:
        """Text typed after the prompt, or None when `line` is not a prompt line."""
        # tmux drops trailing blanks, so `agent> ` is captured as `agent>`
        for candidate in (line, line + " "):
            match = re.match(self._cfg().idle, candidate)
            if match is not None:
                return candidate[match.end():]
        return None

    def _turn(self, lines: list[str]) -> tuple[bool, list[str] | None]:
        """(ready, output of the last sent message)."""
        ready = bool(lines) and (self._prompt_rest(lines[-1]) or "").strip() == "" \
            and self._prompt_rest(lines[-1]) is not None
        body = lines[:-1] if ready else lines
        start = sc.last_index(body, lambda l: bool((self._prompt_rest(l) or "").strip()))
        return ready, (None if start < 0 else body[start + 1:])

    def classify(self, screen: str) -> TerminalStatus:
        cfg = self._cfg()
        lines = sc.clean_lines(screen)
        bottom = sc.tail(lines, 10)
        if cfg.permission and any(re.search(cfg.permission, l) for l in bottom):
            return TerminalStatus.WAITING_USER_ANSWER
        ready, turn = self._turn(lines)
        if not ready:
            if cfg.error and any(re.search(cfg.error, l) for l in sc.tail(lines, 3)):
                return TerminalStatus.ERROR
            busy = cfg.busy and any(re.search(cfg.busy, l) for l in bottom)
            return TerminalStatus.PROCESSING if (busy or turn is not None) else TerminalStatus.STARTING
        if turn is None:
            return TerminalStatus.IDLE
        if cfg.error and any(re.search(cfg.error, l) for l in turn):
            return TerminalStatus.ERROR
        return TerminalStatus.COMPLETED if self._answer(turn) is not None else TerminalStatus.IDLE

    def _answer(self, turn: list[str]) -> str | None:
        cfg = self._cfg()
        if cfg.busy:
            turn = [l for l in turn if not re.search(cfg.busy, l)]
        if isinstance(cfg.answer, AnswerMarkers):
            start = sc.last_index(turn, lambda l: bool(re.search(cfg.answer.start, l)))
            if start < 0:
                return None
            rest = turn[start + 1:]
            if cfg.answer.end:
                end = next((i for i, l in enumerate(rest) if re.search(cfg.answer.end, l)), None)
                if end is None:
                    return None
                rest = rest[:end]
            return sc.join_answer(rest)
        text = "\n".join(turn)
        if cfg.answer is None:
            return sc.join_answer(turn)
        matches = list(re.finditer(cfg.answer, text, re.M))
        if not matches:
            return None
        last = matches[-1]
        found = last.group("answer") if "answer" in last.re.groupindex else last.group(0)
        return found.strip("\n") or None

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        _, turn = self._turn(sc.clean_lines(screen))
        return None if turn is None else self._answer(turn)


def _fill(arg: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        arg = arg.replace("{" + key + "}", value)
    return arg
