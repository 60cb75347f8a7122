"""Contents requests too large for the event loop go to worker processes.

See docs/scale.md: Python's JSON parser and encoder hold the GIL for a whole
call, so a 50 MB notebook is read, checked and written in a worker
(``contents/worker.py``, which imports the manager module: it is named here,
not imported), and the data passes through spool files, not the server's memory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any, Protocol

from ..service.worker_pool import WorkerPool
from .bodies import Spooled
from .errors import NotFound
from .trust import NotebookTrust

WORKER = "jupyter_lite_server.contents.worker"


class _Manager(Protocol):
    """What of the ContentsManager a worker must mirror."""

    root_dir: str
    allow_hidden: bool
    offload_bytes: int
    trust: NotebookTrust

    def os_path(self, path: str, must_exist: bool = True) -> str: ...

    async def run(self, func: Callable[..., Any], *args: Any) -> Any: ...


class Offload:
    def __init__(self, manager: _Manager) -> None:
        self._manager = manager
        self.workers = WorkerPool([WORKER])

    def is_large(self, path: str) -> bool:
        """A regular file of at least ``offload_bytes`` (blocking: run in an executor)."""
        try:
            st = os.stat(self._manager.os_path(path))
        except (NotFound, OSError):
            return False  # the manager's own read says what is wrong
        return stat.S_ISREG(st.st_mode) and st.st_size >= self._manager.offload_bytes

    async def settings(self) -> dict[str, Any] | None:
        """What a worker needs to act as this manager; None if it cannot (the notary's
        signature store lives in this process's memory)."""
        notary = await self._manager.trust.worker_options()
        if notary is None:
            return None
        manager = self._manager
        return {"root_dir": manager.root_dir, "allow_hidden": manager.allow_hidden,
                "notary": notary}  # fmt: skip

    async def read(
        self, settings: dict[str, Any], path: str, kind: str | None, fmt: str | None,
        want_hash: bool,
    ) -> Spooled:  # fmt: skip
        """The model of ``path`` as JSON in a spool file (the caller streams and removes it)."""
        out = await self._manager.run(Spooled)
        try:
            await self.workers.run(f"{WORKER}:get_json", settings, out.path, path, True, kind,
                                   fmt, want_hash)  # fmt: skip
        except BaseException:
            await self._manager.run(out.discard)
            raise
        return out

    async def save(
        self, settings: dict[str, Any], body: bytes | Spooled, path: str,
        metadata: dict[str, dict[str, Any]],
    ) -> tuple[dict[str, Any], bool]:  # fmt: skip
        """Parse, sign, validate and write a save body in a worker; the spool file goes."""
        spooled = body if isinstance(body, Spooled) else await self._manager.run(Spooled, body)
        try:
            return await self.workers.run(
                f"{WORKER}:save_body", settings, spooled.path, path, metadata
            )
        finally:
            await self._manager.run(spooled.discard)

    def close(self) -> None:
        self.workers.close()
