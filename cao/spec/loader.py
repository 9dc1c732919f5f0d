"""Loading any cao document from a path: detect its kind, validate it, report diagnostics."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Union

from pydantic import BaseModel, ValidationError

from cao.spec.diagnostics import Diagnostic, SpecError, has_errors
from cao.spec.envvars import expand_env
from cao.spec.errors import validation_diagnostics
from cao.spec.flow import Flow
from cao.spec.gcpause import paused_gc
from cao.spec.profile import AgentProfile
from cao.spec.source import RawDocument, read_document
from cao.spec.workflow import Workflow

Kind = Literal["profile", "workflow", "flow"]
Document = Union[AgentProfile, Workflow, Flow]
MODELS: dict[str, type[BaseModel]] = {"profile": AgentProfile, "workflow": Workflow,
                                      "flow": Flow}
_FOLDER_KINDS = {"profiles": "profile", "agent-store": "profile", "agents": "profile",
                 "workflows": "workflow", "flows": "flow"}

NOT_A_DOCUMENT = "not-a-document"


def detect_kind(raw: RawDocument) -> Kind:
    """By the folder the file sits in (profiles/, workflows/, flows/), else by its keys:
    `nodes` makes a workflow, `schedule` a flow, anything else a profile."""
    if raw.path is not None:
        kind = _FOLDER_KINDS.get(raw.path.parent.name)
        if kind:
            return kind  # type: ignore[return-value]
    data = raw.data if isinstance(raw.data, dict) else {}
    if "nodes" in data:
        return "workflow"
    if "schedule" in data:
        return "flow"
    return "profile"


def load_document(path: Path | str, *, kind: Kind | None = None, text: str | None = None,
                  missing_env: Literal["error", "warning"] = "error",
                  ) -> tuple[Document | None, list[Diagnostic]]:
    """Load a document; returns (model or None, diagnostics). Never raises on bad input."""
    with paused_gc():
        raw = read_document(path, text)
        return build_document(raw, kind=kind, missing_env=missing_env)


def build_document(raw: RawDocument, *, kind: Kind | None = None,
                   missing_env: Literal["error", "warning"] = "error",
                   ) -> tuple[Document | None, list[Diagnostic]]:
    diags = list(raw.diagnostics)
    if not raw.has_frontmatter:
        diags.append(Diagnostic(
            "error", "not a cao document: no YAML frontmatter", file=raw.file, line=1, column=1,
            hint="start the file with a '---' line, the YAML keys, then another '---' line",
            code=NOT_A_DOCUMENT))
        return None, diags
    if has_errors(diags):
        return None, diags
    if not isinstance(raw.data, dict):
        diags.append(Diagnostic(
            "error", f"the frontmatter must be a mapping of keys, got {type(raw.data).__name__}",
            file=raw.file, line=2, column=1, code="frontmatter",
            hint="write 'key: value' lines between the '---' lines"))
        return None, diags
    kind = kind or detect_kind(raw)
    model = MODELS[kind]
    data = raw.data
    if kind == "profile":
        def missing(path: tuple, name: str) -> None:
            diags.append(raw.diag(
                path, f"environment variable {name} is not set", severity=missing_env,
                hint=f"export {name}=... before loading, or write ${{{name}:-default}}",
                code="env-unset"))
        data = expand_env(data, missing)
    try:
        doc = model.model_validate(data)
    except ValidationError as exc:
        diags.extend(validation_diagnostics(exc, model, raw))
        return None, diags
    except RecursionError:
        diags.append(Diagnostic("error", "the frontmatter is nested too deeply",
                                file=raw.file, line=1, code="frontmatter"))
        return None, diags
    doc.source_path = raw.path
    if isinstance(doc, Workflow):
        doc.bind_body(raw.body, raw.sections())
        doc._raw = raw
    else:
        doc._body = raw.body.strip()
    if has_errors(diags):
        return None, diags
    return doc, diags


def _load(path: Path | str, kind: Kind) -> Document:
    doc, diags = load_document(path, kind=kind)
    if doc is None or has_errors(diags):
        raise SpecError(diags)
    return doc


def load_profile(path: Path | str) -> AgentProfile:
    return _load(path, "profile")  # type: ignore[return-value]


def load_workflow(path: Path | str) -> Workflow:
    return _load(path, "workflow")  # type: ignore[return-value]


def load_flow(path: Path | str) -> Flow:
    return _load(path, "flow")  # type: ignore[return-value]
