"""Flows end to end: a real cao-server, real tmux, python agents, the `cao flow` CLI.

Schedules use a leading seconds field (`*/2 * * * * *`) so fires come every two seconds;
flows that should only fire by hand use a yearly schedule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import free_port, tmux_windows, wait_until, write_profile

EVERY_2S = "*/2 * * * * *"
YEARLY = "0 0 1 1 *"


def cao(*args, timeout=60, env=None):
    return subprocess.run([sys.executable, "-m", "cao.cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def ok(*args) -> str:
    res = cao(*args)
    assert res.returncode == 0, f"cao {' '.join(args)}: {res.stderr}"
    return res.stdout


def write_flow(folder: Path, name: str, frontmatter: str, body: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(f"---\nname: {name}\n{frontmatter.strip()}\n---\n{body}\n")
    return path


def write_gate(folder: Path, name: str, payload: dict) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho 'checking...'\necho '{json.dumps(payload)}'\n")
    path.chmod(0o755)
    return path


def history(api, name: str) -> list[dict]:
    return api.get(f"/flows/{name}/history", params={"limit": 200})


def finished(api, name: str, state: str = "succeeded", count: int = 1):
    return wait_until(lambda: [r for r in history(api, name) if r["state"] == state][count - 1:],
                      timeout=15, message=f"{count} {state} run(s) of flow {name}")


@pytest.fixture
def echo_agent(profiles_dir):
    write_profile(profiles_dir, "echo", "cao.agents.builtin:echo")


def test_scheduled_flow_answer_enable_disable_run_remove(cao_env, api, echo_agent):
    path = write_flow(cao_env["work"] / "flows", "tick", f'schedule: "{EVERY_2S}"\n'
                      "agent_profile: echo", "hello from tick")
    assert "scheduled flow tick (enabled)" in ok("flow", "add", str(path))

    run = finished(api, "tick")[0]
    assert run["trigger"] == "schedule" and run["answer"] == "hello from tick"
    assert run["session_name"].startswith("cao-flow-tick-") and run["terminal_id"]
    # The session is shut down after the answer; its transcript stays readable.
    out = api.get(f"/terminals/{run['terminal_id']}/output")["output"]
    assert "hello from tick" in out
    wait_until(lambda: not any(w.startswith(run["session_name"])
                               for w in tmux_windows(cao_env["CAO_TMUX_SOCKET"])),
               message="the flow's tmux session to close")

    listed = json.loads(ok("flow", "list", "--json"))
    assert [(f["name"], f["enabled"], f["schedule"], f["last_state"] is not None)
            for f in listed] == [("tick", True, EVERY_2S, True)]
    assert "agent:echo" in ok("flow", "list")
    table = ok("flow", "history", "tick")
    assert "schedule" in table and run["session_name"] in table

    ok("flow", "disable", "tick")
    seen = len(history(api, "tick"))
    wait_until(lambda: all(r["state"] not in ("running", "queued") for r in history(api, "tick")))
    subprocess.run(["sleep", "2.5"])
    assert len(history(api, "tick")) <= seen + 1  # at most a fire already in flight
    settled = len(history(api, "tick"))

    # A manual run ignores the schedule and the enabled flag.
    res = cao("flow", "run", "tick", "--wait")
    assert res.returncode == 0, res.stderr
    run_id, answer = res.stdout.strip().splitlines()
    assert answer == "hello from tick"
    manual = api.get(f"/flows/tick/runs/{run_id}")
    assert manual["trigger"] == "manual" and manual["state"] == "succeeded"
    assert len(history(api, "tick")) == settled + 1

    ok("flow", "enable", "tick")
    finished(api, "tick", count=len([r for r in history(api, "tick")
                                     if r["state"] == "succeeded"]) + 1)

    assert ok("flow", "remove", "tick").strip() == "removed tick"
    assert api.get("/flows") == []
    res = cao("flow", "history", "tick")
    assert res.returncode == 1 and "no flow named 'tick'" in res.stderr


def test_gates_fill_placeholders_or_turn_the_run_off(cao_env, api, echo_agent):
    folder = cao_env["work"] / "flows"
    folder.mkdir()
    write_gate(folder, "no.sh", {"execute": False})
    write_gate(folder, "yes.sh", {"execute": True,
                                  "output": {"url": "https://shop.test", "status_code": 503}})
    body = "[[url]] answered [[status_code]]. Find out why."
    for name, gate in (("gated-no", "./no.sh"), ("gated-yes", "./yes.sh")):
        ok("flow", "add", str(write_flow(folder, name, f'schedule: "{YEARLY}"\n'
                                         f"agent_profile: echo\nscript: {gate}", body)))

    res = cao("flow", "run", "gated-no", "--wait")
    assert res.returncode == 0 and "gated_off" in res.stderr
    off = history(api, "gated-no")[0]
    assert off["state"] == "gated_off" and off["gate_output"]["execute"] is False
    assert off["session_name"] is None  # no agent was started

    res = cao("flow", "run", "gated-yes", "--wait")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "https://shop.test answered 503. Find out why."
    gate = history(api, "gated-yes")[0]["gate_output"]
    assert gate["output"] == {"url": "https://shop.test", "status_code": 503}
    assert '"status_code":503' in ok("flow", "history", "gated-yes")


def test_add_reports_file_and_line_of_errors(cao_env, api):
    bad = write_flow(cao_env["work"], "bad", 'shedule: "0 9 * * *"\nagent_profile: echo')
    res = cao("flow", "add", str(bad))
    assert res.returncode == 1
    assert f"{bad}:3" in res.stderr and "did you mean 'schedule'" in res.stderr
    unknown = write_flow(cao_env["work"], "ghost", f'schedule: "{YEARLY}"\nagent_profile: ghost')
    res = cao("flow", "add", str(unknown))
    assert res.returncode == 1 and "unknown agent profile 'ghost'" in res.stderr
    res = cao("flow", "add", str(cao_env["work"] / "missing.md"))
    assert res.returncode == 1 and "does not exist" in res.stderr
    res = cao("flow", "run", "nope")
    assert res.returncode == 1 and "no flow named 'nope'" in res.stderr


def test_workflow_flow_runs_the_workflow_with_inputs(cao_env, api):
    folder = cao_env["work"] / "nightly"
    (folder / "profiles").mkdir(parents=True)
    write_profile(folder / "profiles", "shouter", "cao.agents.builtin:echo")
    (folder / "wf.md").write_text(
        "---\nname: tiny\ninputs:\n  word: {type: string, default: none}\n"
        "nodes:\n  say: {handoff: shouter, prompt: \"word={{ inputs.word }}\"}\n"
        "output: \"out:{{ nodes.say.output }}\"\n---\n")
    write_gate(folder, "gate.sh", {"execute": True, "output": {"w": "nightly"}})
    path = write_flow(folder, "wf-flow", f'schedule: "{YEARLY}"\nworkflow: ./wf.md\n'
                      "script: ./gate.sh\ninputs:\n  word: \"[[w]]\"")
    ok("flow", "add", str(path))
    res = cao("flow", "run", "wf-flow", "--wait")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "out:word=nightly"
    run = history(api, "wf-flow")[0]
    assert run["run_id"].startswith("r-") and run["answer"] == "out:word=nightly"
    assert api.get(f"/runs/{run['run_id']}")["state"] == "succeeded"


def test_restart_after_kill9_never_fires_twice(cao_env, server, api, echo_agent):
    path = write_flow(cao_env["work"] / "flows", "steady", f'schedule: "{EVERY_2S}"\n'
                      "agent_profile: echo", "tick tock")
    ok("flow", "add", str(path))
    finished(api, "steady")
    server.kill9()
    subprocess.run(["sleep", "4.5"])  # at least two fire times pass while the server is down
    server.start()
    before = {r["id"] for r in history(api, "steady")}
    wait_until(lambda: [r for r in history(api, "steady")
                        if r["id"] not in before and r["state"] == "succeeded"],
               timeout=15, message="a fire after the restart")
    runs = history(api, "steady")
    fired = Counter(r["fire_time"] for r in runs if r["trigger"] != "manual")
    assert max(fired.values()) == 1, fired
    states = Counter(r["state"] for r in runs)
    # Fire times missed while the server was down are recorded with a reason (within the
    # 60 s grace only the latest one runs), never silently dropped.
    assert states["skipped"] >= 1, runs
    assert all(r["reason"] for r in runs if r["state"] == "skipped")
    for r in runs:
        if r["state"] == "failed":
            assert r["reason"].startswith("interrupted"), r
    # Sessions of runs cut off by the kill are closed by the next server.
    alive = [s["name"] for s in api.get("/sessions")]
    running = {r["session_name"] for r in history(api, "steady") if r["state"] == "running"}
    assert set(alive) <= running


def test_workflow_run_of_a_flow_survives_a_kill9_and_its_outcome_is_recorded(cao_env, server,
                                                                             api):
    folder = cao_env["work"] / "slow"
    (folder / "profiles").mkdir(parents=True)
    write_profile(folder / "profiles", "slowpoke", "cao.agents.builtin:sleeper")
    (folder / "wf.md").write_text(
        "---\nname: slow\nnodes:\n  nap: {handoff: slowpoke, prompt: \"sleep 4 rested\"}\n"
        "output: \"done:{{ nodes.nap.output }}\"\n---\n")
    path = write_flow(folder, "slow-flow", f'schedule: "{YEARLY}"\nworkflow: ./wf.md')
    ok("flow", "add", str(path))
    ok("flow", "run", "slow-flow")
    row = wait_until(lambda: next((r for r in history(api, "slow-flow") if r["run_id"]), None),
                     message="the flow's workflow run")
    wait_until(lambda: any(n["state"] == "running" and n["terminal_id"]
                           for n in api.get(f"/runs/{row['run_id']}")["nodes"]),
               message="the workflow's node running in its terminal")
    server.kill9()
    server.start()
    # The runtime resumes the workflow run and the scheduler follows it to its end: the
    # flow's history says what the run did, not "interrupted".
    done = wait_until(lambda: next((r for r in history(api, "slow-flow")
                                    if r["state"] != "running"), None),
                      timeout=30, message="the flow run's outcome")
    assert (done["state"], done["answer"], done["run_id"]) == \
        ("succeeded", "done:rested", row["run_id"])
    assert api.get(f"/runs/{row['run_id']}")["state"] == "succeeded"


def test_cli_says_flows_need_a_running_server(cao_env):
    url = f"http://127.0.0.1:{free_port()}"
    res = cao("flow", "list", env={"CAO_SERVER_URL": url})
    assert res.returncode == 1
    assert "Flows run inside the cao-server" in res.stderr and "`cao-server`" in res.stderr
    assert cao("flow", "add", "x.md", env={"CAO_SERVER_URL": url}).returncode == 1
