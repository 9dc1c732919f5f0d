"""The provider contract: everything cao needs to know about one agent CLI.

A provider is pure knowledge about a CLI. It never touches tmux or the database itself:
the terminal layer asks it how to launch, what the screen means, where the answer is,
and how to leave. That keeps every CLI's quirks in one module and lets the classifiers
be tested on captured screens alone.
"""

from __future__ import annotations

import enum
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol


class TerminalStatus(str, enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    PROCESSING = "processing"
    COMPLETED = "completed"
    WAITING_USER_ANSWER = "waiting_user_answer"
    ERROR = "error"
    EXITED = "exited"

    @property
    def ready_for_input(self) -> bool:
        return self in (TerminalStatus.IDLE, TerminalStatus.COMPLETED)


class ProfileLike(Protocol):
    """What providers read from an agent profile (see cao.spec for the full model)."""

    name: str
    provider: str | None
    model: str | None
    system_prompt: str
    allowedTools: list[str] | None
    mcpServers: dict[str, Any] | None


@dataclass(frozen=True)
class McpServerLaunch:
    """How to start one stdio MCP server: cao-mcp-server or one from the profile."""

    command: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    # Seconds a tool call may take before the CLI gives up on it (None: the CLI's default).
    call_timeout: float | None = None


@dataclass
class LaunchContext:
    terminal_id: str
    profile: Any  # cao.spec AgentProfile (ProfileLike)
    working_directory: Path
    # A directory owned by cao for this terminal: config files, a throwaway HOME.
    terminal_home: Path
    # Environment every process of the terminal gets: CAO_TERMINAL_ID, CAO_SERVER_URL, ...
    env: dict[str, str]
    # The cao-mcp-server to inject, already carrying this terminal's id in its env.
    cao_mcp: McpServerLaunch
    yolo: bool = False


@dataclass
class LaunchPlan:
    """What the terminal layer runs: argv is executed directly, never through a shell."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # Files to write before launch, e.g. a per-terminal settings.json.
    files: dict[Path, str] = field(default_factory=dict)
    cwd: Path | None = None
    # Symlinks to create before launch (link path -> existing target): how a CLI whose
    # login state lives in the user's home finds it from a per-terminal HOME.
    links: dict[Path, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class DialogAnswer:
    """Keys that dismiss a first-run dialog the CLI shows despite our config."""

    keys: list[str]
    reason: str


ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


class Provider:
    """Base class with sensible defaults; subclasses override what their CLI needs."""

    name: ClassVar[str]
    # Executable looked up on PATH; None for providers that need no external binary.
    binary: ClassVar[str | None] = None
    # npm (or other) package a user installs to get the binary, shown in errors.
    install_hint: ClassVar[str] = ""
    # CLI versions the conformance suite has driven end to end.
    verified_versions: ClassVar[tuple[str, ...]] = ()
    # Text typed (then Enter) to leave the CLI cleanly.
    exit_command: ClassVar[str | None] = "/exit"
    # True when the provider was only built from public docs and screen fixtures.
    unverified: ClassVar[bool] = False
    # Seconds of output quiet after a paste before the submit key is sent (TUIs redraw
    # the pasted text; pressing Enter mid-redraw can be taken as part of the paste).
    paste_settle: ClassVar[float] = 0.3
    # True when the screen keeps showing the previous answer for a moment after input:
    # a finished-looking screen then only counts once the turn has been seen busy.
    busy_before_done: ClassVar[bool] = True
    # True when the CLI shows its idle prompt before its MCP servers are connected (Claude
    # Code does): the terminal layer should hold the first message until cao-mcp-server
    # for this terminal has checked in with the server, or the agent cannot see cao's tools.
    wait_for_mcp_before_first_input: ClassVar[bool] = False

    # -- launch ---------------------------------------------------------------------
    def build_launch(self, ctx: LaunchContext) -> LaunchPlan:
        raise NotImplementedError

    def for_profile(self, profile: Any) -> "Provider":
        """The provider instance to use for `profile`.

        Built-in providers are stateless and return themselves; the `custom` provider
        returns an instance configured from the profile's `custom:` section, since its
        screen patterns live there.
        """
        return self

    def validate_profile(self, profile: Any) -> list[str]:
        """Problems with a profile for this provider, as human-readable messages."""
        return []

    def dialog_answer(self, screen: str) -> DialogAnswer | None:
        """Keys to send when `screen` shows a dialog cao can answer safely."""
        return None

    # -- reading the screen ---------------------------------------------------------
    def classify(self, screen: str) -> TerminalStatus:
        """Status of the agent given the visible screen (plain text, no ANSI)."""
        raise NotImplementedError

    def extract_last_answer(self, screen: str, transcript: str) -> str | None:
        """The agent's final answer to the last message, whole.

        `screen` is the pane with its scrollback (plain text); `transcript` is the raw
        pipe-pane log of the terminal since launch (ANSI included).
        """
        raise NotImplementedError

    def session_answer(self, ctx: LaunchContext) -> str | None:
        """The last answer read from the CLI's own session log under `ctx.terminal_home`.

        Exact text (no screen wrapping, no TUI decoration), so the terminal layer should
        prefer it over `extract_last_answer` when it is not None. Call it once the status
        is `completed`.
        """
        return None

    # -- input ----------------------------------------------------------------------
    def format_message(self, message: str, *, kind: str = "message") -> str:
        """Adjust a message before delivery (kind: message, handoff, assign)."""
        return message

    @property
    def submit_keys(self) -> list[str]:
        return ["Enter"]

    # -- environment ----------------------------------------------------------------
    def installed_path(self) -> str | None:
        return shutil.which(self.binary) if self.binary else None

    def installed_version(self) -> str | None:
        path = self.installed_path()
        if not path:
            return None
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        match = re.search(r"\d+\.\d+\.\d+", out.stdout + out.stderr)
        return match.group(0) if match else None

    def cleanup(self, ctx: LaunchContext) -> None:
        """Provider-specific cleanup after the terminal is gone (files, daemons)."""
