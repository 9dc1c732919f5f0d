"""Delegation figures (issue 4): handoff overhead, assign latency, concurrent assigns/handoffs.

    PYTHONPATH=. python bench/delegation.py [--quick]

The worker is a python agent that answers after 50 ms, like the reference system's mock
agent, so "overhead" is the total minus those 50 ms. Runs its own cao-server on a free
loopback port with its own CAO_HOME and tmux socket and removes everything at the end.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Env, Table, machine_line, parse_args, read_stamps, wait_until  # noqa: E402

WORK = 0.05
REF = {"handoff_overhead": 5.8, "assign_return": 0.86, "assign_task": 4.5, "handoffs16": 19.0}


async def _post_many(url: str, path: str, bodies: list[dict]) -> tuple[list[dict], list[float]]:
    """POST all bodies at once; return the answers and each request's seconds."""
    async with httpx.AsyncClient(base_url=url, timeout=300, trust_env=False,
                                 limits=httpx.Limits(max_connections=100)) as http:
        async def one(body):
            t0 = time.perf_counter()
            resp = await http.post(path, json=body)
            resp.raise_for_status()
            return resp.json(), time.perf_counter() - t0
        results = await asyncio.gather(*(one(b) for b in bodies))
    return [r[0] for r in results], [r[1] for r in results]


