"""The seed example's three agents as Python functions.

`data_analyst` computes statistics, `report_generator` writes a report template, and
`analysis_supervisor` either combines results it is given, or delegates: it assigns one
analyst per dataset, hands off the template to the report generator, and answers with
the report once every analyst has sent its result back.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

DATASET_RE = re.compile(r"(?:[Dd]ataset\s+)?([A-Za-z][A-Za-z0-9_-]*)\s*:\s*\[?([-\d.,\s]+)\]?")
RESULT_RE = re.compile(r"Dataset (?P<name>[A-Za-z][A-Za-z0-9_-]*): mean=(?P<mean>-?[\d.]+), "
                       r"median=(?P<median>-?[\d.]+), std=(?P<std>-?[\d.]+)")
TEMPLATE_MARK = "<!-- report template -->"


def parse_datasets(text: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for name, values in DATASET_RE.findall(text):
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", values)]
        if numbers:
            out[name] = numbers
    return out


def describe(name: str, values: list[float]) -> str:
    mean = round(statistics.fmean(values), 3)
    median = round(float(statistics.median(values)), 3)
    std = round(statistics.pstdev(values), 3)
    return f"Dataset {name}: mean={mean}, median={median}, std={std} (count {len(values)})"


def data_analyst(message: str, ctx: Any = None) -> str:
    datasets = parse_datasets(message)
    if not datasets:
        raise ValueError("no dataset found; send e.g. 'Analyze dataset A: [1, 2, 3]'")
    return "\n".join(describe(name, values) for name, values in datasets.items())


def report_generator(message: str, ctx: Any = None) -> str:
    return "\n".join([
        TEMPLATE_MARK,
        "# Dataset analysis report",
        "",
        "| Dataset | Mean | Median | Std dev (population) |",
        "|---|---|---|---|",
        "{rows}",
        "",
        "{summary}",
    ])


def compose_report(results: dict[str, dict[str, str]], template: str | None = None) -> str:
    template = template if template and "{rows}" in template else report_generator("")
    rows = "\n".join(f"| {name} | {r['mean']} | {r['median']} | {r['std']} |"
                     for name, r in sorted(results.items()))
    highest = max(results.items(), key=lambda kv: float(kv[1]["mean"]))[0] if results else "-"
    summary = f"{len(results)} datasets analysed; highest mean: {highest}."
    body = template.replace("{rows}", rows).replace("{summary}", summary)
    return body.replace(TEMPLATE_MARK + "\n", "").strip()


def _template_in(text: str) -> str | None:
    """The report template quoted in a message: from its marker to its summary line."""
    start = text.find(TEMPLATE_MARK)
    if start < 0:
        return None
    lines = []
    for line in text[start:].split("\n"):
        lines.append(line)
        if "{summary}" in line:
            return "\n".join(lines)
    return None


def _results(text: str) -> dict[str, dict[str, str]]:
    return {m["name"]: m.groupdict() for m in RESULT_RE.finditer(text)}


def analysis_supervisor(message: str, ctx: Any) -> str:
    state = ctx.state
    results = _results(message)
    if ctx.sender_id and results and state.get("waiting"):
        # A callback from one of our analysts.
        state["results"].update(results)
        missing = sorted(state["waiting"] - set(state["results"]))
        if missing:
            return f"Received {', '.join(sorted(results))}; still waiting for {', '.join(missing)}."
        report = compose_report(state["results"], state.get("template"))
        state.clear()
        return report
    if results:
        # Everything was handed to us (the workflow's report step): combine.
        return compose_report(results, _template_in(message))
    datasets = parse_datasets(message)
    if not datasets:
        raise ValueError("send datasets to analyse (e.g. 'A: [1, 2, 3]') or analysis results")
    state.update(waiting=set(datasets), results={})
    workers = []
    for name, values in datasets.items():
        values_text = ", ".join(f"{v:g}" for v in values)
        workers.append(ctx.assign("data_analyst", f"Analyze dataset {name}: [{values_text}]"))
    state["template"] = ctx.handoff("report_generator", "Write the report template.")
    return (f"Assigned {len(workers)} analyses to data_analyst workers; the report follows "
            "when their results arrive.")


# Tells the python host to open its MCP session while the prompt is up, not at the first
# tool call: the supervisor always delegates.
analysis_supervisor.cao_tools = True  # type: ignore[attr-defined]
