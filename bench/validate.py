"""How long `cao validate` takes on big generated workflows.

Shapes: a chain, a wide fan-out (assign) with one join, and random DAGs whose prompts
reference earlier nodes' outputs (implicit template edges). Sizes 100, 1,000, 10,000 nodes.
Prints wall time as a whole process (`python -m cao.cli.main validate FILE`) and in-process
(load + compile + checks), plus time per node+edge and its growth against the smallest size
(about 1.0 means linear). Prints figures; never passes or fails on time.

    python bench/validate.py [--sizes 100,1000,10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _node(node_id: str, kind: str, profile: str, prompt: str,
          needs: list[str] | None = None) -> str:
    line = f'  {node_id}: {{{kind}: {profile}, prompt: "{prompt}"'
    if needs:
        line += f", needs: [{', '.join(needs)}]"
    return line + "}"


def chain(n: int) -> list[str]:
    return [_node(f"n{i}", "handoff", "developer", f"Step {i} of {{{{ inputs.topic }}}}",
                  [f"n{i - 1}"] if i else None) for i in range(n)]


def fanout(n: int) -> list[str]:
    lines = [_node("root", "handoff", "code_supervisor", "Plan {{ inputs.topic }}")]
    workers = [f"w{i}" for i in range(n - 2)]
    for w in workers:
        lines.append(_node(w, "assign", "developer", f"Do part {w} of {{{{ nodes.root.output }}}}"))
    lines.append(_node("join", "handoff", "reviewer", "Review all parts", workers))
    return lines


def random_dag(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        needs = [f"n{j}" for j in rnd.sample(range(i), k=min(i, rnd.randint(1, 3)))] if i else None
        ref = f" using {{{{ nodes.n{rnd.randrange(i)}.output }}}}" if i else ""
        lines.append(_node(f"n{i}", "handoff", rnd.choice(["developer", "reviewer"]),
                           f"Task {i} on {{{{ inputs.topic }}}}{ref}", needs))
    return lines


SHAPES = {"chain": chain, "fanout": fanout, "random": random_dag}


def write_workflow(folder: Path, shape: str, n: int) -> Path:
    body = "\n".join(SHAPES[shape](n))
    text = (f"---\nname: bench-{shape}-{n}\ninputs:\n  topic: {{type: string, default: x}}\n"
            f"nodes:\n{body}\n---\n")
    path = folder / f"{shape}-{n}.md"
    path.write_text(text)
    return path


def in_process(path: Path) -> tuple[float, float, int, int]:
    """(wall s, CPU s, nodes, edges) of load + compile + checks in this process."""
    from cao.graph import templates
    from cao.graph.compile import compile_workflow
    from cao.spec import catalog
    from cao.spec.diagnostics import has_errors
    from cao.spec.gcpause import paused_gc
    from cao.spec.loader import build_document
    from cao.spec.source import read_document

    templates.analyze_template.cache_clear()   # no help from an earlier run
    catalog.clear_cache()
    start, cpu_start = time.perf_counter(), time.process_time()
    with paused_gc():   # as `cao validate` does
        raw = read_document(path)
        doc, diags = build_document(raw)
        compiled = compile_workflow(doc, catalog=catalog.ProfileCatalog(include_store=False))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    assert not has_errors(diags) and compiled.ok, compiled.diagnostics[:3]
    return elapsed, cpu, len(compiled.workflow.nodes), len(compiled.edges)


def as_process(path: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `cao validate` process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "cao.cli.main", "validate", str(path),
                             "--no-store"], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"validate failed on {path}:\n{result.stdout}{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    header = (f"{'shape':<8}{'nodes':>7}{'edges':>7}{'process s':>11}{'proc cpu':>10}"
              f"{'in-proc s':>11}{'inp cpu':>9}{'us/(n+e)':>10}{'growth':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        floor = [as_process(write_workflow(Path(tmp), "chain", 1)) for _ in range(args.repeat)]
        load = os.getloadavg()[0]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.1f}; "
              f"process floor (validate a 1-node workflow): "
              f"{statistics.median(w for w, _ in floor):.3f} s wall, "
              f"{statistics.median(c for _, c in floor):.3f} s CPU")
        print(header)
        for shape in SHAPES:
            first = None
            for n in sizes:
                path = write_workflow(Path(tmp), shape, n)
                runs = [in_process(path) for _ in range(args.repeat)]
                inproc = statistics.median(r[0] for r in runs)
                inproc_cpu = statistics.median(r[1] for r in runs)
                _, _, nodes, edges = runs[0]
                procs = [as_process(path) for _ in range(args.repeat)]
                proc = statistics.median(w for w, _ in procs)
                cpu = statistics.median(c for _, c in procs)
                per = inproc_cpu / (nodes + edges) * 1e6
                first = first or per
                print(f"{shape:<8}{nodes:>7}{edges:>7}{proc:>11.3f}{cpu:>10.3f}{inproc:>11.3f}"
                      f"{inproc_cpu:>9.3f}{per:>10.1f}{per / first:>8.2f}")
    print("us/(n+e) = in-process CPU time per node+edge; growth = that / the same at the "
          "smallest size (~1 or below means linear).\nOn a busy machine wall time exceeds CPU "
          "time; both are shown.")


if __name__ == "__main__":
    main()
