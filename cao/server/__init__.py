"""The cao-server: FastAPI app owning all state (SQLite) and all tmux sessions."""
