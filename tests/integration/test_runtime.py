"""`cao run` and the workflow runtime with python agents in real tmux."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import processes_with_env, tmux_windows, wait_until, write_profile

AGENTS = {
    "timed": "testagents:timed", "slow": "testagents:slow", "flaky": "testagents:flaky",
    "boom": "testagents:boom", "echo": "cao.agents.builtin:echo",
}


def make_workflow(dirpath: Path, frontmatter: str, body: str = "", name: str = "wf.md") -> Path:
    profiles = dirpath / "profiles"
    profiles.mkdir(exist_ok=True)
    for profile, entry in AGENTS.items():
        write_profile(profiles, profile, entry)
    path = dirpath / name
    path.write_text(f"---\n{frontmatter.strip()}\n---\n{body}")
    return path


def cao(*args, timeout=120, env=None):
    return subprocess.run([sys.executable, "-m", "cao.cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def records(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def recorded(cao_env, server):
    """A server whose agents append their timings to a record file."""
    record = Path(cao_env["tmp"]) / "record.jsonl"
    server.stop()
    server.env["RECORD_FILE"] = str(record)
    server.start()
    return record


def test_order_parallelism_and_outputs(cao_env, recorded):
    wf = make_workflow(cao_env["work"], """
name: diamond
nodes:
  a: {handoff: timed, prompt: "sleep 1.2 alpha"}
  b: {handoff: timed, prompt: "sleep 1.2 beta"}
  c: {handoff: timed, needs: [a, b], prompt: "{{ nodes.a.output }}+{{ nodes.b.output }}"}
output: "result={{ nodes.c.output }}"
""")
    res = cao("run", str(wf))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "result=alpha+beta"
    recs = {r["message"]: r for r in records(recorded)}
    a, b, c = recs["sleep 1.2 alpha"], recs["sleep 1.2 beta"], recs["alpha+beta"]
    assert a["start"] < b["end"] and b["start"] < a["end"], "a and b must overlap"
    assert c["start"] >= max(a["end"], b["end"])


def test_when_skips_node_and_its_only_dependents(cao_env, recorded):
    wf = make_workflow(cao_env["work"], """
name: conditional
inputs:
  mode: {type: string, default: quick}
nodes:
  full: {handoff: timed, when: "inputs.mode == 'full'", prompt: "full run"}
  after_full: {handoff: timed, needs: [full], prompt: "after full"}
  always: {handoff: timed, prompt: "always"}
output: "{{ nodes.always.output }}|{{ nodes.full.output }}"
""")
    res = cao("run", str(wf), "--json")
    assert res.returncode == 0, res.stderr
    run = json.loads(res.stdout)
    states = {n["key"]: n["state"] for n in run["nodes"]}
    assert states == {"full": "skipped", "after_full": "skipped", "always": "succeeded"}
    assert run["output"] == "always|"
    assert [r["message"] for r in records(recorded)] == ["always"]
    res = cao("run", str(wf), "--input", "mode=full", "--json")
    assert {n["key"]: n["state"] for n in json.loads(res.stdout)["nodes"]} == {
        "full": "succeeded", "after_full": "succeeded", "always": "succeeded"}


def test_for_each_50_items_with_max_parallel(cao_env, recorded):
    wf = make_workflow(cao_env["work"], """
name: fan
nodes:
  each:
    handoff: timed
    for_each: "{{ range(50) | list }}"
    max_parallel: 5
    prompt: "sleep 0.2 item-{{ item }}-{{ loop.index }}"
output: "{{ nodes.each.outputs | join(',') }}"
""")
    res = cao("run", str(wf), timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ",".join(f"item-{i}-{i + 1}" for i in range(50))
    recs = records(recorded)
    assert len(recs) == 50
    events = sorted([(r["start"], 1) for r in recs] + [(r["end"], -1) for r in recs])
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    assert 1 < peak <= 5


def test_retries_then_success_and_exhausted_retries(cao_env, server):
    counter = cao_env["tmp"] / "count1"
    counter2 = cao_env["tmp"] / "count2"
    wf = make_workflow(cao_env["work"], f"""
name: retry
nodes:
  shaky: {{handoff: flaky, retries: 2, retry_backoff: 0.1s, prompt: "2 {counter} made it"}}
output: "{{{{ nodes.shaky.output }}}}"
""")
    res = cao("run", str(wf), "--json")
    run = json.loads(res.stdout)
    assert res.returncode == 0 and run["output"] == "made it"
    assert run["nodes"][0]["attempt"] == 3
    wf2 = make_workflow(cao_env["work"], f"""
