"""The plain-dict flow spec the scheduler works on, with defaults and checks.

The server turns the pydantic `Flow` document into this dict; keeping the scheduler on a
dict keeps `cao.flows` independent of the document layer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cao.flows.schedule import ScheduleError, validate_schedule

OVERLAP_POLICIES = ("skip", "queue", "allow")
DEFAULTS: dict[str, Any] = {
    "timezone": "UTC",
    "agent_profile": None,
    "provider": None,
    "workflow": None,
    "inputs": {},
    "script": None,
    "script_timeout": 60.0,
    "overlap": "skip",
    "catch_up": None,
    "enabled": True,
    "working_directory": None,
    "prompt": "",
    "path": None,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNIT = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


class FlowSpecError(ValueError):
    """A flow spec the scheduler cannot run; the message names the field and the fix."""


def parse_duration(value: Any, field: str) -> float | None:
    """Seconds from a number or a string like '90s', '30m', '6h', '2d'; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise FlowSpecError(f"{field}: expected seconds or a duration like '6h', got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise FlowSpecError(
                f"{field}: cannot read {value!r} as a duration; write seconds (3600) or "
                "a number with a unit: 90s, 30m, 6h, 2d, 1w")
        seconds = float(m.group(1)) * _UNIT[m.group(2).lower() if m.group(2) else None]
    if seconds < 0:
        raise FlowSpecError(f"{field}: must not be negative, got {value!r}")
    return seconds


def normalize_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of `spec` with defaults filled in, or FlowSpecError."""
    out = {**DEFAULTS, **{k: v for k, v in spec.items() if v is not None}}
    name = out.get("name")
    if not name or not isinstance(name, str):
        raise FlowSpecError("name: a flow needs a non-empty name")
    try:
        out["schedule"] = validate_schedule(out.get("schedule", ""), out["timezone"])
    except ScheduleError as exc:
        raise FlowSpecError(f"flow {name!r}: {exc}") from None
    if out["overlap"] not in OVERLAP_POLICIES:
        raise FlowSpecError(f"flow {name!r}: overlap must be one of "
                            f"{', '.join(OVERLAP_POLICIES)}, got {out['overlap']!r}")
    out["catch_up"] = parse_duration(out["catch_up"], f"flow {name!r}: catch_up")
    timeout = parse_duration(out["script_timeout"], f"flow {name!r}: script_timeout")
    if not timeout:
        raise FlowSpecError(f"flow {name!r}: script_timeout must be more than 0 seconds")
    out["script_timeout"] = timeout
    if not out["agent_profile"] and not out["workflow"]:
        raise FlowSpecError(f"flow {name!r}: set agent_profile (with the prompt as body) "
                            "or workflow (with inputs)")
    out["enabled"] = bool(out["enabled"])
    if out["inputs"] is None:
        out["inputs"] = {}
    return out


def flow_dir(spec: dict[str, Any]) -> Path:
    """The directory relative paths in a flow are resolved against: the flow file's own."""
    if spec.get("path"):
        return Path(spec["path"]).expanduser().resolve().parent
    if spec.get("working_directory"):
        return Path(spec["working_directory"]).expanduser()
    return Path.cwd()


def gate_paths(spec: dict[str, Any]) -> tuple[Path, Path]:
    """(script path, working directory) for a flow's gate."""
    base = flow_dir(spec)
    script = Path(spec["script"]).expanduser()
    if not script.is_absolute():
        script = base / script
    cwd = Path(spec["working_directory"]).expanduser() if spec.get("working_directory") else base
    if not cwd.is_absolute():
        cwd = base / cwd
    return script, cwd
