"""JSON Schemas of the three document kinds, generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KINDS = ("profile", "workflow", "flow")
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(kind: str) -> dict[str, Any]:
    from cao.spec.loader import MODELS

    if kind not in MODELS:
        raise ValueError(f"unknown document kind {kind!r}; use one of {', '.join(KINDS)}")
    schema = MODELS[kind].model_json_schema(by_alias=True, mode="validation")
    if kind == "workflow":
        # "exactly one of handoff, assign, send_message" is a model rule; say it in the
        # schema too so editors flag it.
        node = schema["$defs"]["Node"]
        node["oneOf"] = [{"required": [k]} for k in ("handoff", "assign", "send_message")]
    for prop in schema.get("properties", {}).values():
        if "patternProperties" in prop:   # keys outside the pattern are errors
            prop["additionalProperties"] = False
    if kind == "flow":
        schema["oneOf"] = [{"required": ["agent_profile"]}, {"required": ["workflow"]}]
    ordered: dict[str, Any] = {"$schema": SCHEMA_DIALECT}
    ordered.update(schema)
    return ordered


def schema_text(kind: str) -> str:
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = folder / f"{kind}.schema.json"
        path.write_text(schema_text(kind), encoding="utf-8")
        written.append(path)
    return written
