"""Which provider runs an agent when nothing names one.

Order: the configured default (`cao config set default_provider NAME`), else `kiro_cli`
when installed (the reference system's default), else the first installed CLI in
`registry.DEFAULT_ORDER`, else an error that lists what was looked for and how to get it.
"Installed" means the CLI's executable is on PATH; nothing is started to find out.
"""

from __future__ import annotations

import shutil

from cao.providers.registry import DEFAULT_ORDER, BUILTIN_PROVIDERS, UnknownProviderError, get_provider, is_known


class NoProviderError(LookupError):
    pass


def installed(name: str) -> bool:
    binary = get_provider(name).binary
    return bool(binary) and shutil.which(binary) is not None


def resolve_default_provider(configured: str | None = None) -> str:
    if configured is None:
        from cao import user_config

        configured = user_config.get("default_provider")
    if configured:
        if not is_known(configured):
            raise UnknownProviderError(
                f"default_provider {configured!r} is not a provider cao knows; change it with "
                "`cao config set default_provider NAME` (see `cao providers`)")
        return configured
    order = ["kiro_cli"] + [n for n in DEFAULT_ORDER if n != "kiro_cli"]
    for name in order:
        if name in BUILTIN_PROVIDERS and installed(name):
            return name
    lines = [f"  {name:<13} {get_provider(name).binary:<10} {get_provider(name).install_hint}"
             for name in order]
    raise NoProviderError(
        "no agent CLI found to run this agent, and no default provider is configured.\n"
        "Looked on PATH for:\n" + "\n".join(lines) + "\n"
        "Install one (scripts/install-agent-clis.sh installs the verified versions into "
        "~/.cache/cao/agent-clis/bin), name one with `provider:` in the profile or "
        "`--provider`, or set a default: `cao config set default_provider NAME`. The "
        "built-in `python` provider needs no CLI.")
