"""Agent functions for the built-in `python` provider (deterministic, no LLM)."""
