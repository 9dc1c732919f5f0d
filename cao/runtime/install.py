"""`cao install`: copy a profile (built-in name, file or URL) into the agent store."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from cao import config


class InstallError(ValueError):
    pass


def _fetch(url: str) -> str:
    import httpx

    resp = httpx.get(url, timeout=30, follow_redirects=True)
    if resp.status_code != 200:
        raise InstallError(f"could not download {url}: HTTP {resp.status_code}")
    return resp.text


def install_profile(source: str) -> dict[str, Any]:
    from cao.spec.diagnostics import SpecError
    from cao.spec.loader import load_profile

    if source.startswith(("http://", "https://")):
        text, origin = _fetch(source), source
    elif Path(source).expanduser().is_file():
        path = Path(source).expanduser()
        text, origin = path.read_text(encoding="utf-8"), str(path.resolve())
    else:
        from cao.runtime.profiles import catalog

        found = [e for e in catalog().entries() if e.name == source and e.path is not None]
        if not found:
            raise InstallError(f"{source!r} is neither a file, a URL nor a known profile name")
        text, origin = Path(found[0].path).read_text(encoding="utf-8"), str(found[0].path)
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "profile.md"
        probe.write_text(text, encoding="utf-8")
        try:
            profile = load_profile(probe)
        except SpecError as exc:
            raise InstallError(f"{origin} is not a valid agent profile:\n{exc}") from None
    store = config.agent_store_dir()
    store.mkdir(parents=True, exist_ok=True)
    target = store / f"{profile.name}.md"
    target.write_text(text, encoding="utf-8")
    return {"name": profile.name, "path": str(target), "source": origin}
