"""A stdio MCP server with one tool, `echo_tool(text)`, for checking a CLI's MCP wiring.

Each call appends `text` and the caller's CAO_TERMINAL_ID to the file named by
ECHO_MCP_FILE, which is how a test sees that the call really went through the CLI.
Run: python -m tests.fakellm.echo_mcp  (or give the file path to the CLI's MCP config).
"""

from __future__ import annotations

import json
import os

from mcp.server import MCPServer

server = MCPServer("echo")


@server.tool()
def echo_tool(text: str) -> str:
    """Echo `text` back (and record the call)."""
    path = os.environ.get("ECHO_MCP_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"text": text,
                                 "terminal": os.environ.get("CAO_TERMINAL_ID")}) + "\n")
    return f"echoed: {text}"


if __name__ == "__main__":
    server.run()