name: retry2
nodes:
  shaky: {{handoff: flaky, retries: 1, retry_backoff: 0.1s, prompt: "5 {counter2} never"}}
""", name="wf2.md")
    res = cao("run", str(wf2))
    assert res.returncode == 1
    assert "node 'shaky' failed" in res.stderr and "flaky failure 2" in res.stderr


def test_timeout_fails_the_run_and_continue_on_error_does_not(cao_env, server):
    wf = make_workflow(cao_env["work"], """
name: timeouts
nodes:
  stuck: {handoff: slow, timeout: 1s, prompt: "30 never"}
  next: {handoff: echo, needs: [stuck], prompt: "unreachable"}
""")
    started = time.monotonic()
    res = cao("run", str(wf), "--json")
    assert res.returncode == 1
    run = json.loads(res.stdout)
    assert run["state"] == "failed" and "timed out after 1s" in run["error"]
    assert {n["key"]: n["state"] for n in run["nodes"]}["next"] == "pending"
    assert time.monotonic() - started < 20
    wf2 = make_workflow(cao_env["work"], """
name: tolerant
nodes:
  bad: {handoff: boom, continue_on_error: true, prompt: "x"}
  good: {handoff: echo, needs: [bad], prompt: "carried on ({{ nodes.bad.state }})"}
output: "{{ nodes.good.output }}"
""", name="wf2.md")
    res = cao("run", str(wf2))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "carried on (failed)"


def test_assign_worker_stays_for_send_message_with_reply(cao_env, server):
    wf = make_workflow(cao_env["work"], """
name: conversation
nodes:
  worker: {assign: echo, prompt: "first task"}
  follow_up: {send_message: worker, needs: [worker], reply: true, prompt: "second: {{ nodes.worker.output }}"}
  notify: {send_message: worker, needs: [follow_up], prompt: "fire and forget"}
output: "{{ nodes.worker.output }} / {{ nodes.follow_up.output }}"
""")
    res = cao("run", str(wf), "--json")
    assert res.returncode == 0, res.stderr
    run = json.loads(res.stdout)
    assert run["output"] == "first task / second: first task"
    assert {n["key"]: n["state"] for n in run["nodes"] if not n["dynamic"]} == {
        "worker": "succeeded", "follow_up": "succeeded", "notify": "succeeded"}


def test_validation_errors_refuse_to_start_with_exit_2(cao_env, server):
    wf = make_workflow(cao_env["work"], """
name: broken
nodes:
  a: {handoff: echo, needs: [missing], prompt: "x"}
""")
    res = cao("run", str(wf))
    assert res.returncode == 2
    assert "unknown node 'missing'" in res.stderr
    assert cao("runs", "--json").stdout.strip() == "[]"
    res = cao("run", str(wf.parent / "nope.md"))
    assert res.returncode == 2 and "no such file" in res.stderr


def test_cancel_stops_terminals_and_marks_cancelled(cao_env, server, api):
    wf = make_workflow(cao_env["work"], """
name: long
nodes:
  a: {handoff: slow, prompt: "60 x"}
  b: {handoff: slow, prompt: "60 y"}
""")
    run_id = cao("run", str(wf), "--detach").stdout.strip()
    wait_until(lambda: sum(1 for n in api.get(f"/runs/{run_id}")["nodes"] if n["terminal_id"]) == 2,
               timeout=20, message="both terminals")
    terms = [n["terminal_id"] for n in api.get(f"/runs/{run_id}")["nodes"]]
    res = cao("cancel", run_id)
    assert res.returncode == 0 and "cancelled" in res.stdout
    run = api.get(f"/runs/{run_id}")
    assert run["state"] == "cancelled"
    assert all(n["state"] == "cancelled" for n in run["nodes"])
    assert not [w for w in tmux_windows(cao_env["CAO_TMUX_SOCKET"]) if run_id[2:] in w]
    for t in terms:
        wait_until(lambda: not processes_with_env("CAO_TERMINAL_ID", t), timeout=5)


def test_run_leaves_nothing_behind_unless_kept(cao_env, server, api):
    wf = make_workflow(cao_env["work"], """
name: tidy
nodes:
  a: {assign: echo, prompt: "one"}
  b: {handoff: echo, needs: [a], prompt: "two"}
