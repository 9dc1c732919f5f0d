"""Agent profiles: who an agent is (system prompt, provider, tools, MCP servers).

Every key a CLI Agent Orchestrator (CAO) profile may carry is accepted so that such
profiles load unchanged; types are permissive where CAO's are.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cao.spec.document import DocumentModel
from cao.spec.errors import FieldError

_ENTRYPOINT_HINT = 'write it as "package.module:function"'


class McpServerConfig(BaseModel):
    """One MCP server an agent gets (stdio `command` or remote `url`)."""

    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(None, description="Transport: stdio, http, sse, ...")
    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None
    timeout: int | float | None = Field(None, description="Timeout (as the provider expects it).")
    url: str | None = None
    # Common in Kiro / Q CLI / Claude MCP configs that CAO passes through unchanged.
    headers: dict[str, str] | None = None
    disabled: bool | None = None
    autoApprove: list[str] | None = None
    disabledTools: list[str] | None = None


class AgentProfile(DocumentModel):
    """An agent profile; the Markdown body is its system prompt."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              json_schema_extra={"title": "cao agent profile"})

    name: str = Field(..., min_length=1, description="Profile name, used by handoff/assign.")
    description: str | None = None
    provider: str | None = Field(None, description="Agent CLI; default provider when omitted.")
    role: str | None = Field(None, description="supervisor, developer, reviewer, or custom.")
    model: str | None = None
    allowedTools: list[str] | None = None
    engine: Any = None
    skills: Any = None
    capabilities: Any = None
    tags: Any = None
    container: Any = None
    provider_init_timeout: int | float | None = None
    prompt: str | None = Field(None, description="Extra prompt text (CAO); the body is preferred.")
    mcpServers: dict[str, McpServerConfig] | None = None
    tools: Any = None
    toolAliases: Any = None
    toolsSettings: Any = None
    resources: Any = None
    hooks: Any = None
    useLegacyMcpJson: bool | None = None
    permissionMode: str | None = None
    native_agent: Any = None
    codexProfile: Any = None
    codexConfig: Any = None
    hermesProfile: Any = None
    claudeConfig: Any = None
    grokNativeWorkflows: Any = None
    claudeSessionId: Any = None
    claudeMcpConfigFiles: Any = None
    yolo: Any = None
    entrypoint: str | None = Field(
        None, description='For provider python: the agent function, "module:function".')
    custom: dict[str, Any] | None = Field(
        None, description="Configuration of the `custom` provider.")


    @field_validator("entrypoint")
    @classmethod
    def _check_entrypoint(cls, value: str | None) -> str | None:
        if value is None:
            return value
        module, sep, func = value.partition(":")
        if not sep or not module.strip() or not func.strip() or " " in value.strip():
            raise FieldError(f"invalid entrypoint {value!r}", hint=_ENTRYPOINT_HINT)
        if not all(part.isidentifier() for part in module.split(".") + func.split(".")):
            raise FieldError(f"invalid entrypoint {value!r}", hint=_ENTRYPOINT_HINT)
        return value

    @property
    def system_prompt(self) -> str:
        """The Markdown body, stripped (empty when the profile has no body)."""
        return self._body

    @system_prompt.setter
    def system_prompt(self, text: str) -> None:
        self._body = (text or "").strip()

