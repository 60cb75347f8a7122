"""A process's stderr, read on the event loop: logged line by line, its end kept."""

from __future__ import annotations

import asyncio
import collections
import logging


class StderrLines(asyncio.Protocol):
    """Forwards a process's stderr to the log, a line at a time, and keeps its last lines."""

    def __init__(self, label: str, tail: collections.deque[str], log: logging.Logger) -> None:
        self._label = label
        self._log = log
        self._tail = tail
        self._partial = b""
        #: INFO while the kernel runs; DEBUG once it is being shut down on purpose (a kernel
        #: stopped mid-execution prints ipykernel's own tracebacks: noise, not news).
        self.level = logging.INFO
        #: Set at the end of the pipe: everything the process wrote has been read.
        self.finished = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            self._emit(raw)

    def eof_received(self) -> bool:
        if self._partial:
            self._emit(self._partial)
            self._partial = b""
        self.finished.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.finished.set()

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        self._tail.append(line)
        self._log.log(self.level, "[%s] %s", self._label, line)
