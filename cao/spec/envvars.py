"""`${VAR}` and `${VAR:-default}` placeholders in profile values, filled from the environment."""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Mapping

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(data: Any, on_missing: Callable[[tuple, str], None],
               environ: Mapping[str, str] | None = None, path: tuple = ()) -> Any:
    """A copy of `data` with placeholders replaced; unset variables are reported through
    `on_missing(path, name)` and left as written."""
    env = os.environ if environ is None else environ
    if isinstance(data, str):
        if "${" not in data:
            return data

        def fill(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            on_missing(path, name)
            return match.group(0)

        return _PLACEHOLDER.sub(fill, data)
    if isinstance(data, dict):
        return {k: expand_env(v, on_missing, env, path + (k,)) for k, v in data.items()}
    if isinstance(data, list):
        return [expand_env(v, on_missing, env, path + (i,)) for i, v in enumerate(data)]
    return data
