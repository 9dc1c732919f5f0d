"""cao's own fake model server, speaking the four model-API dialects agent CLIs use.

See `script.py` for how a test scripts answers and tool calls, `server.py` for the
HTTP routes and control endpoints.
"""

from .model import fill_schema
from .script import Rule, directive_action
from .server import FakeLLM

__all__ = ["FakeLLM", "Rule", "directive_action", "fill_schema"]
