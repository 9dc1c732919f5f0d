"""Checks of profiles and flows beyond their models (providers, entrypoints, targets)."""

from __future__ import annotations

from pathlib import Path

from cao.spec.diagnostics import Diagnostic, did_you_mean
from cao.spec.flow import Flow
from cao.spec.profile import AgentProfile
from cao.spec.source import RawDocument


def _provider_problem(raw: RawDocument, path: tuple, name: str) -> Diagnostic | None:
    from cao.providers.registry import is_known, provider_names

    if is_known(name):
        return None
    guess = did_you_mean(name, provider_names())
    return raw.diag(path, f"unknown provider '{name}'",
                    hint=(f"did you mean '{guess}'? " if guess else "")
                    + f"known providers: {', '.join(provider_names())}",
                    code="unknown-provider")


def check_profile(profile: AgentProfile, raw: RawDocument) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    if profile.provider is not None:
        problem = _provider_problem(raw, ("provider",), profile.provider)
        if problem:
            diags.append(problem)
    if profile.provider == "python" and not profile.entrypoint:
        diags.append(raw.diag(("provider",), "provider 'python' needs an entrypoint",
                              hint='add entrypoint: "package.module:function"',
                              code="missing-entrypoint"))
    if profile.entrypoint and profile.provider not in (None, "python"):
        diags.append(raw.diag(("entrypoint",), f"entrypoint is only used by provider 'python', "
                                               f"not '{profile.provider}'", severity="warning",
                              code="unused-key"))
    if profile.custom is not None and profile.provider not in (None, "custom"):
        diags.append(raw.diag(("custom",), "custom is only used by provider 'custom'",
                              severity="warning", code="unused-key"))
    return diags


def check_flow(flow: Flow, raw: RawDocument, catalog_for=None) -> list[Diagnostic]:
    """`catalog_for(path)` gives the ProfileCatalog for a document at path (None: skip
    profile lookups)."""
    diags: list[Diagnostic] = []
    catalog = catalog_for(raw.path or Path("flow.md")) if catalog_for else None
    base = raw.path.parent if raw.path is not None else Path.cwd()
    if flow.provider is not None:
        problem = _provider_problem(raw, ("provider",), flow.provider)
        if problem:
            diags.append(problem)
    if flow.agent_profile is not None and catalog is not None:
        if catalog.find(flow.agent_profile) is None:
            guess = did_you_mean(flow.agent_profile, catalog.names())
            diags.append(raw.diag(("agent_profile",), f"unknown profile '{flow.agent_profile}'",
                                  hint=(f"did you mean '{guess}'? " if guess else "")
                                  + "install it with cao install, or pass --profiles DIR",
                                  code="unknown-profile"))
        if not flow.prompt:
            diags.append(raw.diag(("agent_profile",), "the flow has no prompt",
                                  hint="write the prompt in the body, after the frontmatter",
                                  code="no-prompt"))
    if flow.script:   # CAO writes "" for "no script"
        script = (base / flow.script).expanduser()
        if not script.exists():
            diags.append(raw.diag(("script",), f"script not found: {script}",
                                  hint="the path is relative to the flow file",
                                  code="missing-file"))
    if flow.workflow is not None:
        diags.extend(_check_flow_workflow(flow, raw, base / flow.workflow, catalog_for))
    return diags


def _check_flow_workflow(flow: Flow, raw: RawDocument, path: Path,
                         catalog_for) -> list[Diagnostic]:
    from cao.graph.compile import compile_workflow, resolve_inputs
    from cao.spec.diagnostics import SpecError

    if not path.is_file():
        return [raw.diag(("workflow",), f"workflow not found: {path}",
                         hint="the path is relative to the flow file", code="missing-file")]
    catalog = catalog_for(path) if catalog_for else None
    compiled = compile_workflow(path, catalog=catalog, check_profiles=catalog is not None)
    if compiled.workflow is None or not compiled.ok:
        return [raw.diag(("workflow",), f"workflow {flow.workflow} has errors",
                         hint=f"run cao validate {path}", code="invalid-workflow")]
    try:
        resolve_inputs(compiled.workflow, flow.inputs or {})
    except SpecError as exc:
        return [raw.diag(("inputs",) + tuple((d.field or "").split(".")[1:2]), d.message,
                         hint=d.hint, code=d.code) for d in exc.diagnostics]
    return []
