from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Validation must not depend on (or write to) the user's installed profile store."""
    monkeypatch.setenv("CAO_HOME", str(tmp_path / "cao-home"))
    from cao.spec import catalog

    catalog.clear_cache()
    yield
    catalog.clear_cache()
