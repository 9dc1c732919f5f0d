"""The flow scheduler: one asyncio loop that fires flows on their cron schedules.

The loop sleeps until the earliest `next_fire_time` of the enabled flows (or until
`notify_changed()`), then, per due flow and inside one SQLite transaction: plans the due
fire times (catch-up rules in `schedule.plan_fires`), records each one (skipped ones with
their reason), applies the overlap policy and advances the flow's cursor. Only then does it
act: each admitted fire runs in its own task (gate -> prompt -> launcher), so a slow gate
or a hung launcher of one flow never delays another flow's fire.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

from cao.flows.clock import Clock, SystemClock
from cao.flows.gate import MAX_CAPTURE, run_gate_async
from cao.flows.placeholders import (TemplateError, fill_structure, render_prompt,
                                    unknown_placeholders)
from cao.flows.schedule import next_fire, plan_fires
from cao.flows.spec import gate_paths, normalize_spec
from cao.store import flows as store
from cao.store.db import transaction

log = logging.getLogger("cao.flows")


@dataclass
class LaunchOutcome:
    """What the launcher reports when the agent session or workflow run is over."""

    state: str  # 'succeeded' or 'failed'
    answer: str | None = None
    session_name: str | None = None
    run_id: str | None = None
    terminal_id: str | None = None
    reason: str | None = None


Launcher = Callable[[dict[str, Any], str, int], Awaitable[LaunchOutcome]]
# A launcher may also offer two methods for work that outlives a server process (workflow
# runs, which the runtime resumes after a restart):
#   outlives_server(flow_run_row) -> bool: at stop, leave this run open instead of failing it;
#   adopt(flow_run_row) -> Awaitable[LaunchOutcome] | None: at start, follow it to its end.


class FlowNotFound(KeyError):
    def __str__(self) -> str:
        return f"no flow named {self.args[0]!r}; add it with `cao flow add FILE`"


class FlowScheduler:
    def __init__(self, conn_factory: Callable[[], sqlite3.Connection], clock: Clock | None = None,
                 launcher: Launcher | None = None, *, grace: float = 60.0,
                 max_listed: int = 1000):
        self._conn_factory = conn_factory
        self._conn: sqlite3.Connection | None = None
        self.clock = clock or SystemClock()
        self.launcher = launcher
        self.grace = grace  # a fire time this many seconds old still counts as on time
        self.max_listed = max_listed  # missed fire times recorded one by one per outage
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._main: asyncio.Task | None = None
        self._runs: dict[int, asyncio.Task] = {}
        self._broken: set[str] = set()
        self._stopping = False

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._conn_factory()
        return self._conn

    async def start(self) -> None:
        """Close runs a previous process left open, then start the loop (it catches up)."""
        if self._main is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._stopping = False
        with transaction(self.conn):
            adopted = self._adopt_open_runs()
            stale = store.recover_interrupted(
                self.conn, self.clock.now(), keep=adopted,
                keep_queued_of={row["flow_name"] for row, _ in adopted.values()})
        if stale:
            log.warning("closed %d flow run(s) left open by a previous server", len(stale))
        for run_id, (row, outcome) in adopted.items():
            log.info("flow %r: following run #%d again (workflow run %s)",
                     row["flow_name"], run_id, row["run_id"])
            self._track(run_id, row["flow_name"], self._follow(run_id, row["flow_name"], outcome))
        self._main = asyncio.create_task(self._run_loop(), name="cao-flow-scheduler")

    def _adopt_open_runs(self) -> dict[int, tuple[dict[str, Any], Awaitable[LaunchOutcome]]]:
        """Running rows of a previous process whose work goes on (a resumed workflow run)."""
        adopt = getattr(self.launcher, "adopt", None)
        if adopt is None:
            return {}
        adopted = {}
        for row in store.open_runs(self.conn):
            outcome = adopt(row) if row["state"] == "running" else None
            if outcome is not None:
                adopted[row["id"]] = (row, outcome)
        return adopted

    async def stop(self, *, cancel_runs: bool = True) -> None:
        """Stop firing; cancel in-flight runs (recorded as failed) unless told to wait."""
        self._stopping = True
        if self._main is not None:
            self._main.cancel()
            await asyncio.gather(self._main, return_exceptions=True)
            self._main = None
        self._loop = None  # later notify_changed() calls are no-ops
        tasks = list(self._runs.values())
        if cancel_runs:
            for t in tasks:
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until no flow run of this scheduler is in progress (queued ones included)."""
        while self._runs:
            await asyncio.gather(*list(self._runs.values()), return_exceptions=True)

    @property
    def active_run_ids(self) -> list[int]:
        return sorted(self._runs)

    def notify_changed(self) -> None:
        """Flows were added, changed or removed: recompute the next wake-up. Thread-safe."""
        self._broken.clear()
        if self._loop is None or self._changed is None:
            return
        try:
            same_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            self._changed.set()
        else:
            self._loop.call_soon_threadsafe(self._changed.set)

    # --- flow management (call from the scheduler's event loop thread) --------------------

    def add_flow(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Register or update a flow; returns its stored row. Raises FlowSpecError.

        Re-adding an unchanged schedule keeps the cursor, so no fire time is lost or
        repeated; a new schedule or timezone starts from now.
        """
        spec = normalize_spec(spec)
        now = self.clock.now()
        old = store.get_flow(self.conn, spec["name"])
        keep = (old is not None and old["enabled"] and spec["enabled"]
                and old["next_fire_time"] is not None
                and (old["spec"].get("schedule"), old["spec"].get("timezone"))
                == (spec["schedule"], spec["timezone"]))
        if keep:
            nxt = store.parse_time(old["next_fire_time"])
        else:
            nxt = next_fire(spec["schedule"], spec["timezone"], now) if spec["enabled"] else None
        store.upsert_flow(self.conn, name=spec["name"], spec=spec, path=spec.get("path"),
                          enabled=spec["enabled"], next_fire_time=nxt, now=now)
        self.notify_changed()
        return store.get_flow(self.conn, spec["name"])

    def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        """Enable (fires from now on; nothing missed while disabled is made up) or disable."""
        flow = store.get_flow(self.conn, name)
        if flow is None:
            raise FlowNotFound(name)
        if flow["enabled"] != enabled:
            now = self.clock.now()
            spec = flow["spec"]
            nxt = next_fire(spec["schedule"], spec["timezone"], now) if enabled else None
            store.set_enabled(self.conn, name, enabled, next_fire_time=nxt, now=now)
            self.notify_changed()
        return store.get_flow(self.conn, name)

    def remove_flow(self, name: str, *, keep_history: bool = False) -> None:
        """Forget a flow. Runs already in progress finish and are recorded if history is kept."""
        if not store.remove_flow(self.conn, name, keep_history=keep_history):
            raise FlowNotFound(name)
        self.notify_changed()

    async def run_now(self, name: str) -> int:
        """Fire a flow now, ignoring its schedule (and its enabled flag); returns the flow
        run id. The overlap policy applies as for a scheduled fire."""
        flow = store.get_flow(self.conn, name)
        if flow is None:
            raise FlowNotFound(name)
        spec = normalize_spec(flow["spec"])
        now = fire_time = self.clock.now()
        while True:
            with transaction(self.conn):
                run_id, state = self._admit(spec, fire_time, "manual", now)
            if run_id is not None:
                break
            fire_time += timedelta(microseconds=1)  # two manual runs in one microsecond
        if state == "running":
            self._spawn(run_id, spec, fire_time, "manual")
        return run_id

    # --- the loop ------------------------------------------------------------------------

    async def _run_loop(self) -> None:
        assert self._changed is not None
        while True:
            self._changed.clear()
            try:
                now = self.clock.now()
                for flow in store.due_flows(self.conn, now):
                    if flow["name"] in self._broken:
                        continue
                    try:
                        self._fire_due(flow, now)
                    except sqlite3.OperationalError:
                        raise
                    except Exception:
                        # park the flow instead of spinning on it; notify_changed() retries
                        log.exception("flow %r could not be scheduled; parked until it "
                                      "changes", flow["name"])
                        self._broken.add(flow["name"])
                        store.set_fire_times(self.conn, flow["name"], next_fire_time=None)
                wake = store.earliest_next_fire(self.conn)
            except sqlite3.OperationalError:
                # e.g. the database stayed locked past busy_timeout: nothing was recorded
                # (transactions roll back), so retrying later cannot fire anything twice
                log.exception("flow scheduler: database error; retrying in 5s")
                wake = self.clock.now() + timedelta(seconds=5)
            await self._wait(wake)

    async def _wait(self, wake: datetime | None) -> None:
        assert self._changed is not None
        if self._changed.is_set():
            return
        changed = asyncio.ensure_future(self._changed.wait())
        waiters = {changed}
        if wake is not None:
            waiters.add(asyncio.ensure_future(self.clock.sleep_until(wake)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    def _fire_due(self, flow: dict[str, Any], now: datetime) -> None:
        spec, name = normalize_spec(flow["spec"]), flow["name"]
        if flow["next_fire_time"] is None:  # enabled without a cursor: start from now
            store.set_fire_times(self.conn, name,
                                 next_fire_time=next_fire(spec["schedule"], spec["timezone"], now))
            return
        plan = plan_fires(spec["schedule"], spec["timezone"],
                          store.parse_time(flow["next_fire_time"]), now, spec.get("catch_up"),
                          grace=self.grace, max_listed=self.max_listed)
        admitted: tuple[int, str] | None = None
        with transaction(self.conn):
            for t, reason in plan.skipped:
                store.record_fire(self.conn, flow_name=name, fire_time=t, trigger="schedule",
                                  state="skipped", reason=reason, now=now)
            if plan.run is not None:
                admitted = self._admit(spec, plan.run, plan.trigger, now)
            handled = [t for t, _ in plan.skipped] + ([plan.run] if plan.run else [])
            store.set_fire_times(self.conn, name, next_fire_time=plan.next_fire,
                                 last_fire_time=max(handled) if handled else None)
        for t, reason in plan.skipped:
            log.info("flow %r: fire time %s skipped: %s", name, t.isoformat(), reason)
        if admitted and admitted[1] == "running":
            self._spawn(admitted[0], spec, plan.run, plan.trigger)

    def _admit(self, spec: dict[str, Any], fire_time: datetime, trigger: str,
               now: datetime) -> tuple[int | None, str]:
        """Record one fire under the overlap policy (inside the caller's transaction)."""
        name = spec["name"]
        busy = store.running_ids(self.conn, name)
        policy = spec.get("overlap", "skip")
        state, reason = "running", None
        if busy and policy == "skip":
            state = "skipped"
            reason = f"previous run #{busy[0]} was still in progress (overlap: skip)"
        elif busy and policy == "queue":
            queued = store.queued_run(self.conn, name)
            if queued:
                state = "skipped"
                reason = (f"run #{queued['id']} is already queued behind run #{busy[0]} "
                          "(overlap: queue holds at most one)")
            else:
                state = "queued"
                reason = f"waiting for run #{busy[0]} to finish (overlap: queue)"
        run_id = store.record_fire(self.conn, flow_name=name, fire_time=fire_time,
                                   trigger=trigger, state=state, reason=reason, now=now)
        if run_id is None:  # already recorded by an earlier pass: never act twice
            return None, "duplicate"
        if state != "running":
            log.info("flow %r: fire %s %s: %s", name, fire_time.isoformat(), state, reason)
        return run_id, state

    # --- one run ---------------------------------------------------------------------------

    def _spawn(self, run_id: int, spec: dict[str, Any], fire_time: datetime, trigger: str) -> None:
        self._track(run_id, spec["name"], self._execute(run_id, spec, fire_time, trigger))

    def _track(self, run_id: int, name: str, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(f"cao-flow-{name}-{run_id}")
        self._runs[run_id] = task
        task.add_done_callback(lambda _t: self._runs.pop(run_id, None))

    def _finish(self, flow_run_id: int, state: str, reason: str | None = None,
                **fields: Any) -> None:
        store.update_flow_run(self.conn, flow_run_id, state=state, reason=reason,
                              finished_at=self.clock.now(), **fields)

    def _record_outcome(self, run_id: int, outcome: LaunchOutcome) -> None:
        state = outcome.state if outcome.state in ("succeeded", "failed") else "failed"
        reason = outcome.reason
        if state != outcome.state:
            reason = f"launcher returned unknown state {outcome.state!r}"
        self._finish(run_id, state, reason, answer=outcome.answer,
                     session_name=outcome.session_name, run_id=outcome.run_id,
                     terminal_id=outcome.terminal_id)

    def _stopped_during(self, run_id: int) -> None:
        """This process stops while the run goes on: fail it, unless its work outlives us."""
        outlives = getattr(self.launcher, "outlives_server", None)
        row = store.get_flow_run(self.conn, run_id)
        if self._stopping and outlives is not None and row is not None and outlives(row):
            log.info("flow run #%d stays open: its workflow run resumes with the server", run_id)
            return
        self._finish(run_id, "failed", "cancelled: the flow scheduler stopped during this run")

    async def _follow(self, run_id: int, name: str, outcome: Awaitable[LaunchOutcome]) -> None:
        """Wait for the outcome of a run adopted from a previous server process."""
        await self._settle(run_id, name, outcome)

    async def _execute(self, run_id: int, spec: dict[str, Any], fire_time: datetime,
                       trigger: str) -> None:
        await self._settle(run_id, spec["name"], self._launch(run_id, spec, fire_time, trigger))

    async def _settle(self, run_id: int, name: str,
                      outcome: Awaitable[LaunchOutcome | None]) -> None:
        """Record how a flow run ends (None: already recorded), whatever goes wrong, then
        start the flow's next queued run."""
        try:
            result = await outcome
            if result is not None:
                self._record_outcome(run_id, result)
        except asyncio.CancelledError:
            self._stopped_during(run_id)
            raise
        except Exception as exc:
            log.exception("flow %r run #%d failed", name, run_id)
            self._finish(run_id, "failed", f"launch failed: {type(exc).__name__}: {exc}")
        finally:
            if not self._stopping:
                self._start_queued(name)

    async def _launch(self, run_id: int, spec: dict[str, Any], fire_time: datetime,
                      trigger: str) -> LaunchOutcome | None:
        """Gate, render the prompt, launch; None when the run ended before launching."""
        name = spec["name"]
        values = await self._gate(run_id, spec, fire_time, trigger)
        if values is None:
            return None
        context = {"flow": name, "fire_time": store.iso(fire_time), "trigger": trigger}
        try:
            prompt = render_prompt(spec.get("prompt") or "", values, context)
            inputs = fill_structure(spec.get("inputs") or {}, values)
        except TemplateError as exc:
            self._finish(run_id, "failed", f"prompt: {exc}")
            return None
        missing = unknown_placeholders(prompt, values)
        if missing:
            log.warning("flow %r: no gate value for placeholder(s) %s; left as written",
                        name, ", ".join(f"[[{m}]]" for m in missing))
        launch_spec = {**spec, "inputs": inputs, "gate_output": values, **context}
        if self.launcher is None:
            raise RuntimeError("no launcher configured for the flow scheduler")
        return await self.launcher(launch_spec, prompt, run_id)

    async def _gate(self, run_id: int, spec: dict[str, Any], fire_time: datetime,
                    trigger: str) -> dict[str, Any] | None:
        """Run the flow's gate; returns the values for the prompt, or None when the fire
        ends here (gated off or gate failure, already recorded)."""
        if not spec.get("script"):
            return {}
        script, cwd = gate_paths(spec)
        env = {"CAO_FLOW_NAME": spec["name"], "CAO_FLOW_FIRE_TIME": store.iso(fire_time),
               "CAO_FLOW_TRIGGER": trigger, "CAO_FLOW_RUN_ID": str(run_id)}
        res = await run_gate_async(script, cwd=cwd, timeout=spec.get("script_timeout", 60.0),
                                   env=env)
        record: dict[str, Any] = {"execute": res.execute, "output": res.output,
                                  "exit_code": res.exit_code, "duration": round(res.duration, 3)}
        if res.error:
            record.update(stdout=res.stdout[-MAX_CAPTURE:], stderr=res.stderr[-MAX_CAPTURE:])
            self._finish(run_id, "failed", f"gate: {res.error}", gate_output=record)
            return None
        store.update_flow_run(self.conn, run_id, gate_output=record)
        if not res.execute:
            self._finish(run_id, "gated_off", "gate script returned execute: false")
            return None
        return res.output

    def _start_queued(self, name: str) -> None:
        """Start the queued fire of `name`, if any, once nothing of it is running."""
        with transaction(self.conn):
            if store.running_count(self.conn, name):
                return
            queued = store.queued_run(self.conn, name)
            if queued is None:
                return
            store.update_flow_run(self.conn, queued["id"], state="running", reason=None,
                                  started_at=self.clock.now())
        flow = store.get_flow(self.conn, name)
        spec = normalize_spec(flow["spec"]) if flow else None
        if spec is None:
            self._finish(queued["id"], "skipped", "the flow was removed while this run was queued")
            return
        self._spawn(queued["id"], spec, store.parse_time(queued["fire_time"]), queued["trigger"])
