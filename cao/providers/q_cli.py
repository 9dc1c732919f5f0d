"""Amazon Q Developer CLI (`q chat`). UNVERIFIED: Q CLI is installed by a native
installer with an AWS Builder ID login, neither available offline here; behaviour is
taken from its public documentation and issue threads (docs/providers.md).

Agents live in `~/.aws/amazonq/cli-agents/<name>.json`; login state in
`~/.local/share/amazon-q`, linked into the per-terminal HOME.
"""

from __future__ import annotations

import re

from cao.providers._q_family import QFamilyProvider


class QCliProvider(QFamilyProvider):
    name = "q_cli"
    binary = "q"
    install_hint = "install Amazon Q Developer CLI (https://aws.amazon.com/q/developer/), then `q login`"
    agents_dir = ".aws/amazonq/cli-agents"
    data_dirs = (".local/share/amazon-q", ".aws/sso", ".aws/credentials", ".aws/config")
    error_res = [re.compile(r"Amazon Q is having trouble responding right now")]
