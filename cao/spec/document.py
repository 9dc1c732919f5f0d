"""What every frontmatter document model carries besides its keys: body and source file."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, PrivateAttr


class DocumentModel(BaseModel):
    """Base of AgentProfile, Workflow and Flow; adds no keys, so schemas are unchanged."""

    _body: str = PrivateAttr(default="")
    _source_path: Path | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> Path | None:
        """The file the document was loaded from (None when built in memory)."""
        return self._source_path

    @source_path.setter
    def source_path(self, path: Path | None) -> None:
        self._source_path = Path(path) if path is not None else None
