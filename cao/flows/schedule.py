"""Cron fire times, DST rules and catch-up planning: pure functions, no I/O.

A schedule is a cron expression with 5 fields (minute hour day-of-month month
day-of-week) or 6 with a leading seconds field, or one of the macros @hourly, @daily,
@midnight, @weekly, @monthly, @yearly, @annually. It is read as wall-clock time in an IANA
timezone (default UTC). Every function returns timezone-aware UTC datetimes.

croniter alone is not used on aware datetimes: on a DST change it moves a 02:30 job that
falls in the spring-forward gap to 03:00 (fine) but fires a 01:30 job twice on fall-back
day (once per occurrence of 01:30). So cron is evaluated on naive wall-clock times and each
wall time is mapped to real instants by these rules (the classic cron ones):

* Fixed-hour schedules (hour field is not `*`) are about the wall clock: each matching wall
  time fires exactly once a day. A wall time that occurs twice (fall-back) fires on its
  first occurrence only. Wall times that do not exist (spring-forward gap) fire once, at the
  first instant after the gap; several of them collapse into that one fire.
* Hourly-or-faster schedules (hour field `*` or `*/1`) are about elapsed time: both
  occurrences of a repeated wall time fire, and wall times inside the gap are dropped (that
  hour never happened), so the fires stay evenly spaced in real time.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterBadDateError

UTC = timezone.utc

# Look-ahead for DST changes; no zone has two transitions this close together.
_LOOKAHEAD = timedelta(hours=3)

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class ScheduleError(ValueError):
    """A schedule or timezone that cao cannot use; the message says how to fix it."""


@dataclass(frozen=True)
class _Cron:
    expr: str  # normalised: macros expanded, single spaces
    seconds: bool  # True when there is a leading seconds field
    elapsed: bool  # hour field is a wildcard: follow elapsed time across DST


@lru_cache(maxsize=512)
def _parse(expr: str) -> _Cron:
    if not isinstance(expr, str) or not expr.strip():
        raise ScheduleError("schedule is empty; write a cron expression such as '0 9 * * 1-5'")
    text = " ".join(expr.split())
    text = _MACROS.get(text.lower(), text)
    if text.startswith("@"):
        raise ScheduleError(
            f"unknown schedule macro {expr!r}; use one of {', '.join(sorted(_MACROS))} "
            "or a cron expression")
    fields = text.split(" ")
    if len(fields) not in (5, 6):
        raise ScheduleError(
            f"schedule {expr!r} has {len(fields)} fields; cron needs 5 "
            "(minute hour day-of-month month day-of-week) or 6 with a leading seconds field")
    seconds = len(fields) == 6
    if not croniter.is_valid(text, second_at_beginning=seconds):
        raise ScheduleError(
            f"schedule {expr!r} is not a valid cron expression; fields are "
            + ("second " if seconds else "")
            + "minute hour day-of-month month day-of-week, e.g. '*/5 * * * *'")
    hour = fields[2 if seconds else 1]
    return _Cron(text, seconds, hour in ("*", "*/1"))


@lru_cache(maxsize=128)
def get_zone(tz: str | None) -> ZoneInfo:
    name = tz or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(
            f"unknown timezone {name!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None


def validate_schedule(expr: str, tz: str | None = None) -> str:
    """Check a schedule (and timezone); return the normalised expression or raise ScheduleError."""
    cron = _parse(expr)
    get_zone(tz)
    try:
        next_fire(cron.expr, tz, datetime.now(UTC))
    except ScheduleError:
        raise ScheduleError(f"schedule {expr!r} never fires (no matching date)") from None
    return cron.expr


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()}; pass a timezone-aware time")
    return t.astimezone(UTC)


def _gap_end(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The first instant in (lo, hi] with the offset in force at `hi` (a transition)."""
    target = hi.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0) if mid.microsecond else mid
        if mid <= lo:
            break
        if mid.astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return hi


def _instants(wall: datetime, zone: ZoneInfo, elapsed: bool) -> list[datetime]:
    """The real instants at which naive wall time `wall` fires (see module docstring)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if first < second:  # wall time occurs twice (fall-back)
        return [first, second] if elapsed else [first]
    # wall time does not exist (spring-forward): fold=1 gives the instant before the gap,
    # fold=0 the one after it
    return [] if elapsed else [_gap_end(zone, second, first)]


def _fall_back_ahead(zone: ZoneInfo, t: datetime) -> timedelta:
    """How far the UTC offset drops within the next few hours after instant `t` (a
    fall-back), i.e. how much earlier than `t` later wall-clock times can map."""
    drop = t.astimezone(zone).utcoffset() - (t + _LOOKAHEAD).astimezone(zone).utcoffset()
    return max(drop, timedelta(0))


def iter_fire_times(expr: str, tz: str | None, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after `after`, in increasing order, each instant once."""
    cron = _parse(expr)
    zone = get_zone(tz)
    after = _aware(after)
    # Near a fall-back, instants later than `after` can have earlier wall times: start the
    # wall-clock walk that much earlier.
    start_wall = after.astimezone(zone).replace(tzinfo=None) - _fall_back_ahead(zone, after)
    it = croniter(cron.expr, start_wall, ret_type=datetime, second_at_beginning=cron.seconds)
    heap: list[datetime] = []
    last: datetime | None = None
    while True:
        try:
            wall = it.get_next(datetime)
        except CroniterBadDateError:
            break
        for t in _instants(wall, zone, cron.elapsed):
            if t > after:
                heapq.heappush(heap, t)
        # no wall time from here on maps to an instant before this bound, so everything
        # below it is final and in order
        earliest = min(wall.replace(tzinfo=zone, fold=0).astimezone(UTC),
                       wall.replace(tzinfo=zone, fold=1).astimezone(UTC))
        bound = earliest - _fall_back_ahead(zone, earliest)
        while heap and heap[0] < bound:
            t = heapq.heappop(heap)
            if t != last:
                last = t
                yield t
    while heap:
        t = heapq.heappop(heap)
        if t != last:
            last = t
            yield t


