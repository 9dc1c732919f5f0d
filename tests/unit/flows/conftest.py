from __future__ import annotations

from pathlib import Path

import pytest

from cao.flows.clock import FakeClock
from cao.flows.scheduler import FlowScheduler
from cao.store.db import connect


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "cao.db"


@pytest.fixture
def make_scheduler(db_path: Path):
    """A FlowScheduler over the test's real SQLite file (each call: a fresh "process")."""
    def make(clock: FakeClock, launcher, **kw) -> FlowScheduler:
        return FlowScheduler(lambda: connect(db_path), clock, launcher, **kw)
    return make
