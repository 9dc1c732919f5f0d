"""Terminal-layer figures (issue 3): cold start, spawn, input, status detection, inbox, idle CPU.

    PYTHONPATH=. python bench/terminals.py [--quick]

Runs its own cao-server on a free loopback port with its own CAO_HOME and tmux socket,
python agents only, and removes everything at the end. Prints figures; never fails on time.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Env, Table, cpu_percent, machine_line, parse_args, read_stamps, wait_until  # noqa: E402

REF = {"cold": 1.6, "spawn": 3.8, "input": 0.87, "status": 0.06, "inbox": 0.34, "cpu": 0.23}


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    quick = args.quick
    reps = 3 if quick else 10
    cold_reps = 2 if quick else 5
    idle_terms = 4 if quick else 20
    cpu_window = 2.0 if quick else 10.0
    table = Table(f"cao terminals benchmark ({'quick' if quick else 'full'}; {machine_line()})")

    with Env("terminals", keep=args.keep) as env:
        stamps = env.tmp / "stamps"
        stamps.mkdir()
        env.profile("stamp", "agents:stamp")
        env.profile("quick", "agents:quick")

        # 1. cold start: fresh server process to the first 200 on /health
        cold = []
        for _ in range(cold_reps):
            srv = env.server(BENCH_STAMPS=str(stamps))
            cold.append(srv.start())
            srv.stop()
        table.timing("server cold start -> first healthy answer", cold, REF["cold"],
                     "no worse")

        srv = env.server(BENCH_STAMPS=str(stamps))
        srv.start()
        time.sleep(0.5)
        base_pct = cpu_percent(srv, cpu_window / 2)
        session = srv.post("/sessions", {"profile": "stamp", "session_name": "bench-term"})
        sname = session["session_name"]
        srv.wait_status(session["terminal"]["id"], "idle")

        # 2. spawn -> idle (API reports idle, polled every 5 ms)
        spawn, spawned = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            term = srv.post(f"/sessions/{sname}/terminals", {"profile": "stamp"})
            t1 = srv.wait_status(term["id"], "idle", interval=0.005)
            spawn.append(t1 - t0)
            spawned.append(term["id"])
        table.timing("terminal spawn -> API reports idle", spawn, REF["spawn"], ">= 10x faster")

        # 3. input accepted (no wait): time for POST /input to return, terminal idle before
        # 4. status detection: agent stamps its answer -> API reports completed (2 ms polls)
        accepted, detect = [], []
        tid = spawned[0]
        for i in range(reps):
            srv.wait_status(tid, {"idle", "completed"})
            t0 = time.perf_counter()
            srv.post(f"/terminals/{tid}/input", {"message": f"sleep 0.5 turn {i}"})
            accepted.append(time.perf_counter() - t0)
            wait_until(lambda: srv.status(tid) == "processing", timeout=5, interval=0.002)
            seen = None
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline:
                if srv.status(tid) == "completed":
                    seen = time.time()
                    break
                time.sleep(0.002)
            answers = [s for s in read_stamps(stamps, tid) if s["event"] == "answer"]
            if seen is None or len(answers) != i + 1:
                raise RuntimeError(f"turn {i}: completed not seen or answer stamp missing")
            detect.append(seen - answers[-1]["t"])
        table.timing("input accepted by the API (no wait)", accepted, REF["input"], ">= 10x faster")
        table.timing("status detection: answer printed -> API completed", detect, REF["status"],
                     "no worse")

        # 5. inbox delivery: receiver busy 0.5 s with a message queued; receiver stamps the end
        # of its busy turn (it becomes idle right after) and the receipt of the queued message
        inbox = []
        tid = spawned[1]
        for i in range(reps):
            srv.wait_status(tid, {"idle", "completed"})
            srv.post(f"/terminals/{tid}/input", {"message": f"sleep 0.5 busy {i}"})
            wait_until(lambda: srv.status(tid) == "processing", timeout=5, interval=0.002)
            srv.post(f"/terminals/{tid}/inbox", {"message": f"queued {i}", "sender_id": spawned[0]})
            def received():
                rows = read_stamps(stamps, tid)
                return rows if sum(1 for r in rows if r["event"] == "received") == 2 * (i + 1) else None
            rows = wait_until(received, timeout=10, interval=0.01)
            busy_end = [r for r in rows if r["event"] == "answer"][-2]["t"]
            got = [r for r in rows if r["event"] == "received"][-1]
            assert got["message"].endswith(f"queued {i}"), got
            inbox.append(got["t"] - busy_end)
        table.timing("inbox delivery: receiver idle -> message received", inbox, REF["inbox"],
                     ">= 10x faster")

        # 6. server CPU with N idle terminals open
        for tid in spawned:
            srv.wait_status(tid, {"idle", "completed"})
        more = max(0, idle_terms - len(spawned) - 1)
        for _ in range(more):
            term = srv.post(f"/sessions/{sname}/terminals", {"profile": "quick"})
            spawned.append(term["id"])
        for tid in spawned:
            srv.wait_status(tid, {"idle", "completed"})
        alive = srv.get("/info")["terminals_alive"]
        time.sleep(1.0)  # let start-up work settle
        pct = cpu_percent(srv, cpu_window)
        ratio = (f"{REF['cpu'] / pct:.1f}x lower" if pct <= REF["cpu"] and pct > 0
                 else (f"{pct / REF['cpu']:.1f}x higher" if pct > 0 else "~0"))
        table.value(f"server CPU, {alive} idle terminals, over {cpu_window:.0f} s (% of one core)",
                    1, f"{pct:.2f}%", "-", f"{REF['cpu']:.2f}%", ratio,
                    f"no worse; {base_pct:.2f}% with no terminal")
        srv.stop()

    table.print()
    print(f"medians: cold {statistics.median(cold):.3f}s, spawn {statistics.median(spawn):.3f}s, "
          f"input {statistics.median(accepted):.4f}s, status {statistics.median(detect):.4f}s, "
          f"inbox {statistics.median(inbox):.4f}s, cpu {pct:.2f}%")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
