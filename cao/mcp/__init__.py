"""cao-mcp-server: the orchestration tools agents call from inside their CLI."""
