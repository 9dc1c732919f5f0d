"""Server-sent-event framing shared by the dialects."""

from __future__ import annotations

import json
from typing import Any


def event(name: str | None, data: Any) -> bytes:
    """One SSE event; `name` None gives the data-only form (OpenAI, Gemini)."""
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {payload}\n\n".encode()


def split_text(text: str, size: int = 64) -> list[str]:
    """Stream text in several deltas, as real servers do, so clients join them."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]
