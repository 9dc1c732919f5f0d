"""Flows: a profile prompt or a workflow run on a cron schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from cao.spec.document import DocumentModel
from cao.spec.errors import FieldError
from cao.spec.fields import CatchUp, Duration, seconds

CRON_HINT = ('use 5 fields "minute hour day month weekday" (e.g. "0 9 * * 1-5"), '
             '6 with a leading seconds field (e.g. "*/30 * * * * *"), or an alias like @daily')


def check_cron(expr: str) -> str:
    from croniter import croniter

    fields = expr.split()
    if not expr.strip().startswith("@") and len(fields) not in (5, 6):
        raise FieldError(f"invalid cron expression {expr!r}: expected 5 or 6 fields, "
                         f"found {len(fields)}", hint=CRON_HINT)
    try:
        # A 6th field is seconds, first: the scheduler (cao.flows.schedule) reads it so.
        croniter(expr, second_at_beginning=len(fields) == 6)
    except Exception as exc:  # croniter raises several error types
        raise FieldError(f"invalid cron expression {expr!r}: {exc}", hint=CRON_HINT) from None
    return expr


class Flow(DocumentModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"title": "cao flow"})

    name: str = Field(..., min_length=1)
    description: str | None = None
    schedule: str = Field(..., description="Cron expression (croniter syntax).")
    timezone: str | None = Field(None, description="IANA time zone, e.g. Europe/Paris.")
    agent_profile: str | None = Field(None, description="Profile to run with the body prompt.")
    workflow: str | None = Field(None, description="Workflow path, relative to this file.")
    inputs: dict[str, Any] | None = None
    provider: str | None = None
    engine: Any = Field(None, description="Kiro engine (accepted for CAO flow files).")
    script: str | None = Field(None, description="Gate script printing {execute, output}.")
    script_timeout: Duration = "60s"
    overlap: Literal["skip", "queue", "allow"] = "skip"
    catch_up: CatchUp = Field(
        "none", description='How far back missed runs are made up; "none" to skip them.')
    enabled: bool = True
    working_directory: str | None = None


    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (ValueError, KeyError, OSError):
            raise FieldError(f"unknown time zone {value!r}",
                             hint="use an IANA name such as 'UTC' or 'Europe/Paris'") from None
        return value

    @model_validator(mode="after")
    def _one_target(self) -> "Flow":
        if (self.agent_profile is None) == (self.workflow is None):
            raise FieldError("a flow needs exactly one of agent_profile or workflow",
                             hint="agent_profile: NAME runs the body as that agent's prompt; "
                                  "workflow: PATH runs a workflow with 'inputs'")
        if self.inputs and self.workflow is None:
            raise FieldError("'inputs' only applies to flows that run a workflow",
                             field="inputs")
        return self

    @property
    def prompt(self) -> str:
        return self._body

    @prompt.setter
    def prompt(self, text: str) -> None:
        self._body = (text or "").strip()

    @property
    def script_timeout_seconds(self) -> float:
        return seconds(self.script_timeout) or 0.0

    @property
    def catch_up_seconds(self) -> float | None:
        """None when missed runs are not made up."""
        if self.catch_up is None or self.catch_up == "none":
            return None
        return seconds(self.catch_up)

    def workflow_path(self) -> Path | None:
        if self.workflow is None:
            return None
        base = self._source_path.parent if self._source_path else Path.cwd()
        return (base / self.workflow).resolve()
