"""User settings kept in `$CAO_HOME/config.json` (`cao config get|set|unset`).

Only known keys are accepted, each with a check, so a typo is an error instead of a
setting that silently does nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cao.config import cao_home


class UserConfigError(ValueError):
    pass


def _provider_name(value: str) -> str:
    from cao.providers.registry import is_known, provider_names

    if not is_known(value):
        raise UserConfigError(f"unknown provider {value!r}; known providers: "
                              f"{', '.join(provider_names())}")
    return value


# key -> (check that returns the value to store, help text)
KEYS: dict[str, tuple[Callable[[str], Any], str]] = {
    "default_provider": (_provider_name,
                         "provider used when neither the node, the profile nor --provider names one"),
}


def path() -> Path:
    return cao_home() / "config.json"


def load() -> dict[str, Any]:
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise UserConfigError(f"{path()} is not valid JSON ({exc}); fix or delete it") from None
    return data if isinstance(data, dict) else {}


def _save(data: dict[str, Any]) -> None:
    target = path()
    # write-then-rename so a crash never leaves half a file behind
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".config.", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, target)


def _check_key(key: str) -> None:
    if key not in KEYS:
        raise UserConfigError(f"unknown setting {key!r}; known settings: {', '.join(sorted(KEYS))}")


def get(key: str) -> Any:
    _check_key(key)
    return load().get(key)


def set_value(key: str, value: str) -> Any:
    _check_key(key)
    stored = KEYS[key][0](value)
    data = load()
    data[key] = stored
    _save(data)
    return stored


def unset(key: str) -> bool:
    """Remove `key`; False when it was not set."""
    _check_key(key)
    data = load()
    if key not in data:
        return False
    del data[key]
    _save(data)
    return True
