"""Gate scripts are real files, really executed."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from cao.flows.gate import run_gate, run_gate_async
from flowtest_helpers import write_script

YES = '#!/bin/sh\necho \'{"execute": true, "output": {"url": "http://x", "status_code": 503}}\'\n'


def both(script: Path, **kw):
    """Run the gate through the blocking and the async entry points; both must agree."""
    sync = run_gate(script, **kw)
    async_ = asyncio.run(run_gate_async(script, **kw))
    assert (sync.execute, sync.output, sync.error is None) == \
        (async_.execute, async_.output, async_.error is None)
    return async_


def test_yes(tmp_path):
    res = both(write_script(tmp_path / "g.sh", YES), timeout=10)
    assert res.execute and res.error is None and res.exit_code == 0
    assert res.output == {"url": "http://x", "status_code": 503}


def test_no(tmp_path):
    res = both(write_script(tmp_path / "g.sh", '#!/bin/sh\necho \'{"execute": false}\'\n'),
               timeout=10)
    assert not res.execute and res.error is None and res.output == {}


def test_log_lines_before_the_json_are_fine(tmp_path):
    body = '#!/bin/sh\necho checking...\necho \'{"execute": true, "output": {"n": 1}}\'\n'
    res = both(write_script(tmp_path / "g.sh", body), timeout=10)
    assert res.execute and res.output == {"n": 1}


def test_garbage(tmp_path):
    res = both(write_script(tmp_path / "g.sh", "#!/bin/sh\necho 'all good!'\n"), timeout=10)
    assert not res.execute and "not JSON" in res.error and "all good!" in res.error


def test_nothing_printed(tmp_path):
    res = both(write_script(tmp_path / "g.sh", "#!/bin/sh\ntrue\n"), timeout=10)
    assert not res.execute and "printed nothing" in res.error


@pytest.mark.parametrize("printed, words", [
    ('[1, 2]', "must be a JSON object, got list"),
    ('{"output": {}}', 'no "execute" key'),
    ('{"execute": "yes"}', '"execute" must be true or false'),
    ('{"execute": true, "output": [1]}', '"output" must be a JSON object'),
])
def test_wrong_shape(tmp_path, printed, words):
    res = both(write_script(tmp_path / "g.sh", f"#!/bin/sh\necho '{printed}'\n"), timeout=10)
    assert not res.execute and words in res.error


def test_non_zero_exit_reports_status_and_stderr(tmp_path):
    body = '#!/bin/sh\necho \'{"execute": true}\'\necho "db unreachable" >&2\nexit 3\n'
    res = both(write_script(tmp_path / "g.sh", body), timeout=10)
    assert not res.execute and res.exit_code == 3
    assert res.error == "gate script exited with status 3: db unreachable"


@pytest.mark.parametrize("runner", ["sync", "async"])
def test_timeout_kills_the_whole_process_group(tmp_path, runner):
    pidfile = tmp_path / "child.pid"
    body = f"#!/bin/bash\nsleep 60 &\necho $! > {pidfile}\nwait\n"
    script = write_script(tmp_path / "g.sh", body)
    started = time.monotonic()
    if runner == "sync":
        res = run_gate(script, timeout=0.5)
    else:
        res = asyncio.run(run_gate_async(script, timeout=0.5))
    assert time.monotonic() - started < 5
    assert not res.execute and res.error == "gate script timed out after 0.5s and was killed"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child), "the gate's background child outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_cancelling_the_async_gate_kills_it(tmp_path):
    pidfile = tmp_path / "gate.pid"
    script = write_script(tmp_path / "g.sh", f"#!/bin/bash\necho $$ > {pidfile}\nsleep 60\n")

    async def main():
        task = asyncio.create_task(run_gate_async(script, timeout=30))
        while not pidfile.exists() or not pidfile.read_text().strip():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)


def test_not_executable_with_shebang_uses_its_interpreter(tmp_path):
    body = ('#!/usr/bin/env python3\nimport json\n'
            'print(json.dumps({"execute": True, "output": {"lang": "python"}}))\n')
    res = both(write_script(tmp_path / "g.py", body, executable=False), timeout=10)
    assert res.execute and res.output == {"lang": "python"}


def test_not_executable_without_shebang_runs_with_bash(tmp_path):
    body = 'x=(a b)\necho "{\\"execute\\": true, \\"output\\": {\\"n\\": ${#x[@]}}}"\n'
    res = both(write_script(tmp_path / "g", body, executable=False), timeout=10)
    assert res.execute and res.output == {"n": 2}


def test_path_with_spaces_and_semicolons_is_just_a_path(tmp_path):
    d = tmp_path / "my gates; rm -rf x"
    d.mkdir()
    res = both(write_script(d / "g.sh", YES), timeout=10)
    assert res.execute


def test_missing_script(tmp_path):
    res = both(tmp_path / "nope.sh", timeout=10)
    assert not res.execute and res.error == f"gate script not found: {tmp_path / 'nope.sh'}"


def test_cwd_and_env_are_passed(tmp_path):
    body = ('#!/bin/sh\nprintf \'{"execute": true, "output": {"cwd": "%s", "flow": "%s"}}\' '
            '"$(pwd)" "$CAO_FLOW_NAME"\n')
    res = both(write_script(tmp_path / "g.sh", body), cwd=tmp_path, timeout=10,
               env={"CAO_FLOW_NAME": "nightly"})
    assert res.output == {"cwd": str(tmp_path), "flow": "nightly"}
    assert "CAO_FLOW_NAME" not in os.environ
