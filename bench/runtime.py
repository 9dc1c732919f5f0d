"""Workflow-runtime figures (issue 5): per-node overhead of a chain, wide fan-outs.

    PYTHONPATH=. python bench/runtime.py [--quick]

Generates the workflows in a scratch directory (with a profiles/ folder beside them
holding a python agent that sleeps a known time), runs them through POST /runs on its own
cao-server (free loopback port, own CAO_HOME and tmux socket), and removes everything at
the end. Prints figures; never fails on time.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Env, Table, fmt_s, machine_line, parse_args  # noqa: E402

WORK = 0.05  # seconds each agent sleeps


def chain_workflow(n: int) -> str:
    lines = ["---", f"name: bench-chain-{n}", f"description: {n} chained handoffs", "nodes:"]
    for i in range(n):
        prev = f"{{{{ nodes.n{i - 1:02d}.output }}}}" if i else "start"
        lines.append(f"  n{i:02d}:")
        lines.append("    handoff: bench_sleeper")
        if i:
            lines.append(f"    needs: [n{i - 1:02d}]")
        lines.append(f"    prompt: \"sleep {WORK} step {i} after {prev}\"")
    lines += [f"output: \"{{{{ nodes.n{n - 1:02d}.output }}}}\"", "---", "Chain benchmark.", ""]
    return "\n".join(lines)


def fanout_workflow() -> str:
    return "\n".join([
        "---", "name: bench-fanout", "description: one handoff per item, all at once",
        "inputs:", "  n: {type: integer, default: 8}",
        "nodes:", "  fan:", "    handoff: bench_sleeper",
        "    for_each: \"{{ range(inputs.n) | list }}\"",
        f"    prompt: \"sleep {WORK} item {{{{ item }}}}\"",
        "output: \"{{ nodes.fan.outputs | length }}\"", "---", "Fan-out benchmark.", ""])


def run_workflow(srv, path: Path, inputs: dict, timeout: float = 150) -> tuple[float, float, dict]:
    """POST /runs and poll until the run is done; (wall seconds, server CPU seconds, run)."""
    c0 = srv.cpu_seconds()
    t0 = time.perf_counter()
    run = srv.post("/runs", {"workflow_path": str(path), "inputs": inputs})
    run_id = run.get("id") or run.get("run_id")
    while True:
        run = srv.get(f"/runs/{run_id}")
        if run["state"] in ("succeeded", "failed", "cancelled"):
            break
        if time.perf_counter() - t0 > timeout:
            srv.post(f"/runs/{run_id}/cancel")
            raise RuntimeError(f"run {run_id} not finished after {timeout}s (state {run['state']})")
        time.sleep(0.01)
    return time.perf_counter() - t0, srv.cpu_seconds() - c0, run


def chain_breakdown(srv, run_id: str, n: int) -> dict[str, list[float]]:
    """Per-node phases from the run's event journal (server timestamps)."""
    first: dict[tuple[str, str], float] = {}
    for ev in srv.get(f"/runs/{run_id}/events"):
        first.setdefault((ev["type"], ev["node_key"]), ev["ts"])
    out: dict[str, list[float]] = {"create": [], "turn": [], "gap": []}
    for i in range(n):
        key = f"n{i:02d}"
        started, term = first[("node.started", key)], first[("node.terminal", key)]
        done = first[("node.succeeded", key)]
        out["create"].append(term - started)
        out["turn"].append(done - term - WORK)
        if i + 1 < n:
            out["gap"].append(first[("node.started", f"n{i + 1:02d}")] - done)
    return out


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    quick = args.quick
    chain_len = 5 if quick else 20
    chain_reps = 1 if quick else 3
    widths = [1, 8] if quick else [1, 8, 32, 64]
    table = Table(f"cao runtime benchmark ({'quick' if quick else 'full'}; {machine_line()}; "
                  f"each agent works {WORK * 1000:.0f} ms)")

    with Env("runtime", keep=args.keep) as env:
        wf_dir = env.tmp / "workflows"
        env.profile("bench_sleeper", "agents:stamp", folder=wf_dir / "profiles")
        chain = wf_dir / "chain.md"
        chain.write_text(chain_workflow(chain_len))
        fan = wf_dir / "fanout.md"
        fan.write_text(fanout_workflow())
        srv = env.server()
        srv.start()

        per_node, walls = [], []
        phases: dict[str, list[float]] = {"create": [], "turn": [], "gap": []}
        for _ in range(chain_reps):
            wall, cpu, run = run_workflow(srv, chain, {})
            if run["state"] != "succeeded":
                raise RuntimeError(f"chain run {run['state']}: {run.get('error')}")
            walls.append(wall)
            per_node.append((wall - chain_len * WORK) / chain_len)
            for k, v in chain_breakdown(srv, run["id"], chain_len).items():
                phases[k] += v
        table.timing(f"{chain_len}-node chain, run wall time", walls)
        table.timing("orchestration overhead per chained node", per_node, None, "< 200 ms")
        table.timing("  node started -> worker terminal created", phases["create"])
        table.timing("  terminal created -> node succeeded, minus 50 ms work", phases["turn"])
        table.timing("  node succeeded -> next node started", phases["gap"])

        for n in widths:
            wall, cpu, run = run_workflow(srv, fan, {"n": n})
            ok = run["state"] == "succeeded" and run.get("output") in (str(n), n)
            note = ("ok" if ok else f"{run['state']}: {str(run.get('error'))[:60]} "
                    f"output={run.get('output')!r}")
            table.value(f"{n:>2}-wide fan-out (for_each handoff), wall time", 1, fmt_s(wall),
                        "-", "-", "-", f"server CPU {cpu:.2f} s; {note}")
        srv.stop()

    table.print()
    print(f"median overhead per chained node: {statistics.median(per_node) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
