"""Where cao keeps its state and how its processes find each other.

Everything is derived from environment variables so that tests (and users running two
independent setups side by side) can point a whole process tree somewhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9889
# The reference system keeps its state here; cao uses the same place so its users'
# installed profiles are found unchanged.
DEFAULT_HOME = Path("~/.aws/cli-agent-orchestrator")


def cao_home() -> Path:
    """The cao home directory (`CAO_HOME`), created on first use."""
    home = Path(os.environ.get("CAO_HOME") or DEFAULT_HOME).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def agent_store_dir() -> Path:
    """Profiles installed with `cao install`."""
    return cao_home() / "agent-store"


def db_path() -> Path:
    return cao_home() / "db" / "cao.sqlite3"


def logs_dir() -> Path:
    return cao_home() / "logs"


def terminal_log_dir() -> Path:
    """One transcript file per terminal, fed by tmux pipe-pane."""
    return logs_dir() / "terminal"


def terminal_home_dir(terminal_id: str) -> Path:
    """Per-terminal scratch space for provider config files (never the user's own)."""
    return cao_home() / "terminals" / terminal_id


def server_port() -> int:
    return int(os.environ.get("CAO_PORT") or DEFAULT_PORT)


def server_host() -> str:
    return os.environ.get("CAO_HOST") or DEFAULT_HOST


def server_url() -> str:
    """Base URL of the cao-server that clients (CLI, MCP server, agents) talk to."""
    url = os.environ.get("CAO_SERVER_URL")
    if url:
        return url.rstrip("/")
    return f"http://{server_host()}:{server_port()}"


def tmux_socket_name() -> str | None:
    """tmux server socket (`tmux -L NAME`); None means the user's default tmux server."""
    return os.environ.get("CAO_TMUX_SOCKET") or None


def working_directory_enabled() -> bool:
    """Whether MCP callers may choose a worker's working directory (off by default)."""
    return os.environ.get("CAO_ENABLE_WORKING_DIRECTORY", "").lower() in {"1", "true", "yes"}