""")
    run = json.loads(cao("run", str(wf), "--json").stdout)
    terms = [n["terminal_id"] for n in run["nodes"] if n["terminal_id"]]
    assert len(terms) == 2
    for t in terms:
        assert api.get(f"/terminals/{t}")["status"] == "exited"
        assert not processes_with_env("CAO_TERMINAL_ID", t)
    assert not tmux_windows(cao_env["CAO_TMUX_SOCKET"])
    kept = json.loads(cao("run", str(wf), "--json", "--keep").stdout)
    alive = [n["terminal_id"] for n in kept["nodes"] if n["terminal_id"]]
    assert all(api.get(f"/terminals/{t}")["status"] != "exited" for t in alive)
    res = cao("logs", kept["id"], "b")
    assert res.returncode == 0 and "two" in res.stdout


def test_status_events_and_runs_listing(cao_env, server):
    wf = make_workflow(cao_env["work"], """
name: listed
nodes:
  a: {handoff: echo, prompt: "hello"}
""")
    run_id = json.loads(cao("run", str(wf), "--json").stdout)["id"]
    res = cao("status", run_id, "--events")
    assert res.returncode == 0
    for event in ("run.created", "node.started", "node.terminal", "node.succeeded", "run.succeeded"):
        assert event in res.stdout
    assert run_id in cao("runs").stdout
    res = cao("status", "r-nope")
    assert res.returncode == 1 and "does not exist" in res.stderr


def test_crash_mid_run_and_resume_runs_completed_nodes_once(cao_env, recorded, server, api):
    wf = make_workflow(cao_env["work"], """
name: durable
nodes:
  first: {handoff: timed, prompt: "sleep 0.2 one"}
  left: {handoff: timed, needs: [first], prompt: "sleep 5 two"}
  right: {assign: timed, needs: [first], prompt: "sleep 5 three"}
  last: {handoff: timed, needs: [left, right], prompt: "{{ nodes.left.output }}-{{ nodes.right.output }}"}
output: "{{ nodes.first.output }}:{{ nodes.last.output }}"
""")
    run_id = cao("run", str(wf), "--detach").stdout.strip()

    def mid_run():
        nodes = {n["key"]: n for n in api.get(f"/runs/{run_id}")["nodes"]}
        return (nodes["first"]["state"] == "succeeded" and nodes["left"]["state"] == "running"
                and nodes["right"]["state"] == "running" and nodes["left"]["terminal_id"]
                and nodes["right"]["terminal_id"])
    wait_until(mid_run, timeout=30, message="mid-run")
    time.sleep(0.5)  # both workers have their tasks
    server.kill9()
    server.start()  # a restarted server resumes running runs by itself
    run = wait_until(lambda: (r := api.get(f"/runs/{run_id}"))["state"] in ("succeeded", "failed") and r,
                     timeout=60, message="run to finish after restart")
    assert run["state"] == "succeeded", run["error"]
    assert run["output"] == "one:two-three"
    msgs = [r["message"] for r in records(recorded)]
    assert sorted(msgs) == sorted(["sleep 0.2 one", "sleep 5 two", "sleep 5 three", "two-three"])
    events = [e["type"] for e in api.get(f"/runs/{run_id}/events")]
    assert "run.resumed" in events


def test_explicit_resume_of_a_failed_run(cao_env, server, api):
    counter = cao_env["tmp"] / "c"
    wf = make_workflow(cao_env["work"], f"""
name: fixable
nodes:
  ok: {{handoff: echo, prompt: "fine"}}
  shaky: {{handoff: flaky, needs: [ok], prompt: "1 {counter} recovered"}}
output: "{{{{ nodes.ok.output }}}}/{{{{ nodes.shaky.output }}}}"
""")
    res = cao("run", str(wf), "--json")
    run = json.loads(res.stdout)
    assert res.returncode == 1
    res = cao("resume", run["id"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "fine/recovered"
    nodes = {n["key"]: n for n in api.get(f"/runs/{run['id']}")["nodes"]}
    assert nodes["ok"]["attempt"] == 1  # not re-run


def test_delegation_limits_refuse_with_readable_error(cao_env, server):
    wf = make_workflow(cao_env["work"], """
name: limited
limits: {max_fanout: 1, allowed_profiles: [worker]}
nodes:
  boss: {handoff: boss, prompt: "job"}
output: "{{ nodes.boss.output }}"
""")
    profiles = cao_env["work"] / "profiles"
    write_profile(profiles, "boss", "testagents:fanout_delegator")
    write_profile(profiles, "worker", "cao.agents.builtin:echo")
    res = cao("run", str(wf))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().split("\n")
    assert lines[0].startswith("Assigned to worker")
    assert lines[1].startswith("REFUSED") and "fan-out limit reached (max_fanout 1)" in lines[1]
