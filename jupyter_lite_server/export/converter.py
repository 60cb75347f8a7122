"""Notebook conversions through nbconvert, in a worker process of their own.

nbconvert (an optional dependency, pulled by the ``lab`` extra) is never
imported by the server: the formats are listed and every conversion is made
in a spawned worker process (``worker.py``), which also reads the notebook. So
an export of a large notebook holds up no other request, not even through the
interpreter lock. The worker starts with the first export and stays (one
process, ~60 MB) for the next ones; it is stopped with the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

from traitlets.config import Config

from ..service.worker_pool import WorkerCrashed, WorkerPool
from . import worker
from .worker import Exported, ExportError

__all__ = ["ExportError", "Exported", "NotebookConverter"]


class NotebookConverter:
    def __init__(self, config: Config | None = None, workers: int = 1) -> None:
        self._config = config or Config()
        self._pool = WorkerPool([worker.__name__], workers, fresh_per_task=False)
        self._formats: asyncio.Future[dict[str, dict[str, Any]]] | None = None

    async def _run(self, func: Any, *args: Any) -> Any:
        try:
            return await self._pool.run(f"{worker.__name__}:{func.__name__}", *args)
        except WorkerCrashed:  # killed, out of memory: a new one next time
            raise ExportError("The export worker process died; try again", 503) from None

    def warm(self) -> None:
        """Start the worker and list the formats in the background: JupyterLab asks for
        them when its first notebook opens, and the first answer takes a second."""
        if self._formats is None:
            self._formats = asyncio.ensure_future(self._run(worker.formats))
            self._formats.add_done_callback(self._forget_failure)

    def _forget_failure(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled() or task.exception() is not None:
            self._formats = None  # asked again next time (nbconvert installed meanwhile...)

    async def formats(self) -> dict[str, dict[str, Any]]:
        """Exporter names with their output MIME type, as jupyter_server lists them
        (listed once per server: exporters are installed packages)."""
        self.warm()
        assert self._formats is not None
        return dict(await asyncio.shield(self._formats))

    async def convert_file(
        self, format: str, os_path: str, name: str, metadata: dict[str, Any]
    ) -> Exported:
        """The notebook file ``os_path`` as ``format``; ``metadata`` goes to the templates
        (``name``, ``modified_date``, ``path`` for relative resources)."""
        return await self._run(
            worker.convert, format, ("file", os_path), name, metadata, self._config
        )

    async def convert_model(
        self, format: str, content: dict[str, Any], name: str, metadata: dict[str, Any]
    ) -> Exported:
        return await self._run(
            worker.convert, format, ("model", content), name, metadata, self._config
        )

    def close(self) -> None:
        self._pool.close()
