"""Provider lookup by name, built-in and third-party (entry point group `cao.providers`).

Names map to import paths so that listing or validating provider names never imports a
provider module (the validator must stay fast and dependency-free).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from importlib.metadata import entry_points

from cao.providers.base import Provider

BUILTIN_PROVIDERS: dict[str, str] = {
    "python": "cao.providers.python_agent:PythonProvider",
    "claude_code": "cao.providers.claude_code:ClaudeCodeProvider",
    "codex": "cao.providers.codex:CodexProvider",
    "gemini_cli": "cao.providers.gemini_cli:GeminiCliProvider",
    "opencode_cli": "cao.providers.opencode_cli:OpencodeCliProvider",
    "qwen_code": "cao.providers.qwen_code:QwenCodeProvider",
    "kiro_cli": "cao.providers.kiro_cli:KiroCliProvider",
    "q_cli": "cao.providers.q_cli:QCliProvider",
    "kimi_cli": "cao.providers.kimi_cli:KimiCliProvider",
    "copilot_cli": "cao.providers.copilot_cli:CopilotCliProvider",
    "custom": "cao.providers.custom:CustomProvider",
}

# Order in which an installed CLI is picked as the default provider (after the configured
# default and kiro_cli, the reference system's default).
DEFAULT_ORDER = ["kiro_cli", "claude_code", "codex", "gemini_cli", "opencode_cli", "qwen_code",
                 "q_cli", "kimi_cli", "copilot_cli"]


class UnknownProviderError(LookupError):
    pass


@lru_cache(maxsize=1)
def _plugin_providers() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="cao.providers")}


def provider_names() -> list[str]:
    return sorted({*BUILTIN_PROVIDERS, *_plugin_providers()})


def is_known(name: str) -> bool:
    return name in BUILTIN_PROVIDERS or name in _plugin_providers()


@lru_cache(maxsize=None)
def get_provider(name: str) -> Provider:
    target = BUILTIN_PROVIDERS.get(name) or _plugin_providers().get(name)
    if target is None:
        raise UnknownProviderError(
            f"unknown provider {name!r}; known providers: {', '.join(provider_names())}")
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls()
