"""Terminals: agent CLIs in tmux windows, their output, status, input and inbox."""
