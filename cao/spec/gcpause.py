"""Pausing the cyclic garbage collector while a big document is built.

Loading a 10,000-node workflow allocates a million small objects, none of them garbage;
the collector's repeated full passes over them took about 40% of the time. Reference
counting still frees everything as usual; cycles are collected once the pause ends.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
