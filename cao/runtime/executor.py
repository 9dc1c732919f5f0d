"""The workflow runtime: executes a compiled DAG over tmux terminals, durably.

One RunExecutor per active run, inside the server. Node state lives in SQLite (run_nodes
plus the run_events journal) and is written before it is acted on, so after a crash
`resume` re-runs only what had not finished, re-adopting the terminals of nodes that
were running. The executor never holds terminal output in memory beyond what templates
need: transcripts stay in their files.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from pathlib import Path
from typing import Any

from cao.runtime import nodes as node_kinds
from cao.runtime.profiles import find_profile
from cao.store import runs as runs_store
from cao.store import sessions as sessions_store

log = logging.getLogger(__name__)

DONE_STATES = {"succeeded", "skipped", "failed", "cancelled"}


class RunError(RuntimeError):
    pass


class RunExecutor:
    def __init__(self, services: Any, run: dict[str, Any], compiled: Any):
        self.services = services
        self.conn = services.conn
        self.run = run
        self.run_id = run["id"]
        self.compiled = compiled
        self.workflow = compiled.workflow
        self.options = run.get("options") or {}
        self.inputs = run.get("inputs") or {}
        self.session = run["session_name"]
        self.callbacks: dict[str, asyncio.Future] = {}
        self.running: dict[str, asyncio.Task] = {}  # node id -> task of that node
        self.cancelled = False
        self.finished = asyncio.Event()
        self._session_lock = asyncio.Lock()
        self._cleanups: set[asyncio.Task] = set()
        self._profiles: dict[str, Any] = {}

    # -- helpers used by node kinds ------------------------------------------------
    async def create_terminal(self, key: str, profile: Any, provider: str,
                              workdir: str | None) -> dict[str, Any]:
        terminals = self.services.terminals
        async with self._session_lock:  # the first terminal creates the tmux session
            if not await asyncio.to_thread(terminals.tmux.has_session, self.session):
                await asyncio.to_thread(terminals.tmux.new_session, self.session)
        term = await terminals.create(
            session_name=self.session, profile=profile, provider_name=provider,
            working_directory=workdir or self.options.get("working_directory"),
            run_id=self.run_id, node_id=key)
        runs_store.upsert_node(self.conn, self.run_id, key, "node.terminal", terminal_id=term["id"],
                               provider=provider)
        return term

    def expect_callback(self, key: str, fresh: bool = False) -> asyncio.Future:
        """The future an assign node's callback resolves; `fresh` for a new attempt."""
        fut = self.callbacks.get(key)
        if fut is None or fresh:
            fut = self.callbacks[key] = asyncio.get_running_loop().create_future()
        return fut

    async def on_callback(self, key: str, message: str, sender_id: str | None) -> None:
        runs_store.journal(self.conn, self.run_id, "node.callback", key, sender_id=sender_id)
        fut = self.callbacks.get(key)
        if fut is not None and not fut.done():
            fut.set_result(message)
        elif fut is None:
            node = runs_store.get_node(self.conn, self.run_id, key)
            if node and node["state"] == "running":
                self.expect_callback(key).set_result(message)

    # -- template variables ---------------------------------------------------------
    def variables(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        nodes: dict[str, Any] = {}
        rows = runs_store.list_nodes(self.conn, self.run_id)
        children: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row["parent_key"] and not row["dynamic"] and row["node_id"]:
                children.setdefault(row["node_id"], []).append(row)
        for row in rows:
            if row["dynamic"] or row["parent_key"]:
                continue
            # fan-out children are `id[i]`: order them by i
            kids = sorted(children.get(row["key"], []), key=lambda r: int(r["key"].split("[")[1][:-1]))
            outputs = [k["output"] or "" for k in kids]
            output = row["output"] if row["output"] is not None else "\n\n".join(outputs)
            nodes[row["key"]] = {"output": output or "", "outputs": outputs, "state": row["state"],
                                 "terminal_id": row["terminal_id"], "error": row["error"]}
        run_vars = {"id": self.run_id, "session": self.session,
                    "workflow_dir": str(Path(self.run["workflow_path"]).parent)}
        return {"inputs": self.inputs, "nodes": nodes, "run": run_vars, **(extra or {})}

    # -- the scheduler --------------------------------------------------------------
    async def execute(self) -> None:
        try:
            runs_store.update_run(self.conn, self.run_id, "run.started", state="running")
            await self._schedule()
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            log.exception("run %s crashed", self.run_id)
            await self._finish("failed", error=f"internal error: {exc}")
        finally:
            self.finished.set()

    async def _schedule(self) -> None:
        graph = self.compiled.graph
        order = self.compiled.topological_order()
        state = {row["key"]: row for row in runs_store.list_nodes(self.conn, self.run_id)
                 if not row["dynamic"] and not row["parent_key"]}
        for node_id in order:
            if node_id not in state:
                runs_store.upsert_node(self.conn, self.run_id, node_id, None, node_id=node_id,
                                       kind=graph.nodes[node_id]["kind"],
                                       profile=graph.nodes[node_id]["target"]
                                       if graph.nodes[node_id]["kind"] != "send_message" else None,
                                       state="pending")
        done: dict[str, str] = {k: r["state"] for k, r in state.items() if r["state"] in DONE_STATES}
        running: dict[str, asyncio.Task] = self.running
        failed_hard: str | None = None
        while True:
            if failed_hard is None and not self.cancelled:
                for node_id in order:
                    if node_id in done or node_id in running:
                        continue
                    preds = list(graph.predecessors(node_id))
                    if all(p in done for p in preds):
                        running[node_id] = asyncio.ensure_future(self._run_node(node_id, preds, done))
            if not running:
                break
            finished, _ = await asyncio.wait(running.values(), return_when=asyncio.FIRST_COMPLETED)
            for node_id, task in list(running.items()):
                if task in finished:
                    del running[node_id]
                    result = "cancelled" if task.cancelled() else task.result()
                    done[node_id] = result
                    spec = graph.nodes[node_id]["spec"]
                    if result == "failed" and not spec.continue_on_error and failed_hard is None:
                        failed_hard = node_id
                        for other in running.values():
                            other.cancel()
        if self.cancelled:
            return
        if failed_hard:
            node = runs_store.get_node(self.conn, self.run_id, failed_hard)
            await self._finish("failed", error=f"node {failed_hard!r} failed: {node['error']}")
            return
        output = ""
        if self.workflow.output:
            from cao.graph.templates import render_template

            try:
                output = render_template(self.workflow.output, self.variables())
            except Exception as exc:
                await self._finish("failed", error=f"rendering the workflow output failed: {exc}")
                return
        await self._finish("succeeded", output=output)

    async def _run_node(self, node_id: str, preds: list[str], done: dict[str, str]) -> str:
        from cao.graph.templates import evaluate_condition, evaluate_for_each

        spec = self.compiled.graph.nodes[node_id]["spec"]
        try:
            if preds and all(done[p] == "skipped" for p in preds):
                return self._skip(node_id, "every node it depends on was skipped")
            variables = self.variables()
            if not evaluate_condition(spec.when, variables):
                return self._skip(node_id, f"`when` is false: {spec.when}")
            if spec.for_each is None:
                return await self._attempts(node_id, node_id, spec, variables)
            items = evaluate_for_each(spec.for_each, variables)
            runs_store.upsert_node(self.conn, self.run_id, node_id, "node.started", state="running",
                                   started_at=time.time(), message=json.dumps(f"{len(items)} items"))
            limit = asyncio.Semaphore(spec.max_parallel or len(items) or 1)

            async def child(index: int, item: Any) -> str:
                key = f"{node_id}[{index}]"
                existing = runs_store.get_node(self.conn, self.run_id, key)
                if existing and existing["state"] in ("succeeded", "skipped"):
                    return existing["state"]
                loop_vars = {"index": index + 1, "index0": index, "first": index == 0,
                             "last": index == len(items) - 1, "length": len(items)}
                async with limit:
                    return await self._attempts(key, node_id, spec,
                                                self.variables({"item": item, "loop": loop_vars}),
                                                item=item)
            results = await asyncio.gather(*(child(i, it) for i, it in enumerate(items)))
            failed = [f"{node_id}[{i}]" for i, r in enumerate(results) if r == "failed"]
            state = "failed" if failed else "succeeded"
            error = f"{len(failed)} of {len(items)} items failed: {', '.join(failed)}" if failed else None
            runs_store.upsert_node(self.conn, self.run_id, node_id, f"node.{state}", state=state,
                                   error=error, finished_at=time.time())
            return state
        except asyncio.CancelledError:
            runs_store.upsert_node(self.conn, self.run_id, node_id, "node.cancelled", state="cancelled",
                                   finished_at=time.time())
            raise
        except Exception as exc:
            runs_store.upsert_node(self.conn, self.run_id, node_id, "node.failed", state="failed",
                                   error=str(exc), finished_at=time.time())
            return "failed"

    def _skip(self, node_id: str, reason: str) -> str:
        runs_store.upsert_node(self.conn, self.run_id, node_id, "node.skipped", state="skipped",
                               error=reason, output="", finished_at=time.time())
        return "skipped"

    async def _attempts(self, key: str, node_id: str, spec: Any, variables: dict[str, Any],
                        item: Any = None) -> str:
        from cao.graph.templates import render_template

        retries = self.workflow.effective_retries(spec)
        backoff = self.workflow.effective_retry_backoff(spec) or 1.0
        timeout = self.workflow.effective_timeout(spec)
        existing = runs_store.get_node(self.conn, self.run_id, key) or {}
        attempt = existing.get("attempt") or 0
        resume_terminal = existing.get("terminal_id") if existing.get("state") == "running" else None
        message = render_template(spec.prompt_template or "", variables)
        while True:
            if resume_terminal is None:
                attempt += 1
            runs_store.upsert_node(
                self.conn, self.run_id, key, "node.started", node_id=node_id, kind=spec.kind,
                profile=spec.target if spec.kind != "send_message" else None,
                parent_key=node_id if key != node_id else None, item=item, state="running",
                attempt=attempt, message=message, started_at=time.time(), error=None)
            try:
                output = await self._attempt(key, spec, message, timeout, resume_terminal)
            except node_kinds.NodeFailed as exc:
                error = str(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                runs_store.upsert_node(self.conn, self.run_id, key, "node.succeeded", state="succeeded",
                                       output=output, finished_at=time.time())
                await self._after_success(key, spec)
                return "succeeded"
            resume_terminal = None
            if attempt > retries:
                runs_store.upsert_node(self.conn, self.run_id, key, "node.failed", state="failed",
                                       error=error, finished_at=time.time())
                return "failed"
            delay = backoff * (2 ** (attempt - 1))
            runs_store.upsert_node(self.conn, self.run_id, key, "node.retrying", state="retrying",
                                   error=error)
            await self._retire_node_terminal(key, "retrying after failure")
            await asyncio.sleep(delay)

    async def _attempt(self, key: str, spec: Any, message: str, timeout: float | None,
                       resume_terminal: str | None) -> str:
        if spec.kind == "send_message":
            target = runs_store.get_node(self.conn, self.run_id, spec.target)
            terminal = target and target.get("terminal_id")
            if not terminal:
                raise node_kinds.NodeFailed(f"node {spec.target!r} has no terminal to send to")
            return await node_kinds.run_send_message(self, key, terminal, message, spec.reply, timeout)
        profile = self._profile(spec.target)
        provider = self.resolve_provider(spec, profile)
        workdir = spec.working_directory
        runner = node_kinds.run_handoff if spec.kind == "handoff" else node_kinds.run_assign
        return await runner(self, key, profile, provider, message, timeout, workdir, resume_terminal)

    def _profile(self, name: str) -> Any:
        """Profiles are read once per run: a 20-node chain need not parse them 20 times."""
        if name not in self._profiles:
            self._profiles[name] = find_profile(name, near=Path(self.run["workflow_path"]))
        return self._profiles[name]

    def resolve_provider(self, spec: Any, profile: Any) -> str:
        explicit = self.options.get("provider") or spec.provider
        inherited = self.workflow.defaults.provider
        if explicit:
            return explicit
        if getattr(profile, "provider", None):
            return profile.provider
        return self.services.delegation.resolve_provider(profile, inherited=inherited)

    async def _after_success(self, key: str, spec: Any) -> None:
        """A handoff's worker is done: close it unless a later node messages it."""
        if spec.kind != "handoff" or self._keep():
            return
        node_id = key.split("[")[0]
        targeted = any(d["spec"].kind == "send_message" and d["spec"].target == node_id
                       for _, d in self.compiled.graph.nodes(data=True))
        if not targeted:
            # In the background: the next node need not wait for this worker to exit.
            self._background(self._retire_node_terminal(key, "handoff finished"))

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def _retire_node_terminal(self, key: str, reason: str) -> None:
        node = runs_store.get_node(self.conn, self.run_id, key)
        if node and node.get("terminal_id"):
            try:
                await self.services.terminals.delete(node["terminal_id"], reason=reason)
            except Exception as exc:
                log.warning("could not close terminal %s: %s", node["terminal_id"], exc)

    def _keep(self) -> bool:
        return bool(self.options.get("keep") or self.workflow.keep_terminals)

    async def _finish(self, state: str, output: str | None = None, error: str | None = None) -> None:
        runs_store.update_run(self.conn, self.run_id, f"run.{state}", state=state, output=output,
                              error=error, finished_at=time.time())
        if not self._keep():
            await self.close_terminals(f"run {state}")

    async def close_terminals(self, reason: str) -> None:
        if self._cleanups:
            await asyncio.wait(list(self._cleanups), timeout=30)
        terminals = self.services.terminals
        for row in sessions_store.list_terminals(self.conn, run_id=self.run_id, alive_only=True):
            try:
                await terminals.delete(row["id"], reason=reason, graceful=False)
            except Exception as exc:
                log.warning("could not close terminal %s: %s", row["id"], exc)
        await asyncio.to_thread(terminals.tmux.kill_session, self.session)
        if sessions_store.get_session(self.conn, self.session):
            sessions_store.close_session(self.conn, self.session)

    async def cancel(self) -> None:
        self.cancelled = True
        task = self.services.extras["runs"].tasks.get(self.run_id)
        pending = [t for t in self.running.values() if not t.done()]
        for t in pending:
            t.cancel()
        if task:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=10)
        for row in runs_store.list_nodes(self.conn, self.run_id):
            if row["state"] in ("pending", "running", "retrying"):
                runs_store.upsert_node(self.conn, self.run_id, row["key"], "node.cancelled",
                                       state="cancelled", finished_at=time.time())
        runs_store.update_run(self.conn, self.run_id, "run.cancelled", state="cancelled",
                              finished_at=time.time())
        await self.close_terminals("run cancelled")


class RunService:
    """Starts, resumes and cancels runs inside the server."""

    def __init__(self, services: Any):
        self.services = services
        self.conn = services.conn
        self.executors: dict[str, RunExecutor] = {}
        self.tasks: dict[str, asyncio.Task] = {}

    def compile(self, workflow_path: str) -> Any:
        from cao.graph.compile import compile_workflow
        from cao.runtime.profiles import extra_profile_dirs

        compiled = compile_workflow(workflow_path, profile_dirs=extra_profile_dirs())
        if not compiled.ok:
            lines = [d.format_text() if hasattr(d, "format_text") else str(d) for d in compiled.errors]
            raise RunError("the workflow has errors:\n" + "\n".join(lines))
        return compiled

    async def start_run(self, workflow_path: str, inputs: dict[str, Any], *,
                        provider: str | None = None, keep: bool = False,
                        working_directory: str | None = None) -> dict[str, Any]:
        from cao.graph.compile import resolve_inputs
        from cao.spec.diagnostics import SpecError

        path = str(Path(workflow_path).resolve())
        compiled = self.compile(path)
        try:
            resolved = resolve_inputs(compiled.workflow, inputs)
        except SpecError as exc:
            raise RunError(str(exc)) from None
        if provider:
            from cao.providers.registry import is_known

            if not is_known(provider):
                raise RunError(f"unknown provider {provider!r}")
        if working_directory:
            from cao.terminals.policy import check_working_directory

            check_working_directory(working_directory)
        run_id = f"r-{secrets.token_hex(4)}"
        wf = compiled.workflow
        runs_store.create_run(
            self.conn, id=run_id, kind="workflow", name=wf.name, workflow_path=path,
            spec={"limits": wf.limits.model_dump(), "name": wf.name}, inputs=resolved,
            options={"provider": provider, "keep": keep, "working_directory": working_directory},
            state="pending", session_name=f"cao-run-{run_id[2:]}")
        sessions_store.create_session(self.conn, f"cao-run-{run_id[2:]}", run_id=run_id)
        self._launch(runs_store.get_run(self.conn, run_id), compiled)
        return runs_store.get_run(self.conn, run_id)

    def _launch(self, run: dict[str, Any], compiled: Any) -> None:
        ex = RunExecutor(self.services, run, compiled)
        self.executors[run["id"]] = ex
        task = asyncio.ensure_future(ex.execute())
        self.tasks[run["id"]] = task
        task.add_done_callback(lambda _t, rid=run["id"]: self.tasks.pop(rid, None))

    async def resume(self, run_id: str) -> dict[str, Any]:
        run = runs_store.get_run(self.conn, run_id)
        if run is None:
            raise LookupError(f"run {run_id!r} does not exist")
        if run["kind"] != "workflow":
            raise RunError(f"run {run_id} is a launched session, not a workflow run")
        if run_id in self.tasks:
            return run
        if run["state"] in ("succeeded", "cancelled"):
            raise RunError(f"run {run_id} already {run['state']}; nothing to resume")
        compiled = self.compile(run["workflow_path"])
        if run["state"] == "failed":
            # Resume a failed run: its failed nodes get a fresh set of attempts.
            for row in runs_store.list_nodes(self.conn, run_id):
                if row["state"] in ("failed", "cancelled", "retrying"):
                    runs_store.upsert_node(self.conn, run_id, row["key"], "node.reset", state="pending",
                                           attempt=0, error=None, terminal_id=None)
        runs_store.update_run(self.conn, run_id, "run.resumed", state="running", error=None,
                              finished_at=None)
        if not sessions_store.get_session(self.conn, run["session_name"]):
            sessions_store.create_session(self.conn, run["session_name"], run_id=run_id)
        self._launch(runs_store.get_run(self.conn, run_id), compiled)
        return runs_store.get_run(self.conn, run_id)

    async def cancel(self, run_id: str) -> dict[str, Any]:
        run = runs_store.get_run(self.conn, run_id)
        if run is None:
            raise LookupError(f"run {run_id!r} does not exist")
        ex = self.executors.get(run_id)
        if ex is None:
            compiled = self.compile(run["workflow_path"]) if run["kind"] == "workflow" else None
            ex = RunExecutor(self.services, run, compiled) if compiled else None
        if ex is None:
            raise RunError(f"run {run_id} is a session; stop it with `cao shutdown`")
        await ex.cancel()
        return runs_store.get_run(self.conn, run_id)

    async def on_virtual_message(self, receiver_id: str, message: str, sender_id: str | None) -> None:
        run_id, key = node_kinds.key_of_receiver(receiver_id)
        ex = self.executors.get(run_id)
        if ex is None:
            run = runs_store.get_run(self.conn, run_id)
            if run is not None and run["state"] in ("running", "pending"):
                # Not resumed yet: leave it queued; the inbox sweep brings it back.
                raise RunError(f"run {run_id} is not active yet")
            runs_store.journal(self.conn, run_id, "message.unclaimed", key, sender_id=sender_id)
            return
        await ex.on_callback(key, message, sender_id)

    async def start(self, services: Any) -> None:
        """On server start: pick up runs that were running when the server stopped."""
        for run in runs_store.runs_in_state(self.conn, "running", "pending"):
            if run["kind"] != "workflow":
                continue
            try:
                await self.resume(run["id"])
            except Exception as exc:
                runs_store.update_run(self.conn, run["id"], "run.failed", state="failed",
                                      error=f"could not resume after restart: {exc}",
                                      finished_at=time.time())


def attach_runtime(services: Any) -> None:
    runs = RunService(services)
    services.extras["runs"] = runs
    services.inbox.virtual["run:"] = runs.on_virtual_message
    services.extras.setdefault("starters", []).append(runs.start)