def next_fire(expr: str, tz: str | None, after: datetime) -> datetime:
    """The first fire time strictly after `after` (aware UTC)."""
    for t in iter_fire_times(expr, tz, after):
        return t
    raise ScheduleError(f"schedule {expr!r} has no fire time after {after.isoformat()}")


def fire_times_between(expr: str, tz: str | None, start: datetime, end: datetime,
                       *, limit: int | None = None) -> list[datetime]:
    """Fire times t with start < t <= end, oldest first, at most `limit` of them."""
    end = _aware(end)
    out: list[datetime] = []
    for t in iter_fire_times(expr, tz, start):
        if t > end or (limit is not None and len(out) >= limit):
            break
        out.append(t)
    return out


def last_fire_at_or_before(expr: str, tz: str | None, at: datetime,
                           not_before: datetime) -> datetime | None:
    """The latest fire time in [not_before, at], or None.

    Searches backwards with a doubling window so a dense schedule (every second) never makes
    us enumerate a long outage.
    """
    at, not_before = _aware(at), _aware(not_before)
    window = timedelta(minutes=1)
    while True:
        lo = max(at - window, not_before - timedelta(microseconds=1))
        times = fire_times_between(expr, tz, lo, at)
        if times:
            return times[-1]
        if lo < not_before:
            return None
        window *= 2


# --- catch-up planning -------------------------------------------------------------------

MISSED = "missed: the scheduler was not running at this fire time (server down or machine asleep)"


@dataclass(frozen=True)
class FirePlan:
    """What to do with the fire times that have come due.

    `run` is the fire time to act on now (or None) with its `trigger` ('schedule' when on
    time, 'catch_up' when made up late). `skipped` lists every other due fire time with the
    reason it is not run; when more than `max_listed` were missed, the last entry stands for
    the whole remaining range and says so. `next_fire` is the first fire time after `now`.
    """

    run: datetime | None
    trigger: str
    skipped: list[tuple[datetime, str]] = field(default_factory=list)
    next_fire: datetime | None = None


def plan_fires(expr: str, tz: str | None, pending_from: datetime, now: datetime,
               catch_up: float | None, *, grace: float = 60.0,
               max_listed: int = 1000) -> FirePlan:
    """Decide which due fire times run, given the first fire time not yet handled.

    `pending_from` is the durable "next fire time" recorded before the last stop, so every
    fire time in [pending_from, now] is due exactly once. A fire time no older than `grace`
    seconds is on time. Older ones were missed; of those, only the most recent one is made
    up, and only if it is no older than `catch_up` seconds. Running a backlog one by one
    would start N near-identical agent runs back to back, all reporting on the same present
    state; one run brings the flow up to date. Every fire time not run is in `skipped`.
    """
    pending_from, now = _aware(pending_from), _aware(now)
    nxt = next_fire(expr, tz, now)
    if pending_from > now:
        return FirePlan(None, "schedule", [], pending_from)
    due = fire_times_between(expr, tz, pending_from - timedelta(microseconds=1), now,
                             limit=max_listed + 1)
    if not due:
        return FirePlan(None, "schedule", [], nxt)
    overflow = False
    latest = due[-1]
    if len(due) > max_listed:
        latest = last_fire_at_or_before(expr, tz, now, due[-1]) or due[-1]
        overflow = latest != due[max_listed]  # more than one fire time beyond the list
    due = due[:max_listed] if overflow else due[:-1]

    age = (now - latest).total_seconds()
    if age <= grace:
        run, trigger = latest, "schedule"
    elif catch_up is not None and age <= catch_up:
        run, trigger = latest, "catch_up"
    else:
        run, trigger = None, "schedule"
        due = due + ([] if overflow else [latest])

    def reason(t: datetime) -> str:
        if run is not None and (now - t).total_seconds() <= grace:
            return ("the scheduler woke late and a later fire time was already due; "
                    f"superseded by the run for {run.isoformat()}")
        if run is not None and catch_up is not None and (now - t).total_seconds() <= catch_up:
            return f"{MISSED}; superseded by the single make-up run for {run.isoformat()}"
        if catch_up is None:
            return f"{MISSED}; catch_up is not set, missed fires are not made up"
        return f"{MISSED}; older than the catch_up window of {catch_up:g}s"

    skipped = [(t, reason(t)) for t in due]
    if overflow:
        first_unlisted = next_fire(expr, tz, due[-1])
        upto = (f"before {latest.isoformat()}" if run is not None
                else f"up to and including {latest.isoformat()}")
        skipped.append((first_unlisted,
                        f"{reason(first_unlisted)}; this entry also stands for every later "
                        f"fire time {upto} (not listed one by one)"))
    return FirePlan(run, trigger, skipped, nxt)
