from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cao.flows.schedule import (ScheduleError, fire_times_between, last_fire_at_or_before,
                                next_fire, plan_fires, validate_schedule)
from flowtest_helpers import utc

NY, BERLIN = "America/New_York", "Europe/Berlin"


def local(times, tz):
    return [t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S%z") for t in times]


# --- plain boundaries --------------------------------------------------------------------

def test_next_fire_is_strictly_after_and_utc():
    t = next_fire("* * * * *", None, utc(2024, 5, 1, 10, 59, 30))
    assert t == utc(2024, 5, 1, 11, 0) and t.tzinfo == timezone.utc
    assert next_fire("* * * * *", None, utc(2024, 5, 1, 11, 0)) == utc(2024, 5, 1, 11, 1)


def test_hour_day_and_year_boundaries():
    assert next_fire("0 * * * *", None, utc(2024, 12, 31, 23, 0)) == utc(2025, 1, 1, 0, 0)
    assert next_fire("59 23 * * *", None, utc(2024, 2, 28, 23, 59)) == utc(2024, 2, 29, 23, 59)


def test_weekday_schedule_skips_the_weekend():
    # 2024-05-03 is a Friday
    times = fire_times_between("0 9 * * 1-5", None, utc(2024, 5, 3, 9, 0), utc(2024, 5, 10, 12))
    assert [t.strftime("%a %d") for t in times] == ["Mon 06", "Tue 07", "Wed 08", "Thu 09",
                                                    "Fri 10"]


def test_weekday_in_a_timezone_follows_local_dates():
    # 09:00 Monday in Tokyo is Sunday 00:00 UTC
    t = next_fire("0 9 * * 1", "Asia/Tokyo", utc(2024, 5, 1))
    assert t == utc(2024, 5, 6, 0, 0)


def test_seconds_field_is_leading():
    times = fire_times_between("*/15 * * * * *", None, utc(2024, 1, 1), utc(2024, 1, 1, 0, 1))
    assert [t.second for t in times] == [15, 30, 45, 0]
    assert next_fire("30 0 12 * * *", None, utc(2024, 1, 1)) == utc(2024, 1, 1, 12, 0, 30)


def test_between_excludes_start_includes_end_and_limits():
    times = fire_times_between("0 * * * *", None, utc(2024, 1, 1, 1), utc(2024, 1, 1, 4))
    assert times == [utc(2024, 1, 1, h) for h in (2, 3, 4)]
    assert len(fire_times_between("* * * * *", None, utc(2024, 1, 1), utc(2024, 1, 2),
                                  limit=5)) == 5


def test_macros():
    assert validate_schedule("@daily") == "0 0 * * *"
    assert next_fire("@hourly", None, utc(2024, 1, 1, 0, 30)) == utc(2024, 1, 1, 1)


@pytest.mark.parametrize("expr, words", [
    ("* * * *", "4 fields"),
    ("* * * * * * *", "7 fields"),
    ("61 * * * *", "not a valid cron"),
    ("", "empty"),
    ("@reboot", "unknown schedule macro"),
    ("0 0 30 2 *", "never fires"),
])
def test_bad_schedules_say_what_is_wrong(expr, words):
    with pytest.raises(ScheduleError, match=words):
        validate_schedule(expr)


def test_bad_timezone():
    with pytest.raises(ScheduleError, match="unknown timezone 'Mars/Base'"):
        validate_schedule("* * * * *", "Mars/Base")


# --- DST ---------------------------------------------------------------------------------

def test_new_york_spring_forward_fixed_time_fires_once_after_the_gap():
    # 2024-03-10: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day
    times = fire_times_between("30 2 * * *", NY, utc(2024, 3, 9), utc(2024, 3, 12))
    assert local(times, NY) == ["2024-03-09 02:30:00-0500", "2024-03-10 03:00:00-0400",
                                "2024-03-11 02:30:00-0400"]


def test_new_york_fall_back_fixed_time_fires_once_on_first_occurrence():
    # 2024-11-03: 01:00-02:00 happens twice; croniter alone would fire 01:30 twice
    times = fire_times_between("30 1 * * *", NY, utc(2024, 11, 2), utc(2024, 11, 5))
    assert local(times, NY) == ["2024-11-02 01:30:00-0400", "2024-11-03 01:30:00-0400",
                                "2024-11-04 01:30:00-0500"]


def test_new_york_0230_on_fall_back_day_fires_once():
    times = fire_times_between("30 2 * * *", NY, utc(2024, 11, 3), utc(2024, 11, 4))
    assert local(times, NY) == ["2024-11-03 02:30:00-0500"]


def test_berlin_spring_forward_and_fall_back():
    spring = fire_times_between("30 2 * * *", BERLIN, utc(2024, 3, 30), utc(2024, 4, 1))
    assert local(spring, BERLIN) == ["2024-03-30 02:30:00+0100", "2024-03-31 03:00:00+0200"]
    fall = fire_times_between("30 2 * * *", BERLIN, utc(2024, 10, 26), utc(2024, 10, 28))
    assert local(fall, BERLIN) == ["2024-10-26 02:30:00+0200", "2024-10-27 02:30:00+0200"]


def test_hourly_follows_elapsed_time_across_dst():
    # fall-back day has 25 hours, spring-forward day 23: one fire per real hour
    fall = fire_times_between("0 * * * *", NY, utc(2024, 11, 3, 4), utc(2024, 11, 4, 5))
    assert len(fall) == 25
    assert all(b - a == timedelta(hours=1) for a, b in zip(fall, fall[1:]))
    spring = fire_times_between("0 * * * *", NY, utc(2024, 3, 10, 5), utc(2024, 3, 11, 4))
    assert len(spring) == 23
    assert all(b - a == timedelta(hours=1) for a, b in zip(spring, spring[1:]))


def test_sub_hourly_in_berlin_fall_back_keeps_20_minute_spacing():
    times = fire_times_between("*/20 * * * *", BERLIN, utc(2024, 10, 26, 23, 30),
                               utc(2024, 10, 27, 2, 0))
    assert all(b - a == timedelta(minutes=20) for a, b in zip(times, times[1:]))
    assert local(times, BERLIN).count("2024-10-27 02:20:00+0200") == 1
    assert local(times, BERLIN).count("2024-10-27 02:20:00+0100") == 1


def test_several_fixed_times_inside_the_gap_collapse_into_one_fire():
    times = fire_times_between("*/15 2 * * *", NY, utc(2024, 3, 10), utc(2024, 3, 11))
    assert local(times, NY) == ["2024-03-10 03:00:00-0400"]


def test_next_fire_from_inside_the_repeated_hour():
    # after 01:10 EST (second 01:xx): an elapsed schedule fires 01:15 EST, not earlier
    after = datetime(2024, 11, 3, 1, 10, tzinfo=ZoneInfo(NY), fold=1)
    t = next_fire("*/15 * * * *", NY, after)
    assert local([t], NY) == ["2024-11-03 01:15:00-0500"]
    # a fixed 01:30 already fired in the first 01:xx hour: next is tomorrow
    t = next_fire("30 1 * * *", NY, after)
    assert local([t], NY) == ["2024-11-04 01:30:00-0500"]


ZONES = ["UTC", NY, BERLIN, "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/Santiago", "Europe/London", "Pacific/Chatham"]


@settings(max_examples=40, deadline=None)
@given(tz=st.sampled_from(ZONES), hour=st.integers(0, 23), minute=st.integers(0, 59),
       year=st.sampled_from([2023, 2024, 2025]))
def test_daily_fixed_time_fires_exactly_once_per_local_day(tz, hour, minute, year):
    zone = ZoneInfo(tz)
    # (start, end]: the whole local year
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(timezone.utc) - timedelta(seconds=1)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(timezone.utc) - timedelta(seconds=1)
    times = fire_times_between(f"{minute} {hour} * * *", tz, start, end)
    days = Counter(t.astimezone(zone).date() for t in times)
    assert len(days) == (366 if year == 2024 else 365)
    assert set(days.values()) == {1}
    assert times == sorted(set(times))


@settings(max_examples=30, deadline=None)
@given(tz=st.sampled_from(ZONES), offset_min=st.integers(0, 60 * 24 * 365))
def test_every_15_minutes_is_evenly_spaced_in_real_time(tz, offset_min):
    start = utc(2024, 1, 1) + timedelta(minutes=offset_min)
    times = fire_times_between("*/15 * * * *", tz, start, start + timedelta(days=2))
    gaps = {b - a for a, b in zip(times, times[1:])}
    # every zone, with or without DST, whole-hour or not, keeps real 15-minute spacing
    assert gaps == {timedelta(minutes=15)}


def test_last_fire_at_or_before():
    assert last_fire_at_or_before("0 9 * * *", None, utc(2024, 1, 10, 8), utc(2024, 1, 1)) \
        == utc(2024, 1, 9, 9)
    assert last_fire_at_or_before("0 9 * * *", None, utc(2024, 1, 10, 8),
                                  utc(2024, 1, 9, 10)) is None


# --- catch-up planning -------------------------------------------------------------------

def test_plan_on_time_fire():
    plan = plan_fires("0 * * * *", None, utc(2024, 1, 1, 10), utc(2024, 1, 1, 10, 0, 1), None)
    assert (plan.run, plan.trigger, plan.skipped) == (utc(2024, 1, 1, 10), "schedule", [])
    assert plan.next_fire == utc(2024, 1, 1, 11)


def test_plan_nothing_due_yet():
    plan = plan_fires("0 * * * *", None, utc(2024, 1, 1, 11), utc(2024, 1, 1, 10, 30), 3600)
    assert plan.run is None and plan.skipped == [] and plan.next_fire == utc(2024, 1, 1, 11)


def test_plan_outage_without_catch_up_skips_everything_with_reasons():
    # down from before 11:00 until 13:10
    plan = plan_fires("0 * * * *", None, utc(2024, 1, 1, 11), utc(2024, 1, 1, 13, 10), None)
    assert plan.run is None
    assert [t for t, _ in plan.skipped] == [utc(2024, 1, 1, h) for h in (11, 12, 13)]
    assert all("catch_up is not set" in r for _, r in plan.skipped)
    assert plan.next_fire == utc(2024, 1, 1, 14)


def test_plan_outage_with_catch_up_runs_the_latest_once():
    plan = plan_fires("0 * * * *", None, utc(2024, 1, 1, 11), utc(2024, 1, 1, 13, 10), 7200)
    assert (plan.run, plan.trigger) == (utc(2024, 1, 1, 13), "catch_up")
    reasons = dict(plan.skipped)
    assert set(reasons) == {utc(2024, 1, 1, 11), utc(2024, 1, 1, 12)}
    assert "older than the catch_up window of 7200s" in reasons[utc(2024, 1, 1, 11)]
    assert "superseded by the single make-up run" in reasons[utc(2024, 1, 1, 12)]


def test_plan_latest_missed_fire_outside_the_window_is_skipped():
    plan = plan_fires("0 * * * *", None, utc(2024, 1, 1, 11), utc(2024, 1, 1, 13, 40), 600)
    assert plan.run is None and len(plan.skipped) == 3


def test_plan_long_outage_of_a_dense_schedule_is_summarised():
    # a week of a per-second schedule: 10 listed, one entry for the rest, the current
    # second (on time) runs
    plan = plan_fires("* * * * * *", None, utc(2024, 1, 1), utc(2024, 1, 8), None,
                      max_listed=10)
    assert (plan.run, plan.trigger) == (utc(2024, 1, 8), "schedule")
    assert len(plan.skipped) == 11
    assert plan.skipped[-1][0] == utc(2024, 1, 1, 0, 0, 10)
    assert "every later fire time before 2024-01-08T00:00:00" in plan.skipped[-1][1]
    # a daily job missed for years: the summary covers the range up to the latest miss
    plan = plan_fires("0 9 * * *", None, utc(2020, 1, 1, 9), utc(2024, 1, 8, 12), None,
                      max_listed=10)
    assert plan.run is None and len(plan.skipped) == 11
    assert "up to and including 2024-01-08T09:00:00" in plan.skipped[-1][1]
