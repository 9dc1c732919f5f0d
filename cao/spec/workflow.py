"""Workflows: a mapping of nodes (handoff, assign, send_message) plus inputs and output."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints,
                      model_validator)

from cao.spec.document import DocumentModel
from cao.spec.errors import FieldError
from cao.spec.fields import Duration, seconds

NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
INPUT_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
NODE_KINDS = ("handoff", "assign", "send_message")

NodeId = Annotated[str, StringConstraints(pattern=NODE_ID_PATTERN)]
InputName = Annotated[str, StringConstraints(pattern=INPUT_NAME_PATTERN)]
InputType = Literal["string", "integer", "number", "boolean", "array", "object"]

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,),
}


def type_matches(value: Any, type_name: str) -> bool:
    """Whether a (YAML/JSON) value is of a declared input type; bools are not numbers."""
    if isinstance(value, bool) and type_name != "boolean":
        return False
    return isinstance(value, _PY_TYPES[type_name])


def type_name_of(value: Any) -> str:
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if type_matches(value, name):
            return name
    return "null" if value is None else type(value).__name__


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputSpec(_Strict):
    type: InputType = Field("string", description="Declared type; CLI values are coerced to it.")
    default: Any = Field(None, description="Value used when the input is not given.")
    description: str | None = None
    required: bool | None = Field(
        None, description="Defaults to true when there is no default.")

    @model_validator(mode="after")
    def _default_matches_type(self) -> "InputSpec":
        if self.default is not None and not type_matches(self.default, self.type):
            raise FieldError(
                f"default {json.dumps(self.default, default=str)[:60]} is "
                f"{type_name_of(self.default)}, but the input is declared as {self.type}",
                field="default", hint=f"give a default of type {self.type} or change 'type'")
        return self

    @property
    def is_required(self) -> bool:
        if self.required is not None:
            return self.required
        return self.default is None


class Defaults(_Strict):
    provider: str | None = None
    timeout: Duration = None
    retries: int | None = Field(None, ge=0)
    retry_backoff: Duration = None


class Limits(_Strict):
    """Bounds on what agents may add to the run at run time (dynamic delegation)."""

    allowed_profiles: list[str] | None = None
    max_depth: int | None = Field(None, ge=0)
    max_fanout: int | None = Field(None, ge=1)
    max_terminals: int | None = Field(None, ge=1)


class Node(_Strict):
    handoff: str | None = Field(None, description="Profile to hand off to (blocking).")
    assign: str | None = Field(None, description="Profile to assign to (reports back).")
    send_message: str | None = Field(None, description="Node whose terminal gets the message.")
    needs: str | list[str] | None = None
    when: str | bool | None = Field(None, description="Jinja2 expression; node skipped if false.")
    for_each: str | list[Any] | None = Field(
        None, description="List (or template evaluating to one); one run per item.")
    max_parallel: int | None = Field(None, ge=1)
    prompt: str | None = Field(None, description="Jinja2 template, or a `## section` name.")
    timeout: Duration = None
    retries: int | None = Field(None, ge=0)
    retry_backoff: Duration = None
    provider: str | None = None
    working_directory: str | None = None
    continue_on_error: bool = False
    reply: bool = Field(False, description="send_message: wait for the receiver's answer.")
    description: str | None = None

    # (text, section title, file line) when the prompt names a `## section` of the body.
    # One private attribute, read through __pydantic_private__: 10,000 nodes add up.
    _section: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_kind(self) -> "Node":
        kinds = [k for k in NODE_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = " and ".join(kinds) if kinds else "none"
            raise FieldError(
                f"a node needs exactly one of handoff, assign, send_message (found {found})",
                hint="handoff: PROFILE blocks until the agent answers; assign: PROFILE runs it "
                     "in parallel; send_message: NODE writes to that node's terminal")
        if self.reply and kinds[0] != "send_message":
            raise FieldError("'reply' only applies to send_message nodes", field="reply")
        return self

    @property
    def kind(self) -> str:
        if self.handoff is not None:
            return "handoff"
        return "assign" if self.assign is not None else "send_message"

    @property
    def target(self) -> str:
        if self.handoff is not None:
            return self.handoff
        return self.assign if self.assign is not None else self.send_message  # type: ignore

    @property
    def needs_list(self) -> list[str]:
        if self.needs is None:
            return []
        return [self.needs] if isinstance(self.needs, str) else list(self.needs)

    @property
    def prompt_template(self) -> str | None:
        """The prompt text: the named `## section` of the body, or the prompt itself."""
        section = self._section_info()
        return section[0] if section is not None else self.prompt

    @property
    def prompt_section(self) -> str | None:
        section = self._section_info()
        return section[1] if section is not None else None

    @property
    def prompt_line(self) -> int | None:
        """File line where a section prompt's text starts (None for inline prompts)."""
        section = self._section_info()
        return section[2] if section is not None else None

    def _section_info(self) -> tuple | None:
        private = self.__pydantic_private__
        return private.get("_section") if private else None

    @property
    def timeout_seconds(self) -> float | None:
        return seconds(self.timeout)

    @property
    def retry_backoff_seconds(self) -> float | None:
        return seconds(self.retry_backoff)


class Workflow(DocumentModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"title": "cao workflow"})

    name: str = Field(..., min_length=1)
    description: str | None = None
    inputs: dict[InputName, InputSpec] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)
    limits: Limits = Field(default_factory=Limits)
    keep_terminals: bool = Field(False, description="Keep agent terminals after the run.")
    nodes: dict[NodeId, Node] = Field(..., min_length=1)
    output: str | None = Field(None, description="Jinja2 template of the run's output.")

    _raw: Any = PrivateAttr(default=None)   # RawDocument, for positions in diagnostics

    @property
    def body(self) -> str:
        return self._body

    def bind_body(self, body: str, sections: dict[str, Any]) -> None:
        """Resolve prompts that name a `## section`; a node without a prompt uses the
        section titled with its id. `sections` maps title -> object with .text and .line."""
        self._body = body
        for node_id, node in self.nodes.items():
            name = node.prompt.strip() if node.prompt is not None else node_id
            section = sections.get(name) if "\n" not in name else None
            if section is not None:
                node._section = (section.text, name, section.line)

    def effective_provider(self, node: Node) -> str | None:
        return node.provider or self.defaults.provider

    def effective_timeout(self, node: Node) -> float | None:
        return node.timeout_seconds if node.timeout is not None else seconds(self.defaults.timeout)

    def effective_retries(self, node: Node) -> int:
        if node.retries is not None:
            return node.retries
        return self.defaults.retries or 0

    def effective_retry_backoff(self, node: Node) -> float | None:
        if node.retry_backoff is not None:
            return node.retry_backoff_seconds
        return seconds(self.defaults.retry_backoff)
