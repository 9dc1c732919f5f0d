"""Finding agent profiles for the server: built-ins, the agent store, extra folders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class ProfileNotFound(LookupError):
    pass


def extra_profile_dirs() -> list[Path]:
    """Folders from CAO_PROFILE_DIRS (os.pathsep-separated), set by `cao-server --profiles`."""
    raw = os.environ.get("CAO_PROFILE_DIRS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p.strip()]


def catalog(near: Path | None = None, extra: list[Path] | None = None) -> Any:
    from cao.spec.catalog import ProfileCatalog

    return ProfileCatalog(extra_dirs=[*(extra or []), *extra_profile_dirs()], near=near)


def find_profile(name: str, near: Path | None = None, extra: list[Path] | None = None) -> Any:
    cat = catalog(near, extra)
    profile = cat.find(name)
    if profile is None:
        names = ", ".join(sorted(cat.names()))
        raise ProfileNotFound(
            f"unknown agent profile {name!r}; available profiles: {names or '(none)'}. "
            "Install one with `cao install NAME|FILE`, or add a profiles/ folder beside the workflow")
    return profile