async def _mcp_handoff(env: Env, caller: str, reps: int) -> tuple[float, list[float]]:
    """Open one real MCP stdio session as the caller; return (open seconds, call seconds)."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    mcp_env = env.environ(CAO_TERMINAL_ID=caller)
    params = StdioServerParameters(command=sys.executable, args=["-m", "cao.mcp.server"],
                                   env=mcp_env)
    t0 = time.perf_counter()
    async with Client(params) as client:
        opened = time.perf_counter() - t0
        calls = []
        for i in range(reps):
            t1 = time.perf_counter()
            result = await client.call_tool("handoff", {"agent_profile": "work50",
                                                        "message": f"mcp {i}", "timeout": 60})
            calls.append(time.perf_counter() - t1)
            if result.is_error:
                raise RuntimeError(f"MCP handoff failed: {result.content}")
    return opened, calls


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    quick = args.quick
    reps = 2 if quick else 10
    widths = [1, 4] if quick else [1, 4, 8, 16, 32]
    n_handoffs = 4 if quick else 16
    table = Table(f"cao delegation benchmark ({'quick' if quick else 'full'}; {machine_line()}; "
                  f"worker answers in {WORK * 1000:.0f} ms)")

    with Env("delegation", keep=args.keep) as env:
        stamps = env.tmp / "stamps"
        stamps.mkdir()
        env.profile("work50", "agents:work50")
        env.profile("quick", "agents:quick")
        env.profile("delegate", "agents:delegate")
        srv = env.server(BENCH_STAMPS=str(stamps))
        srv.start()
        launched = srv.post("/sessions", {"profile": "quick", "session_name": "bench-deleg"})
        caller = launched["terminal"]["id"]
        sname = launched["session_name"]
        srv.wait_status(caller, "idle")

        # 1. handoff over REST from a launched caller terminal
        totals, to_task = [], []
        for i in range(reps):
            w0 = time.time()
            t0 = time.perf_counter()
            res = srv.post("/orchestration/handoff", {"caller_id": caller, "agent_profile": "work50",
                                                      "message": f"rest {i}", "timeout": 60})
            totals.append(time.perf_counter() - t0)
            if not res["ok"]:
                raise RuntimeError(f"handoff failed: {res}")
            got = read_stamps(stamps, res["terminal_id"])
            to_task.append(got[0]["t"] - w0)
        table.timing("handoff total (REST), 50 ms worker", totals)
        table.timing("handoff overhead (REST) = total - 50 ms", [t - WORK for t in totals],
                     REF["handoff_overhead"], "< 300 ms")
        table.timing("  of which: call -> worker has its task", to_task)

        # 2. the same through a real MCP stdio session (cao-mcp-server as a client would run it)
        opened, calls = asyncio.run(_mcp_handoff(env, caller, reps))
        table.value("MCP: open stdio session (spawn cao-mcp-server + initialize)", 1,
                    f"{opened * 1000:.0f} ms" if opened < 1 else f"{opened:.2f} s")
        table.timing("handoff overhead via MCP tool call (open session)",
                     [c - WORK for c in calls], REF["handoff_overhead"], "< 300 ms")

        # 3. handoff from inside a python agent (its own lazily-opened MCP session);
        # skipped by --quick: opening the agent's MCP session alone takes seconds
        dele = None
        for i in range(0 if quick else reps + 1):
            if dele is None:
                dele = srv.post(f"/sessions/{sname}/terminals", {"profile": "delegate"})["id"]
                srv.wait_status(dele, "idle")
            res = srv.post(f"/terminals/{dele}/input", {"message": f"handoff work50 agent {i}",
                                                        "wait": True, "timeout": 60})
            if res["status"] != "completed":
                raise RuntimeError(f"in-agent handoff failed: {res}")
        tool = ([s["seconds"] for s in read_stamps(stamps, dele) if s["event"] == "tool"]
                if dele else [])
        if tool:
            table.value("in-agent handoff, first call (opens the agent's MCP session)", 1,
                        f"{tool[0] - WORK:.2f} s" if tool[0] >= 1 else f"{(tool[0] - WORK) * 1000:.0f} ms")
            table.timing("in-agent handoff overhead, later calls", [t - WORK for t in tool[1:]],
                         REF["handoff_overhead"], "< 300 ms")

        # 4. assign: time for the call to return, and until the worker has its task
        ret, task = [], []
        for i in range(reps):
            w0 = time.time()
            t0 = time.perf_counter()
            res = srv.post("/orchestration/assign", {"caller_id": caller, "agent_profile": "work50",
                                                     "message": f"assign {i}"})
            ret.append(time.perf_counter() - t0)
            got = wait_until(lambda: read_stamps(stamps, res["terminal_id"]), timeout=30)
            task.append(got[0]["t"] - w0)
        table.timing("assign returns", ret, REF["assign_return"])
        table.timing("assign call -> worker has its task", task,
                     REF["assign_return"] + REF["assign_task"])
        wait_until(lambda: sum(1 for m in srv.get(f"/terminals/{caller}/inbox")
                               if m["state"] == "delivered") >= reps, timeout=60)
        for t in srv.get(f"/sessions/{sname}")["terminals"]:
            if t["id"] not in (caller, dele) and t["status"] != "exited":
                srv.req("DELETE", f"/terminals/{t['id']}")

        # 5. N concurrent assigns until every callback has been delivered to a fresh caller
        for n in widths:
            sink = srv.post(f"/sessions/{sname}/terminals", {"profile": "quick"})["id"]
            srv.wait_status(sink, "idle")
            c0 = srv.cpu_seconds()
            t0 = time.perf_counter()
            answers, _ = asyncio.run(_post_many(env.url, "/orchestration/assign", [
                {"caller_id": sink, "agent_profile": "work50", "message": f"fan {n}.{k}"}
                for k in range(n)]))
            returned = time.perf_counter() - t0
            arrived = None
            while True:
                box = srv.get(f"/terminals/{sink}/inbox")
                if arrived is None and len(box) >= n:
                    arrived = time.perf_counter() - t0
                if sum(1 for m in box if m["state"] == "delivered") >= n:
                    delivered = time.perf_counter() - t0
                    break
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"{n} assigns: callbacks not delivered after 120 s")
                time.sleep(0.01)
            cpu = srv.cpu_seconds() - c0
            table.value(f"{n:>2} concurrent assigns: all returned / callbacks in inbox / delivered",
                        1, f"{delivered:.2f} s", "-", "-", "-",
                        f"returned {returned:.2f} s, in inbox {arrived:.2f} s, server CPU {cpu:.2f} s")
            for a in answers:
                srv.req("DELETE", f"/terminals/{a['terminal_id']}")
            srv.req("DELETE", f"/terminals/{sink}")

        # 6. N concurrent handoffs from the launched caller
        c0 = srv.cpu_seconds()
        t0 = time.perf_counter()
        answers, each = asyncio.run(_post_many(env.url, "/orchestration/handoff", [
            {"caller_id": caller, "agent_profile": "work50", "message": f"par {k}", "timeout": 120}
            for k in range(n_handoffs)]))
        wall = time.perf_counter() - t0
        cpu = srv.cpu_seconds() - c0
        bad = [a for a in answers if not a["ok"]]
        if bad:
            raise RuntimeError(f"{len(bad)} concurrent handoffs failed: {bad[0]}")
        ref16 = REF["handoffs16"] if n_handoffs == 16 else None
        table.value(f"{n_handoffs} concurrent handoffs, wall time", 1, f"{wall:.2f} s", "-",
                    f"{ref16:.0f} s" if ref16 else "-",
                    f"{ref16 / wall:.1f}x faster" if ref16 else "-",
                    f"< 2 s; slowest call {max(each):.2f} s, server CPU {cpu:.2f} s")
        srv.stop()

    table.print()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
