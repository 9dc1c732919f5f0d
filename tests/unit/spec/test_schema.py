from __future__ import annotations

import json
from pathlib import Path

import pytest

from cao.spec.schema import KINDS, schema_text
from cao.spec.source import read_document

ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.mark.parametrize("kind", KINDS)
def test_committed_schemas_match_the_models(kind):
    committed = (ROOT / "schemas" / f"{kind}.schema.json").read_text()
    assert committed == schema_text(kind), (
        f"schemas/{kind}.schema.json is out of date: run `cao schema --out schemas/`")


def test_schemas_accept_the_valid_corpus_and_shipped_documents():
    jsonschema = pytest.importorskip("jsonschema")
    from cao.spec.loader import detect_kind

    schemas = {k: json.loads(schema_text(k)) for k in KINDS}
    paths = [*(CORPUS / "valid").glob("*.md"), *(ROOT / "profiles").glob("*.md"),
             *(ROOT / "workflows").glob("*.md")]
    for path in paths:
        raw = read_document(path)
        jsonschema.validate(raw.data, schemas[detect_kind(raw)])


def test_schema_rejects_a_node_with_two_kinds():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(schema_text("workflow"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "nodes": {"a": {"handoff": "p", "assign": "q"}}}, schema)
