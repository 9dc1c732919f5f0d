"""A handoff outlives its server: kill -9 the cao-server mid-handoff, start a new one, and the
caller still gets the worker's answer (MCP tool, `cao agent handoff`, or by id)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from tests.conftest import wait_until, write_profile
from tests.integration.test_mcp import launch, run


def cao(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "cao.cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def in_background(fn, *args):
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("value", fn(*args)), daemon=True)
    thread.start()
    return thread, box


def worker_of(api, caller_id):
    for session in api.get("/sessions"):
        for t in api.get(f"/sessions/{session['name']}")["terminals"]:
            if t["parent_terminal_id"] == caller_id:
                return t["id"]
    return None


def test_mcp_handoff_survives_a_kill9_of_the_server_mid_turn(cao_env, server, api, profiles_dir):
    write_profile(profiles_dir, "sleepy", "cao.agents.builtin:sleeper")
    caller = launch(api, "sleepy")
    thread, box = in_background(run, cao_env, caller["id"], "handoff",
                                {"agent_profile": "sleepy", "message": "sleep 5 the answer",
                                 "timeout": 60})
    worker = wait_until(lambda: worker_of(api, caller["id"]), timeout=15, message="the worker")
    wait_until(lambda: api.get(f"/terminals/{worker}")["status"] == "processing", timeout=15)
    server.kill9()
    time.sleep(1)
    server.start()
    thread.join(60)
    assert not thread.is_alive(), "the MCP handoff never returned"
    is_error, text = box["value"]
    assert not is_error, text
    assert text == "the answer"
    # The new server closed the worker, as it does after any successful handoff.
    wait_until(lambda: api.get(f"/terminals/{worker}")["status"] == "exited", timeout=15)


def test_answer_given_while_the_server_was_down_is_kept(cao_env, server, api, profiles_dir):
    write_profile(profiles_dir, "sleepy", "cao.agents.builtin:sleeper")
    caller = launch(api, "sleepy")
    # `cao agent handoff` as an agent runs it from its own terminal (CAO_TERMINAL_ID set).
    thread, box = in_background(lambda: cao("agent", "handoff", "sleepy", "sleep 2 done while down",
                                            "--timeout", "60", env={"CAO_TERMINAL_ID": caller["id"]}))
    worker = wait_until(lambda: worker_of(api, caller["id"]), timeout=15, message="the worker")
    wait_until(lambda: api.get(f"/terminals/{worker}")["status"] == "processing", timeout=15)
    server.kill9()
    time.sleep(4)  # the worker answers with no server to see it
    server.start()
    thread.join(60)
    assert not thread.is_alive(), "cao agent handoff never returned"
    res = box["value"]
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "done while down"
    wait_until(lambda: api.get(f"/terminals/{worker}")["status"] == "exited", timeout=15)


def test_handoff_by_id_long_poll_and_handoff_result(cao_env, server, api, profiles_dir):
    write_profile(profiles_dir, "sleepy", "cao.agents.builtin:sleeper")
    caller = launch(api, "sleepy")
    record = api.post("/orchestration/handoff", {"caller_id": caller["id"], "agent_profile": "sleepy",
                                                 "message": "sleep 3 polled", "wait": False})
    assert record["id"].startswith("h-") and record["state"] == "running" and not record["done"]
    now = api.get(f"/orchestration/handoffs/{record['id']}", params={"wait": 0})
    assert now["done"] is False and now["terminal_id"] == record["terminal_id"]
    res = cao("agent", "handoff-result", record["id"])
    assert res.returncode == 3 and "still running" in res.stderr
    res = cao("agent", "handoff-result", record["id"], "--wait", "30")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "polled"
    done = api.get(f"/orchestration/handoffs/{record['id']}")
    assert done["ok"] and done["state"] == "succeeded" and done["output"] == "polled"
    res = cao("agent", "handoff-result", "h-0000000000")
    assert res.returncode != 0 and "no handoff 'h-0000000000'" in res.stderr


def test_worker_that_died_while_the_server_was_down_fails_the_handoff(cao_env, server, api,
                                                                       profiles_dir):
    write_profile(profiles_dir, "sleepy", "cao.agents.builtin:sleeper")
    caller = launch(api, "sleepy")
    record = api.post("/orchestration/handoff", {"caller_id": caller["id"], "agent_profile": "sleepy",
                                                 "message": "sleep 30 never", "wait": False})
    wait_until(lambda: api.get(f"/terminals/{record['terminal_id']}")["status"] == "processing",
               timeout=15)
    window = api.get(f"/terminals/{record['terminal_id']}")["window_id"]
    server.kill9()
    subprocess.run(["tmux", "-L", cao_env["CAO_TMUX_SOCKET"], "kill-window", "-t", window],
                   check=True)
    server.start()
    done = api.get(f"/orchestration/handoffs/{record['id']}", params={"wait": 30})
    assert done["done"] and not done["ok"]
    assert "exited while the cao-server was down" in done["error"]


def test_task_pasted_but_not_submitted_before_a_crash_is_submitted_once(cao_env, server, api,
                                                                        profiles_dir):
    """The server died between pasting the task and pressing Enter: the new server must
    press Enter, not paste the task a second time (the echo agent would answer it twice)."""
    from cao.store import handoffs
    from cao.store.db import connect

    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    caller = launch(api, "echoer")["id"]
    worker = api.post("/sessions", {"profile": "echoer"})["terminal"]
    wait_until(lambda: api.get(f"/terminals/{worker['id']}")["status"] == "idle", timeout=15)
    server.kill9()
    task = "the task, typed once"
    tmux = ["tmux", "-L", cao_env["CAO_TMUX_SOCKET"]]
    subprocess.run([*tmux, "set-buffer", "-b", "t", task], check=True)
    subprocess.run([*tmux, "paste-buffer", "-p", "-d", "-b", "t", "-t", worker["pane_id"]], check=True)
    wait_until(lambda: task in subprocess.run([*tmux, "capture-pane", "-p", "-t", worker["pane_id"]],
                                              capture_output=True, text=True).stdout,
               message="the pasted task on the worker's screen")
    db = connect(cao_env["home"] / "db" / "cao.sqlite3")
    record = handoffs.create(db, caller_id=caller, agent_profile="echoer", worker_id=worker["id"],
                             message=task, timeout=60, node_key=None)
    db.close()
    server.start()
    done = api.get(f"/orchestration/handoffs/{record['id']}", params={"wait": 30})
    assert done["done"] and done["ok"], done
    assert done["output"] == task


def test_mcp_call_made_while_the_server_restarts_waits_for_it(cao_env, server, api, profiles_dir):
    # A refused connection means nothing reached the server: the tool retries for a while.
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    caller = launch(api, "echoer")["id"]
    receiver = launch(api, "echoer")["id"]
    server.kill9()
    thread, box = in_background(run, cao_env, caller, "send_message",
                                {"receiver_id": receiver, "message": "sent during a restart"})
    time.sleep(2)
    server.start()
    thread.join(30)
    assert not thread.is_alive()
    is_error, text = box["value"]
    assert not is_error, text
    wait_until(lambda: any(m["state"] == "delivered" and "sent during a restart" in m["message"]
                           for m in api.get(f"/terminals/{receiver}/inbox")), timeout=15)
