"""Time source for the flow scheduler.

The scheduler never calls `datetime.now()` or `asyncio.sleep()` itself: it asks a `Clock`.
`SystemClock` is the real thing; `FakeClock` lets tests run a day of schedules in
milliseconds by moving time forward explicitly.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

UTC = timezone.utc


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""

    async def sleep_until(self, t: datetime) -> None:
        """Return once `now() >= t` (at once if that is already so)."""


def ensure_utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()} given; cao needs timezone-aware times")
    return t.astimezone(UTC)


class SystemClock:
    """Wall-clock time.

    Sleeps in slices of at most `max_slice` seconds and re-reads the wall clock after each:
    asyncio sleeps on the monotonic clock, which does not advance while the machine is
    suspended and ignores NTP steps, so one long sleep could overshoot a fire time by hours.
    """

    def __init__(self, max_slice: float = 30.0):
        self.max_slice = max_slice

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, t: datetime) -> None:
        t = ensure_utc(t)
        while True:
            remaining = (t - self.now()).total_seconds()
            if remaining <= 0:
                return
            # a hair extra so we never wake a few microseconds early and spin
            await asyncio.sleep(min(remaining + 0.001, self.max_slice))


class FakeClock:
    """A clock that only moves when a test says so.

    `await clock.advance(seconds)` walks time forward deadline by deadline, waking each
    sleeper at its own deadline and letting the event loop run woken tasks before time moves
    on, so the code under test observes `now()` exactly as it would in real life.
    """

    def __init__(self, start: datetime | None = None, *, settle_rounds: int = 50):
        self._now = ensure_utc(start) if start else datetime(2024, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future]] = []
        self._seq = itertools.count()
        self.settle_rounds = settle_rounds

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, t: datetime) -> None:
        t = ensure_utc(t)
        if t <= self._now:
            await asyncio.sleep(0)  # still a suspension point, like a real sleep
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (t, next(self._seq), fut))
        await fut

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock right now."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> datetime | None:
        live = [t for t, _, f in self._sleepers if not f.done()]
        return min(live) if live else None

    async def settle(self) -> None:
        """Let every runnable task run until it blocks again (on the clock or on I/O)."""
        for _ in range(self.settle_rounds):
            await asyncio.sleep(0)

    async def advance(self, delta: float | timedelta) -> None:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        await self.advance_to(self._now + delta)

    async def advance_to(self, target: datetime) -> None:
        target = ensure_utc(target)
        if target < self._now:
            raise ValueError("FakeClock cannot move backwards")
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            t, _, fut = heapq.heappop(self._sleepers)
            if fut.done():  # the sleeper was cancelled
                continue
            self._now = max(self._now, t)
            fut.set_result(None)
            await self.settle()
        self._now = target
        await self.settle()
