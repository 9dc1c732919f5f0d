"""The seed scenario with python agents: a supervisor delegating through cao-mcp-server."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import wait_until

DATASETS = "Analyze these datasets: A: [1, 2, 3, 4, 5], B: [10, 20, 30, 40, 50], C: [5, 15, 25, 35, 45]"


def test_supervisor_assigns_hands_off_and_reports(cao_env, api, server):
    out = subprocess.run(
        [sys.executable, "-m", "cao.cli.main", "launch", "--agents", "analysis_supervisor", "--headless",
         "--session-name", "seed", DATASETS],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Assigned 3 analyses" in out.stdout
    session = api.get("/sessions/cao-seed")
    sup = [t for t in session["terminals"] if t["profile"] == "analysis_supervisor"][0]

    def report():
        status = api.get(f"/terminals/{sup['id']}")["status"]
        if status != "completed":
            return None
        text = api.get(f"/terminals/{sup['id']}/output", params={"mode": "last"})["output"]
        return text if "Dataset analysis report" in text else None

    text = wait_until(report, timeout=60, message="the supervisor's report")
    assert re.search(r"\| A \| 3\.0 \| 3\.0 \| 1\.414 \|", text)
    assert re.search(r"\| B \| 30\.0 \| 30\.0 \| 14\.142 \|", text)
    assert re.search(r"\| C \| 25\.0 \| 25\.0 \| 14\.142 \|", text)

    run = api.get(f"/runs/{session['run_id']}")
    nodes = {n["key"]: n for n in run["nodes"]}
    edges = {(e["src"], e["dst"], e["kind"]) for e in run["edges"]}
    root = nodes["root"]
    assigns = [n for n in nodes.values() if n["kind"] == "assign"]
    handoffs = [n for n in nodes.values() if n["kind"] == "handoff"]
    assert len(assigns) == 3 and all(n["profile"] == "data_analyst" for n in assigns)
    assert len(handoffs) == 1 and handoffs[0]["profile"] == "report_generator"
    assert handoffs[0]["state"] == "succeeded"
    for n in assigns + handoffs:
        assert ("root", n["key"], n["kind"]) in edges
    # each analyst answered the supervisor with send_message: analyst -> message -> supervisor
    sends = [n for n in nodes.values() if n["kind"] == "send_message"]
    assert len(sends) == 3
    for s in sends:
        assert s["parent_key"] in {a["key"] for a in assigns}
        assert (s["key"], "root", "delivers_to") in edges
    assert all(n["state"] == "succeeded" for n in assigns)
    assert root["terminal_id"] == sup["id"]

    graph = subprocess.run([sys.executable, "-m", "cao.cli.main", "graph", "--run", session["run_id"]],
                           capture_output=True, text=True, timeout=60)
    assert graph.returncode == 0, graph.stderr
    assert graph.stdout.startswith("flowchart TD")
    assert graph.stdout.count("assign to data_analyst") == 3
    assert "handoff to report_generator" in graph.stdout
    assert graph.stdout.count("==>") >= 6  # analyst -> message -> supervisor, three times
