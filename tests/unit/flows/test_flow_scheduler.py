"""The scheduler end to end over a real SQLite file, with a fake clock and real gate scripts."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from cao.flows.clock import FakeClock, SystemClock
from cao.flows.scheduler import FlowNotFound, LaunchOutcome
from cao.flows.spec import FlowSpecError
from cao.store import flows as store
from cao.store.db import connect
from flowtest_helpers import Launcher, flow, utc, wait_until, write_script

YES_GATE = ('#!/bin/sh\necho \'{"execute": true, "output": '
            '{"url": "https://shop.test", "status_code": 503}}\'\n')


def hist(db_path, name):
    """History oldest first, as (fire time HH:MM, trigger, state)."""
    rows = store.history(connect(db_path), name, limit=1000)[::-1]
    return [(r["fire_time"][11:16], r["trigger"], r["state"]) for r in rows]


def test_a_day_of_an_hourly_flow_runs_in_no_time(make_scheduler, db_path):
    async def main():
        clock, launcher = FakeClock(utc(2024, 1, 1, 0, 0, 30)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("hourly"))
        await clock.advance(timedelta(days=1))
        await s.drain()
        await s.stop()
        return launcher

    started = time.monotonic()
    launcher = asyncio.run(main())
    assert time.monotonic() - started < 5
    assert [c["fire_time"][11:16] for c in launcher.calls] == \
        [f"{h:02d}:00" for h in range(1, 24)] + ["00:00"]
    rows = store.history(connect(db_path), "hourly", limit=100)
    assert len(rows) == 24 and {r["state"] for r in rows} == {"succeeded"}
    assert rows[0]["answer"] == f"answer of run {rows[0]['id']}"
    assert rows[0]["session_name"] == f"cao-flow-{rows[0]['id']}"
    [f] = store.list_flows(connect(db_path))
    assert f["last_fire_time"].startswith("2024-01-02T00:00")
    assert f["next_fire_time"].startswith("2024-01-02T01:00")


def test_weekday_flow_in_new_york_across_spring_forward(make_scheduler):
    async def main():
        # Fri 2024-03-08 .. Tue 2024-03-12; DST starts Sun 03-10
        clock, launcher = FakeClock(utc(2024, 3, 8, 12)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("standup", "0 9 * * 1-5", timezone="America/New_York"))
        s.add_flow(flow("nightly", "30 2 * * *", timezone="America/New_York"))
        await clock.advance(timedelta(days=4))
        await s.stop()
        return launcher

    launcher = asyncio.run(main())
    ny = ZoneInfo("America/New_York")

    def local(name):
        from datetime import datetime
        return [datetime.fromisoformat(c["fire_time"]).astimezone(ny).strftime("%a %H:%M %z")
                for c in launcher.calls if c["name"] == name]

    # until Tue 08:00 EDT
    assert local("standup") == ["Fri 09:00 -0500", "Mon 09:00 -0400"]
    assert local("nightly") == ["Sat 02:30 -0500", "Sun 03:00 -0400", "Mon 02:30 -0400",
                                "Tue 02:30 -0400"]


def test_berlin_fall_back_fires_once(make_scheduler):
    async def main():
        clock, launcher = FakeClock(utc(2024, 10, 26, 12)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("f", "30 2 * * *", timezone="Europe/Berlin"))
        await clock.advance(timedelta(days=2))
        await s.stop()
        return launcher

    launcher = asyncio.run(main())
    assert [c["fire_time"] for c in launcher.calls] == \
        ["2024-10-27T00:30:00.000000+00:00", "2024-10-28T01:30:00.000000+00:00"]


# --- overlap -------------------------------------------------------------------------------

def _overlap(make_scheduler, policy):
    async def main():
        clock, launcher = FakeClock(utc(2024, 1, 1, 0, 30)), Launcher(hold=True)
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("f", overlap=policy))
        await clock.advance(timedelta(hours=3))  # fires 01:00, 02:00, 03:00
        during = [c["fire_time"][11:16] for c in launcher.calls]
        for c in list(launcher.calls):
            launcher.release(c["id"])
        await clock.settle()
        for c in list(launcher.calls):  # the queued run started by the release
            launcher.release(c["id"])
        await s.drain()
        await s.stop()
        return during, launcher

    return asyncio.run(main())


def test_overlap_skip(make_scheduler, db_path):
    during, launcher = _overlap(make_scheduler, "skip")
    assert during == ["01:00"] and len(launcher.calls) == 1
    assert hist(db_path, "f") == [("01:00", "schedule", "succeeded"),
                                  ("02:00", "schedule", "skipped"),
                                  ("03:00", "schedule", "skipped")]
    reasons = [r["reason"] for r in store.history(connect(db_path), "f")]
    assert reasons[0] == "previous run #1 was still in progress (overlap: skip)"


def test_overlap_queue_keeps_at_most_one(make_scheduler, db_path):
    during, launcher = _overlap(make_scheduler, "queue")
    assert during == ["01:00"]
    assert [c["fire_time"][11:16] for c in launcher.calls] == ["01:00", "02:00"]
    assert hist(db_path, "f") == [("01:00", "schedule", "succeeded"),
                                  ("02:00", "schedule", "succeeded"),
                                  ("03:00", "schedule", "skipped")]
    third = store.history(connect(db_path), "f")[0]
    assert third["reason"] == \
        "run #2 is already queued behind run #1 (overlap: queue holds at most one)"


def test_overlap_allow_runs_concurrently(make_scheduler, db_path):
    during, _ = _overlap(make_scheduler, "allow")
    assert during == ["01:00", "02:00", "03:00"]
    assert {state for _, _, state in hist(db_path, "f")} == {"succeeded"}


# --- restarts and catch-up --------------------------------------------------------------

def _outage(make_scheduler, db_path, catch_up):
    """Up 08:30-10:30, down for 3 hours, up again 13:30-15:30 with a new scheduler."""
    async def first():
        clock, launcher = FakeClock(utc(2024, 1, 1, 8, 30)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("f", catch_up=catch_up))
        await clock.advance(timedelta(hours=2))
        await s.stop()
        return launcher

    async def second(start_hour_min, hours):
        clock, launcher = FakeClock(utc(2024, 1, 1, *start_hour_min)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        await clock.advance(timedelta(hours=hours))
        await s.drain()
        await s.stop()
        return launcher

    a = asyncio.run(first())
    b = asyncio.run(second((13, 30), 2))
    c = asyncio.run(second((15, 30), 0))  # restart again at once: nothing new
    return a.calls + b.calls + c.calls


def test_outage_with_catch_up_makes_up_the_latest_missed_fire_once(make_scheduler, db_path):
    calls = _outage(make_scheduler, db_path, catch_up=7200)
    assert [(c["fire_time"][11:16], c["trigger"]) for c in calls] == [
        ("09:00", "schedule"), ("10:00", "schedule"), ("13:00", "catch_up"),
        ("14:00", "schedule"), ("15:00", "schedule")]
    assert hist(db_path, "f") == [
        ("09:00", "schedule", "succeeded"), ("10:00", "schedule", "succeeded"),
        ("11:00", "schedule", "skipped"), ("12:00", "schedule", "skipped"),
        ("13:00", "catch_up", "succeeded"),
        ("14:00", "schedule", "succeeded"), ("15:00", "schedule", "succeeded")]
    reasons = {r["fire_time"][11:16]: r["reason"]
               for r in store.history(connect(db_path), "f")}
    # restarted at 13:30: 11:00 is 150 min old, 12:00 is 90 min, 13:00 is 30 min
    assert "older than the catch_up window of 7200s" in reasons["11:00"]
    assert "superseded by the single make-up run for 2024-01-01T13:00" in reasons["12:00"]


def test_outage_without_catch_up_records_every_missed_fire(make_scheduler, db_path):
    calls = _outage(make_scheduler, db_path, catch_up=None)
    assert [c["fire_time"][11:16] for c in calls] == ["09:00", "10:00", "14:00", "15:00"]
    skipped = [r for r in store.history(connect(db_path), "f") if r["state"] == "skipped"]
    assert sorted(r["fire_time"][11:16] for r in skipped) == ["11:00", "12:00", "13:00"]
    assert all("not running at this fire time" in r["reason"]
               and "catch_up is not set" in r["reason"] for r in skipped)


def test_run_in_progress_at_a_crash_is_closed_not_repeated(make_scheduler, db_path):
    async def before_crash():
        clock, launcher = FakeClock(utc(2024, 1, 1, 8, 30)), Launcher(hold=True)
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("f", catch_up=7200))
        await clock.advance(timedelta(hours=1))  # 09:00 is running ...
        s._main.cancel()  # ... when the process dies: no clean-up code runs
        s._stopping = True

    async def after_restart():
        clock, launcher = FakeClock(utc(2024, 1, 1, 9, 20)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        await clock.advance(timedelta(hours=1))
        await s.drain()
        await s.stop()
        return launcher

    loop = asyncio.new_event_loop()
    loop.run_until_complete(before_crash())
    loop.close()  # abandon the held run without cancelling it, like kill -9
    launcher = asyncio.run(after_restart())
    assert [c["fire_time"][11:16] for c in launcher.calls] == ["10:00"]
    rows = {r["fire_time"][11:16]: r for r in store.history(connect(db_path), "f")}
    assert rows["09:00"]["state"] == "failed"
    assert "server stopped while this run was in progress" in rows["09:00"]["reason"]


class WorkflowLauncher(Launcher):
    """Like the server's launcher for workflow flows: links a workflow run that outlives
    the scheduler, and follows it again after a restart."""

    def __init__(self, conn, adopt_answer: str | None = None, **kw):
        super().__init__(**kw)
        self.conn, self.adopt_answer, self.adopted = conn, adopt_answer, []

    async def __call__(self, spec, prompt, flow_run_id):
        store.update_flow_run(self.conn, flow_run_id, run_id=f"r-{flow_run_id}")
        return await super().__call__(spec, prompt, flow_run_id)

    def outlives_server(self, row):
        return bool(row["run_id"])

    def adopt(self, row):
        if self.adopt_answer is None:
            return None
        self.adopted.append(row["id"])

        async def outcome():
            return LaunchOutcome("succeeded", answer=self.adopt_answer, run_id=row["run_id"])
        return outcome()


def test_a_workflow_run_in_progress_at_a_stop_is_followed_after_the_restart(make_scheduler,
                                                                            db_path):
    async def before_stop():
        clock = FakeClock(utc(2024, 1, 1, 0, 59, 59))
        s = make_scheduler(clock, WorkflowLauncher(connect(db_path), hold=True))
        await s.start()
        s.add_flow(flow("f", overlap="queue"))
        await clock.advance(1)  # 01:00 runs (held) ...
        await clock.advance(3600)  # ... so 02:00 queues behind it
        await s.stop()

    async def after_restart(answer):
        clock = FakeClock(utc(2024, 1, 1, 2, 0, 30))
        launcher = WorkflowLauncher(connect(db_path), adopt_answer=answer)
        s = make_scheduler(clock, launcher)
        await s.start()
        await s.drain()
        await s.stop()
        return launcher

    asyncio.run(before_stop())
    assert [r[2] for r in hist(db_path, "f")] == ["running", "queued"]
    launcher = asyncio.run(after_restart("report of r-1"))
    rows = store.history(connect(db_path), "f")[::-1]
    assert launcher.adopted == [rows[0]["id"]]
    assert (rows[0]["state"], rows[0]["answer"], rows[0]["run_id"]) == \
        ("succeeded", "report of r-1", "r-1")
    # The queued fire waited for the followed run, then started in the new process.
    assert [c["fire_time"][11:16] for c in launcher.calls] == ["02:00"]
    assert rows[1]["state"] == "succeeded"


def test_an_open_run_nobody_can_follow_is_closed_as_interrupted(make_scheduler, db_path):
    async def before_stop():
        clock = FakeClock(utc(2024, 1, 1, 0, 59, 59))
        s = make_scheduler(clock, WorkflowLauncher(connect(db_path), hold=True))
        await s.start()
        s.add_flow(flow("f", overlap="queue"))
        await clock.advance(1)
        await clock.advance(3600)
        await s.stop()

    async def after_restart():
        s = make_scheduler(FakeClock(utc(2024, 1, 1, 2, 0, 30)),
                           WorkflowLauncher(connect(db_path), adopt_answer=None))
        await s.start()
        await s.stop()

    asyncio.run(before_stop())
    asyncio.run(after_restart())
    rows = store.history(connect(db_path), "f")[::-1]
    assert [r["state"] for r in rows] == ["failed", "skipped"]
    assert rows[0]["reason"].startswith("interrupted") and rows[0]["run_id"] == "r-1"


# --- gates -----------------------------------------------------------------------------------

def _gated(make_scheduler, tmp_path, gate_body, **kw):
    flows_dir = tmp_path / "flows"
    flows_dir.mkdir()
    write_script(flows_dir / "health-check.sh", gate_body)

    async def main():
        clock, launcher = FakeClock(utc(2024, 1, 1, 0, 59, 59)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("gated", script="./health-check.sh", path=str(flows_dir / "gated.md"),
                        prompt="[[url]] answered [[status_code]]; {{ flow }} at {{ fire_time }}",
                        **kw))
        await clock.advance(1)
        await wait_until(lambda: not s.active_run_ids)
        await s.stop()
        return launcher

    launcher = asyncio.run(main())
    [row] = store.history(connect(tmp_path / "cao.db"), "gated")
    return launcher, row


def test_gate_yes_fills_the_prompt(make_scheduler, tmp_path):
    launcher, row = _gated(make_scheduler, tmp_path, YES_GATE,
                           workflow="wf.md", inputs={"target": "[[url]]"})
    [call] = launcher.calls
    assert call["prompt"] == ("https://shop.test answered 503; gated at "
                              "2024-01-01T01:00:00.000000+00:00")
    assert call["spec"]["inputs"] == {"target": "https://shop.test"}
    assert call["spec"]["gate_output"] == {"url": "https://shop.test", "status_code": 503}
    assert row["state"] == "succeeded"
    assert row["gate_output"]["output"] == {"url": "https://shop.test", "status_code": 503}


def test_gate_no_is_recorded_as_gated_off(make_scheduler, tmp_path):
    launcher, row = _gated(make_scheduler, tmp_path, "#!/bin/sh\necho '{\"execute\": false}'\n")
    assert launcher.calls == []
    assert (row["state"], row["reason"]) == ("gated_off", "gate script returned execute: false")


def test_gate_garbage_fails_with_reason(make_scheduler, tmp_path):
    launcher, row = _gated(make_scheduler, tmp_path, "#!/bin/sh\necho '<html>oops'\n")
    assert launcher.calls == [] and row["state"] == "failed"
    assert row["reason"] == "gate: gate script output is not JSON: '<html>oops'"
    assert row["gate_output"]["stdout"] == "<html>oops\n"


def test_gate_timeout_fails_with_reason(make_scheduler, tmp_path):
    launcher, row = _gated(make_scheduler, tmp_path, "#!/bin/sh\nsleep 30\n", script_timeout=0.3)
    assert launcher.calls == [] and row["state"] == "failed"
    assert row["reason"] == "gate: gate script timed out after 0.3s and was killed"


def test_gate_non_zero_exit_fails_with_reason(make_scheduler, tmp_path):
    launcher, row = _gated(make_scheduler, tmp_path, "#!/bin/sh\necho 'no route' >&2\nexit 7\n")
    assert row["reason"] == "gate: gate script exited with status 7: no route"


def test_slow_gate_of_one_flow_does_not_delay_another(make_scheduler, tmp_path):
    write_script(tmp_path / "slow.sh", "#!/bin/sh\nsleep 5\necho '{\"execute\": true}'\n")

    async def main():
        clock, launcher = FakeClock(utc(2024, 1, 1, 0, 59, 59)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("a", script=str(tmp_path / "slow.sh"), script_timeout=10))
        s.add_flow(flow("b", "* * * * *"))
        t0 = time.monotonic()
        await clock.advance(1)  # 01:00: both fire; a's gate starts sleeping
        await wait_until(lambda: launcher.names() == ["b"], timeout=1)
        await clock.advance(60)  # 01:01: b fires again while a's gate still runs
        await wait_until(lambda: launcher.names() == ["b", "b"], timeout=1)
        b_done = time.monotonic() - t0
        await wait_until(lambda: "a" in launcher.names(), timeout=15)
        a_done = time.monotonic() - t0
        await s.stop()
        return b_done, a_done

    b_done, a_done = asyncio.run(main())
    assert b_done < 1.0 and a_done >= 4.5


# --- management, manual runs, failures -------------------------------------------------------

def test_disable_enable_and_manual_run(make_scheduler, db_path):
    async def main():
        clock, launcher = FakeClock(utc(2024, 1, 1, 0, 30)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("f"))
        s.set_enabled("f", False)
        await clock.advance(timedelta(hours=2))  # 01:00, 02:00 pass while disabled
        assert launcher.calls == []
        manual = await s.run_now("f")  # allowed while disabled
        await clock.settle()
        s.set_enabled("f", True)  # nothing missed while disabled is made up
        await clock.advance(timedelta(hours=1))
        await s.drain()
        with pytest.raises(FlowNotFound, match="no flow named 'zzz'"):
            await s.run_now("zzz")
        await s.stop()
        return launcher, manual

    launcher, manual = asyncio.run(main())
    assert [(c["fire_time"][11:16], c["trigger"]) for c in launcher.calls] == \
        [("02:30", "manual"), ("03:00", "schedule")]
    assert launcher.calls[0]["id"] == manual


def test_re_adding_an_unchanged_flow_keeps_its_cursor(make_scheduler, db_path):
    async def main():
        clock, launcher = FakeClock(utc(2024, 1, 1, 0, 30)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("f", prompt="v1"))
        await clock.advance(timedelta(minutes=29))
        row = s.add_flow(flow("f", prompt="v2"))  # body edited, schedule unchanged
        assert row["next_fire_time"].startswith("2024-01-01T01:00")
        row = s.add_flow(flow("f", "30 * * * *", prompt="v3"))  # new schedule: from now
        assert row["next_fire_time"].startswith("2024-01-01T01:30")
        await clock.advance(timedelta(hours=1))
        await s.stop()
        return launcher

    launcher = asyncio.run(main())
    assert [(c["fire_time"][11:16], c["prompt"]) for c in launcher.calls] == [("01:30", "v3")]


def test_remove_stops_firing(make_scheduler, db_path):
    async def main():
        clock, launcher = FakeClock(utc(2024, 1, 1, 0, 30)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("f"))
        s.remove_flow("f")
        await clock.advance(timedelta(hours=2))
        with pytest.raises(FlowNotFound):
            s.remove_flow("f")
        await s.stop()
        return launcher

    assert asyncio.run(main()).calls == []


def test_invalid_specs_are_refused_with_the_field_named(make_scheduler):
    s = make_scheduler(FakeClock(), Launcher())
    with pytest.raises(FlowSpecError, match="overlap must be one of skip, queue, allow"):
        s.add_flow(flow("f", overlap="sometimes"))
    with pytest.raises(FlowSpecError, match="catch_up: cannot read 'soon'"):
        s.add_flow(flow("f", catch_up="soon"))
    with pytest.raises(FlowSpecError, match="has 4 fields"):
        s.add_flow(flow("f", "0 9 * *"))
    with pytest.raises(FlowSpecError, match="set agent_profile"):
        s.add_flow({"name": "f", "schedule": "* * * * *"})
    assert s.add_flow(flow("f", catch_up="2h"))["spec"]["catch_up"] == 7200


def test_launcher_errors_and_failures_are_recorded(make_scheduler, db_path):
    async def main(launcher, name):
        clock = FakeClock(utc(2024, 1, 1, 0, 59, 59))
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow(name))
        await clock.advance(1)
        await s.drain()
        await s.stop()

    asyncio.run(main(Launcher(fail=RuntimeError("tmux is not installed")), "boom"))

    async def failing(spec, prompt, run_id):
        return LaunchOutcome("failed", reason="agent exited", terminal_id="t1")

    asyncio.run(main(failing, "sad"))
    [boom] = store.history(connect(db_path), "boom")
    assert (boom["state"], boom["reason"]) == \
        ("failed", "launch failed: RuntimeError: tmux is not installed")
    [sad] = store.history(connect(db_path), "sad")
    assert (sad["state"], sad["reason"], sad["terminal_id"]) == ("failed", "agent exited", "t1")


def test_stop_cancels_runs_and_records_why(make_scheduler, db_path):
    async def main():
        clock, launcher = FakeClock(utc(2024, 1, 1, 0, 59, 59)), Launcher(hold=True)
        s = make_scheduler(clock, launcher)
        await s.start()
        s.add_flow(flow("f"))
        await clock.advance(1)
        await s.stop()

    asyncio.run(main())
    [row] = store.history(connect(db_path), "f")
    assert row["state"] == "failed" and row["reason"].startswith("cancelled")


def test_notify_changed_from_another_thread_wakes_the_loop(make_scheduler, db_path):
    async def main():
        clock, launcher = FakeClock(utc(2024, 1, 1, 0, 59)), Launcher()
        s = make_scheduler(clock, launcher)
        await s.start()
        await clock.settle()  # the loop sleeps with no flows at all

        def other_thread():  # e.g. a sync server endpoint writing the store directly
            store.upsert_flow(connect(db_path), name="f",
                              spec={**flow("f"), "timezone": "UTC", "overlap": "skip"})
            s.notify_changed()

        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        await wait_until(lambda: clock.sleepers > 0, timeout=2)
        await clock.advance(60)
        await s.drain()
        await s.stop()
        return launcher

    assert asyncio.run(main()).names() == ["f"]


def test_real_clock_with_a_seconds_schedule(make_scheduler, db_path):
    async def main():
        launcher = Launcher()
        s = make_scheduler(SystemClock(), launcher)
        await s.start()
        s.add_flow(flow("tick", "* * * * * *"))
        await asyncio.sleep(2.6)
        await s.stop()
        return launcher

    launcher = asyncio.run(main())
    fires = [c["fire_time"] for c in launcher.calls]
    assert len(fires) >= 2 and len(set(fires)) == len(fires)
    assert all(f.endswith(".000000+00:00") for f in fires)
