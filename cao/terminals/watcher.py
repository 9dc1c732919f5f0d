"""Wake-ups when a terminal's transcript grows, from inotify: no polling loop.

tmux pipe-pane appends each terminal's output to `<log dir>/<terminal id>.log`; one
inotify watch on that directory tells us which terminal printed something, the moment
it does. Where inotify is unavailable the terminal manager's slow safety sweep still
notices changes, only later.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)


class LogWatcher:
    def __init__(self, directory: Path, on_change: Callable[[str], None]):
        self.directory = directory
        self.on_change = on_change
        self._inotify = None

    def start(self, loop: asyncio.AbstractEventLoop) -> bool:
        try:
            from inotify_simple import INotify, flags
        except ImportError:  # not Linux: the safety sweep covers it
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        self._inotify = INotify()
        self._inotify.add_watch(str(self.directory), flags.MODIFY | flags.CREATE)
        loop.add_reader(self._inotify.fileno(), self._drain)
        return True

    def _drain(self) -> None:
        try:
            events = self._inotify.read(timeout=0)
        except OSError as exc:
            log.warning("inotify read failed: %s", exc)
            return
        seen: set[str] = set()
        for event in events:
            name = event.name
            if name.endswith(".log") and name not in seen:
                seen.add(name)
                self.on_change(name[:-4])

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._inotify is not None:
            loop.remove_reader(self._inotify.fileno())
            os.close(self._inotify.fileno())
            self._inotify = None
