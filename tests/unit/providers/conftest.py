"""Fixtures for provider tests (helpers live in provider_testlib)."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider_testlib import make_context


@pytest.fixture
def make_ctx(tmp_path: Path):
    def make(**kwargs):
        return make_context(tmp_path, **kwargs)
    return make
