"""Where profiles are found: built-in, installed store, `profiles/` beside a workflow, extra dirs.

Precedence when two define the same name: extra > local > store > builtin. A profile is
known by its `name` and by its file name (CAO looks profiles up by file name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from cao.spec.diagnostics import Diagnostic
from cao.spec.profile import AgentProfile

Source = Literal["builtin", "store", "local", "extra"]
_PRECEDENCE: tuple[Source, ...] = ("extra", "local", "store", "builtin")


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    source: Source
    path: Path
    profile: AgentProfile

    def __iter__(self):  # unpacks as (name, source, path, profile)
        return iter((self.name, self.source, self.path, self.profile))


# Parsed profiles are cached per file and re-read when the file changes, so validating
# 100 workflows beside one profiles/ folder reads it once, and a long-running server
# still sees edits.
_FILE_CACHE: dict[Path, tuple[tuple[int, int], AgentProfile | None, list[Diagnostic]]] = {}


def builtin_profiles_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("cao.builtin") / "profiles"))


def _load_cached(path: Path) -> tuple[AgentProfile | None, list[Diagnostic]]:
    from cao.spec.loader import load_document

    try:
        stat = path.stat()
    except OSError:
        return None, []
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _FILE_CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1], cached[2]
    doc, diags = load_document(path, kind="profile", missing_env="warning")
    profile = doc if isinstance(doc, AgentProfile) else None
    _FILE_CACHE[path] = (stamp, profile, diags)
    return profile, diags


def _scan(folder: Path) -> tuple[dict[str, tuple[Path, AgentProfile]], list[Diagnostic]]:
    found: dict[str, tuple[Path, AgentProfile]] = {}
    diags: list[Diagnostic] = []
    if folder.is_dir():
        for path in sorted(folder.resolve().glob("*.md")):
            profile, problems = _load_cached(path)
            diags.extend(problems)
            if profile is not None:
                found.setdefault(profile.name, (path, profile))
                found.setdefault(path.stem, (path, profile))
    return found, diags


def local_profile_dirs(near: Path) -> list[Path]:
    """`profiles/` beside the workflow file, then beside its folder (repo layout)."""
    folder = near if near.is_dir() else near.parent
    return [folder / "profiles", folder.parent / "profiles"]


class ProfileCatalog:
    def __init__(self, extra_dirs: Iterable[Path | str] = (), near: Path | str | None = None,
                 include_store: bool = True, include_builtin: bool = True):
        self.dirs: list[tuple[Source, Path]] = []
        for folder in extra_dirs:
            self.dirs.append(("extra", Path(folder)))
        if near is not None:
            for folder in local_profile_dirs(Path(near)):
                self.dirs.append(("local", folder))
        if include_store:
            store = _store_dir()
            if store is not None:
                self.dirs.append(("store", store))
        if include_builtin:
            self.dirs.append(("builtin", builtin_profiles_dir()))
        self._index: dict[str, CatalogEntry] | None = None
        self.diagnostics: list[Diagnostic] = []

    def _build(self) -> dict[str, CatalogEntry]:
        if self._index is None:
            index: dict[str, CatalogEntry] = {}
            for source, folder in self.dirs:   # already in precedence order
                found, diags = _scan(folder)
                if source != "builtin":
                    self.diagnostics.extend(diags)
                for name, (path, profile) in found.items():
                    index.setdefault(name, CatalogEntry(name, source, path, profile))
            self._index = index
        return self._index

    def find(self, name: str) -> AgentProfile | None:
        entry = self._build().get(name)
        return entry.profile if entry else None

    def entry(self, name: str) -> CatalogEntry | None:
        return self._build().get(name)

    def names(self) -> list[str]:
        return sorted({e.profile.name for e in self._build().values()} | set(self._build()))

    def entries(self) -> list[CatalogEntry]:
        """One entry per profile (the winning definition), sorted by name."""
        seen: dict[Path, CatalogEntry] = {}
        for entry in self._build().values():
            if entry.name == entry.profile.name:
                seen.setdefault(entry.path, entry)
        for entry in self._build().values():
            seen.setdefault(entry.path, entry)
        return sorted(seen.values(), key=lambda e: (e.name, _PRECEDENCE.index(e.source)))

    def searched(self) -> list[str]:
        """Folders looked in, for error hints."""
        return [str(folder) for _, folder in self.dirs if folder.is_dir()]


def _store_dir() -> Path | None:
    try:
        from cao.config import agent_store_dir

        return agent_store_dir()
    except OSError:  # e.g. a read-only home: validation must still work
        return None


def clear_cache() -> None:
    _FILE_CACHE.clear()
