"""Which working directories an agent may be started in.

Paths are resolved with realpath first, so a symlink cannot smuggle an agent into a
system directory. `CAO_WORKDIR_ALLOW` (os.pathsep-separated) names directories that are
allowed even beneath a blocked one, e.g. a CI runner's scratch space under /tmp.
"""

from __future__ import annotations

import os
from pathlib import Path

BLOCKED_DIRS = ("/", "/etc", "/var", "/tmp", "/proc", "/sys", "/root", "/boot", "/bin",
                "/sbin", "/usr/bin", "/usr/sbin", "/lib", "/lib64", "/dev")


class WorkingDirectoryError(ValueError):
    pass


def _allowed_roots() -> list[str]:
    raw = os.environ.get("CAO_WORKDIR_ALLOW", "")
    return [os.path.realpath(p) for p in raw.split(os.pathsep) if p.strip()]


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def check_working_directory(path: str | Path) -> Path:
    """Return the resolved directory, or raise WorkingDirectoryError saying why not."""
    raw = str(path)
    if "\x00" in raw:
        raise WorkingDirectoryError("working directory contains a NUL byte")
    absolute = os.path.abspath(os.path.expanduser(raw))
    resolved = os.path.realpath(absolute)
    if not any(_within(resolved, root) for root in _allowed_roots()):
        for blocked in BLOCKED_DIRS:
            # Both spellings: /lib may be a link to /usr/lib (merged /usr).
            for form in {blocked, os.path.realpath(blocked)}:
                for candidate in (absolute, resolved):
                    if candidate == form or (form != "/" and _within(candidate, form)):
                        raise WorkingDirectoryError(
                            f"working directory {raw!r} resolves to {resolved!r}, which is inside "
                            f"the blocked system directory {blocked!r}; use a project directory "
                            "instead (or list it in CAO_WORKDIR_ALLOW in the environment of "
                            "cao-server, and restart it)")
    if not os.path.isdir(resolved):
        raise WorkingDirectoryError(f"working directory {raw!r} does not exist or is not a directory")
    return Path(resolved)
