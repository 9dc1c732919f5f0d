from __future__ import annotations

import pytest

from cao.flows.placeholders import (TemplateError, fill_placeholders, fill_structure,
                                    render_prompt, unknown_placeholders)
from cao.store import flows as store
from cao.store.db import connect, transaction
from flowtest_helpers import utc

# --- placeholders ------------------------------------------------------------------------


def test_fill_reference_style_placeholders():
    text = "Site [[url]] returned [[status_code]] ([[ up ]]), details: [[info.region]]"
    values = {"url": "https://x.test", "status_code": 503, "up": False,
              "info": {"region": "eu"}}
    assert fill_placeholders(text, values) == \
        "Site https://x.test returned 503 (false), details: eu"


def test_unknown_placeholders_are_left_and_reported():
    text = "[[known]] and [[unknown]] and [[unknown]]"
    assert fill_placeholders(text, {"known": "k"}) == "k and [[unknown]] and [[unknown]]"
    assert unknown_placeholders(text, {"known": "k"}) == ["unknown"]


def test_values_are_not_reinterpreted():
    assert fill_placeholders("[[a]] [[b]]", {"a": "[[b]]", "b": "{{ x }}"}) == "[[b]] {{ x }}"
    assert render_prompt("[[a]]", {"a": "{{ boom }}"}) == "{{ boom }}"


def test_jinja_only_when_used_and_strict():
    assert render_prompt("Plain {x} text [[v]]", {"v": 1}) == "Plain {x} text 1"
    out = render_prompt("{% if status_code >= 500 %}down{% endif %} {{ output.url }} "
                        "{{ flow }}", {"status_code": 503, "url": "u"}, {"flow": "f"})
    assert out == "down u f"
    with pytest.raises(TemplateError, match="undefined variable"):
        render_prompt("{{ nope }}", {"url": "u"})
    with pytest.raises(TemplateError, match="syntax error on line 1"):
        render_prompt("{% if %}", {})


def test_fill_structure_for_workflow_inputs():
    inputs = {"target": "[[url]]", "list": ["[[n]]", 3], "keep": True}
    assert fill_structure(inputs, {"url": "u", "n": 2}) == \
        {"target": "u", "list": ["2", 3], "keep": True}


# --- store -------------------------------------------------------------------------------


@pytest.fixture
def conn(db_path):
    return connect(db_path)


def test_record_fire_is_idempotent_across_connections(conn, db_path):
    store.upsert_flow(conn, name="f", spec={"name": "f"}, next_fire_time=utc(2024, 1, 1))
    first = store.record_fire(conn, flow_name="f", fire_time=utc(2024, 1, 1), trigger="schedule",
                              state="running")
    assert first
    other = connect(db_path)  # e.g. the next server process
    assert store.record_fire(other, flow_name="f", fire_time=utc(2024, 1, 1),
                             trigger="schedule", state="running") is None
    # a scheduled fire time made up as catch-up is the same fire time
    assert store.record_fire(other, flow_name="f", fire_time=utc(2024, 1, 1),
                             trigger="catch_up", state="running") is None
    # a manual run at that instant is a different fire
    assert store.record_fire(other, flow_name="f", fire_time=utc(2024, 1, 1), trigger="manual",
                             state="running")
    assert store.running_count(conn, "f") == 2


def test_bad_values_are_refused(conn):
    with pytest.raises(ValueError, match="unknown trigger"):
        store.record_fire(conn, flow_name="f", fire_time=utc(2024, 1, 1), trigger="cron",
                          state="running")
    with pytest.raises(ValueError, match="unknown flow_runs field"):
        store.update_flow_run(conn, 1, colour="red")


def test_history_list_and_remove(conn):
    store.upsert_flow(conn, name="f", spec={"name": "f", "schedule": "* * * * *"})
    for minute in range(3):
        rid = store.record_fire(conn, flow_name="f", fire_time=utc(2024, 1, 1, 0, minute),
                                trigger="schedule", state="running")
        store.update_flow_run(conn, rid, state="succeeded", answer=f"a{minute}",
                              gate_output={"execute": True, "output": {"m": minute}},
                              finished_at=utc(2024, 1, 1, 0, minute, 30))
    hist = store.history(conn, "f", limit=2)
    assert [h["answer"] for h in hist] == ["a2", "a1"]
    assert hist[0]["gate_output"] == {"execute": True, "output": {"m": 2}}
    [row] = store.list_flows(conn)
    assert row["last_state"] == "succeeded" and row["spec"]["schedule"] == "* * * * *"
    assert store.remove_flow(conn, "f") and store.history(conn, "f") == []
    assert not store.remove_flow(conn, "f")


def test_recover_interrupted(conn):
    with transaction(conn):
        a = store.record_fire(conn, flow_name="f", fire_time=utc(2024, 1, 1), trigger="schedule",
                              state="running")
        b = store.record_fire(conn, flow_name="f", fire_time=utc(2024, 1, 2), trigger="schedule",
                              state="queued")
    assert store.recover_interrupted(conn) == [a, b]
    assert store.get_flow_run(conn, a)["state"] == "failed"
    assert "server stopped" in store.get_flow_run(conn, a)["reason"]
    assert store.get_flow_run(conn, b)["state"] == "skipped"
