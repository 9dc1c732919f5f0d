"""cao: a declarative workflow engine for CLI AI agents running in tmux.

Kept import-free on purpose: the CLI and the python agent host import this package on
their hot path, so heavy modules are imported where they are used.
"""

__version__ = "0.1.0"
