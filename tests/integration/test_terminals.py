"""Terminals through a real cao-server, real tmux and python agents."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from tests.conftest import processes_with_env, tmux_windows, wait_until, write_profile

HOSTILE = ("quotes ' \" and $(touch /tmp/cao-pwned) `id` ${HOME} ; rm -rf nothing \\ backslash\n"
           "second line\r\nthird line after CRLF\n\tindented ünïcødé 🎉 \x1b[31mnot red\x1b[0m\n"
           + "long " * 2500)


def launch(api, profile, **extra):
    return api.post("/sessions", {"profile": profile, **extra})


def terminal_status(api, tid):
    return api.get(f"/terminals/{tid}")["status"]


def test_launch_reaches_idle_and_answers(api, profiles_dir):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    created = launch(api, "echoer")
    tid = created["terminal"]["id"]
    assert created["session_name"].startswith("cao-")
    wait_until(lambda: terminal_status(api, tid) == "idle", message="idle")
    result = api.post(f"/terminals/{tid}/input", {"message": "hello there", "wait": True, "timeout": 20})
    assert result == {"terminal_id": tid, "status": "completed", "output": "hello there", "error": None}
    assert api.get(f"/terminals/{tid}/output", params={"mode": "last"})["output"] == "hello there"
    assert "hello there" in api.get(f"/terminals/{tid}/output", params={"mode": "full"})["output"]


def test_hostile_input_arrives_exactly_and_runs_nothing(api, profiles_dir, cao_env, tmp_path):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    tid = launch(api, "echoer")["terminal"]["id"]
    result = api.post(f"/terminals/{tid}/input", {"message": HOSTILE, "wait": True, "timeout": 30})
    assert result["status"] == "completed"
    assert result["output"] == HOSTILE
    assert not (tmp_path.parent / "cao-pwned").exists()
    import os
    assert not os.path.exists("/tmp/cao-pwned")


def test_status_transitions_processing_then_completed(api, profiles_dir):
    write_profile(profiles_dir, "slowpoke", "testagents:slow")
    tid = launch(api, "slowpoke")["terminal"]["id"]
    wait_until(lambda: terminal_status(api, tid) == "idle", message="idle")
    api.post(f"/terminals/{tid}/input", {"message": "1.5 done"})
    seen = wait_until(lambda: terminal_status(api, tid) == "processing", timeout=2, message="processing")
    assert seen
    wait_until(lambda: terminal_status(api, tid) == "completed", timeout=10, message="completed")
    assert api.get(f"/terminals/{tid}/output", params={"mode": "last"})["output"] == "done"


def test_error_and_waiting_user_answer_statuses(api, profiles_dir):
    write_profile(profiles_dir, "boomer", "testagents:boom")
    write_profile(profiles_dir, "asker", "testagents:ask")
    boom = launch(api, "boomer")["terminal"]["id"]
    res = api.post(f"/terminals/{boom}/input", {"message": "x", "wait": True, "timeout": 20})
    assert res["status"] == "error" and "boom: x" in res["error"]
    asker = launch(api, "asker")["terminal"]["id"]
    res = api.post(f"/terminals/{asker}/input", {"message": "deploy", "wait": True, "timeout": 20})
    assert res["status"] == "waiting_user_answer"
    assert "Proceed with deploy?" in api.get(f"/terminals/{asker}/screen")["screen"]


def test_inbox_waits_for_busy_receiver_and_keeps_order(api, profiles_dir, cao_env, tmp_path, server):
    record = tmp_path / "record.jsonl"
    server.stop()
    server.env["RECORD_FILE"] = str(record)
    server.start()
    write_profile(profiles_dir, "recorder", "testagents:record")
    tid = launch(api, "recorder")["terminal"]["id"]
    wait_until(lambda: terminal_status(api, tid) == "idle", message="idle")
    api.post(f"/terminals/{tid}/input", {"message": "sleep 1.5"})
    wait_until(lambda: terminal_status(api, tid) == "processing", message="busy")
    for i in range(5):
        api.post(f"/terminals/{tid}/inbox", {"message": f"msg {i}", "sender_id": "sender1"})
    # the receiver is busy: nothing may be delivered yet
    time.sleep(0.5)
    states = [m["state"] for m in api.get(f"/terminals/{tid}/inbox")]
    assert states == ["pending"] * 5
    wait_until(lambda: all(m["state"] == "delivered" for m in api.get(f"/terminals/{tid}/inbox")),
               timeout=20, message="all delivered")
    wait_until(lambda: record.exists() and len(record.read_text().splitlines()) == 6, timeout=10)
    lines = [json.loads(l) for l in record.read_text().splitlines()]
    assert [l["message"] for l in lines] == ["sleep 1.5"] + [f"msg {i}" for i in range(5)]
    assert all(l["sender"] == "sender1" for l in lines[1:])


def test_inbox_exactly_once_across_kill9(api, profiles_dir, cao_env, tmp_path, server):
    record = tmp_path / "record.jsonl"
    server.stop()
    server.env["RECORD_FILE"] = str(record)
    server.start()
    write_profile(profiles_dir, "recorder", "testagents:record")
    tid = launch(api, "recorder")["terminal"]["id"]
    wait_until(lambda: terminal_status(api, tid) == "idle", message="idle")
    # Each message keeps the receiver busy a little, so the crash lands mid-queue.
    for i in range(6):
        api.post(f"/terminals/{tid}/inbox", {"message": f"sleep 0.3 n{i}", "sender_id": "s"})
    wait_until(lambda: record.exists() and len(record.read_text().splitlines()) >= 2, timeout=10)
    server.kill9()
    server.start()
    wait_until(lambda: all(m["state"] == "delivered" for m in api.get(f"/terminals/{tid}/inbox")),
               timeout=30, message="all delivered after restart")
    wait_until(lambda: len(record.read_text().splitlines()) == 6, timeout=10, message="6 records")
    time.sleep(1.0)  # a duplicate would show up now
    got = [json.loads(l)["message"] for l in record.read_text().splitlines()]
    assert got == [f"sleep 0.3 n{i}" for i in range(6)]


def test_restart_readopts_live_terminals_and_explains_dead_ones(api, profiles_dir, cao_env, server):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    alive = launch(api, "echoer")["terminal"]
    doomed = launch(api, "echoer")["terminal"]
    wait_until(lambda: terminal_status(api, doomed["id"]) == "idle")
    server.kill9()
    subprocess.run(["tmux", "-L", cao_env["CAO_TMUX_SOCKET"], "kill-window", "-t", doomed["pane_id"]],
                   check=True)
    server.start()
    gone = api.get(f"/terminals/{doomed['id']}")
    assert gone["status"] == "exited" and "window gone" in gone["exit_reason"]
    res = api.post(f"/terminals/{alive['id']}/input", {"message": "still here", "wait": True, "timeout": 20})
    assert res["output"] == "still here"


def test_shutdown_leaves_no_window_or_process(api, profiles_dir, cao_env):
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    created = launch(api, "echoer")
    tid = created["terminal"]["id"]
    wait_until(lambda: terminal_status(api, tid) == "idle")
    assert processes_with_env("CAO_TERMINAL_ID", tid)
    api.delete(f"/sessions/{created['session_name']}")
    assert not any(w.startswith(created["session_name"]) for w in tmux_windows(cao_env["CAO_TMUX_SOCKET"]))
    wait_until(lambda: not processes_with_env("CAO_TERMINAL_ID", tid), timeout=5, message="no processes")
    assert api.get(f"/terminals/{tid}")["status"] == "exited"


def test_every_terminal_gets_a_unique_terminal_id(api, profiles_dir):
    write_profile(profiles_dir, "envdump", "testagents:env_id")
    ids = set()
    for _ in range(3):
        tid = launch(api, "envdump")["terminal"]["id"]
        res = api.post(f"/terminals/{tid}/input", {"message": "who", "wait": True, "timeout": 20})
        assert res["output"] == tid
        ids.add(tid)
    assert len(ids) == 3


def test_security_host_origin_and_working_directory(server, api, profiles_dir):
    r = httpx.get(f"{server.url}/health", headers={"Host": "evil.example.com"})
    assert r.status_code == 400
    r = httpx.post(f"{server.url}/sessions", json={"profile": "x"},
                   headers={"Origin": "http://evil.example.com"})
    assert r.status_code == 403
    write_profile(profiles_dir, "echoer", "cao.agents.builtin:echo")
    for bad in ("/etc", "/proc/self", "/usr/bin", "/"):
        r = httpx.post(f"{server.url}/sessions", json={"profile": "echoer", "working_directory": bad})
        assert r.status_code == 400, bad
        assert "blocked system directory" in r.json()["detail"]
    r = httpx.post(f"{server.url}/sessions", json={"profile": "echoer", "session_name": "bad name;rm"})
    assert r.status_code == 400 and "invalid session name" in r.json()["detail"]


def test_unknown_profile_is_a_clear_404(api):
    from cao.client import ApiError

    with pytest.raises(ApiError) as err:
        launch(api, "no_such_profile")
    assert err.value.status == 404 and "unknown agent profile 'no_such_profile'" in err.value.detail


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_server_stops_at_once_on_a_signal(cao_env, sig):
    # The server's main loop ticks once a second (idle CPU); a signal must still stop it
    # at once, cleanly, with the HTTP Date header kept fresh meanwhile.
    import signal

    from tests.conftest import ServerProcess

    srv = ServerProcess(cao_env).start()
    try:
        first = httpx.get(f"{srv.url}/health").headers["date"]
        time.sleep(1.6)
        assert httpx.get(f"{srv.url}/health").headers["date"] != first
        started = time.monotonic()
        srv.proc.send_signal(getattr(signal, sig))
        srv.proc.wait(10)
        assert time.monotonic() - started < 0.9, "the stop waited for a tick"
        # After a clean shutdown uvicorn re-raises the signal it caught, as the exit status.
        assert srv.proc.returncode in (0, -getattr(signal, sig), 130)
        log = (cao_env["home"].parent / "server.log").read_text()
        assert "Traceback" not in log, log
    finally:
        srv.stop()
