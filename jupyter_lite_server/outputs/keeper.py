"""Taking over the execute requests of a websocket that closed before they finished.

JupyterLab sends the cell's id with each ``execute_request``
(``metadata.cellId``) and the session says which notebook the kernel belongs
to. When the websocket that sent a request closes before its reply came (the
laptop lid, a page reload, a closed tab), the request is *adopted*: its
outputs are collected from the kernel's iopub as the notebook stores them,
and written into that cell of the notebook file, every ``flush_interval``
seconds while it runs and once when it ends. Each write re-reads the file
and changes only the adopted cells, found by id: a cell deleted meanwhile, or
a notebook renamed or deleted, is logged and skipped, never clobbered. A
client that comes back with its own session gets the replay instead, and the
server stops writing for it, so nothing is shown twice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from traitlets import Bool, Float, Int
from traitlets.config import LoggingConfigurable

from ..contents.errors import ChangedMeanwhile, ContentsError
from ..contents.manager import ContentsManager
from ..sessions.manager import SessionError
from .cell import CellOutputs

if TYPE_CHECKING:  # the kernel modules load zmq: with the first kernel, not at start-up
    from ..kernels.lifecycle.kernel import ManagedKernel
    from ..kernels.protocol import wire
    from ..sessions.manager import SessionManager

log = logging.getLogger("jls.outputs")

#: Seconds between writes into a shared document that someone has open: they watch it live.
LIVE_FLUSH_INTERVAL = 0.2


class LiveNotebook(Protocol):
    def set_cell_outputs(self, cell_id: str, outputs: list[dict[str, Any]],
                         execution_count: int | None, running: bool) -> bool: ...  # fmt: skip


class LiveDocuments(Protocol):
    """Shared documents open in browsers (collaboration/rooms.py)."""

    def live_notebook(self, path: str) -> LiveNotebook | None: ...


@dataclass
class Watched:
    """A running request tied to a cell: its output so far, until its client is gone."""

    msg_id: str
    cell_id: str
    session_id: str
    kernel: ManagedKernel
    #: The request's id as it appears in its messages' parent headers (a byte search).
    needle: bytes = b""
    raw: collections.deque[wire.KernelMessage] = field(default_factory=collections.deque)
    size: int = 0
    dropped: int = 0
    adopted: bool = False
    path: str = ""
    cell: CellOutputs = field(default_factory=CellOutputs)
    finished: bool = False


class OutputKeeper(LoggingConfigurable):
    enabled = Bool(
        True, help="Write the output of cells whose browser went away into their notebook."
    ).tag(config=True)
    flush_interval = Float(
        3.0, help="Seconds between writes of a running cell's output whose browser went away."
    ).tag(config=True)
    max_output_bytes = Int(
        10 * 1024 * 1024,
        help="Output kept per running cell while its browser is connected, in case it leaves "
        "(the oldest is dropped beyond it, and the notebook says so).",
    ).tag(config=True)

    def __init__(self, contents: ContentsManager, sessions: SessionManager, **kw: Any) -> None:
        super().__init__(**kw)
        self.contents = contents
        self.sessions = sessions
        self._watched: dict[str, Watched] = {}
        self._by_kernel: dict[str, dict[str, Watched]] = {}
        self._observers: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._restoring: dict[str, tuple[str, str, str, str, str]] = {}
        #: With collaboration on: outputs go into the shared document where one is open.
        self.live_documents: LiveDocuments | None = None

    # --- the websocket edge's hooks (synchronous, on the event loop) --------------------

    def watch(self, kernel: ManagedKernel, msg_id: str, cell_id: str, session_id: str) -> None:
        """A client sent an execute request for a notebook cell."""
        watched = Watched(msg_id, cell_id, session_id, kernel, needle=f'"{msg_id}"'.encode())
        self._track(watched)

    def _track(self, watched: Watched) -> None:
        kernel = watched.kernel
        self._watched[watched.msg_id] = watched
        self._by_kernel.setdefault(kernel.id, {})[watched.msg_id] = watched
        if kernel.id not in self._observers:
            observer = functools.partial(self._observe, kernel.id)
            self._observers[kernel.id] = observer
            kernel.iopub_observers.append(observer)

    def replied(self, msg_id: str) -> None:
        """The request's reply reached its client: the client has it all."""
        watched = self._watched.get(msg_id)
        if watched is not None and not watched.adopted:
            self._forget(watched)

    def adopt(self, kernel: ManagedKernel, msg_ids: list[str]) -> None:
        """The client of ``msg_ids`` left before their replies: keep their results."""
        self._background(self._adopt(kernel, msg_ids))

    def reclaim(self, kernel_id: str, session_id: str) -> None:
        """The client session is back and gets the replay: its requests are its own again."""
        for watched in list(self._by_kernel.get(kernel_id, {}).values()):
            if watched.session_id == session_id:  # adopted, or about to be: not any more
                log.info("Kernel %s: session %s is back; it shows cell %s itself", kernel_id,
                         session_id, watched.cell_id)  # fmt: skip
                self._forget(watched)

    # --- collecting ---------------------------------------------------------------------

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _adopt(self, kernel: ManagedKernel, msg_ids: list[str]) -> None:
        requests = [w for m in msg_ids if (w := self._watched.get(m)) is not None]
        if not requests:
            return
        path = await self._notebook_of(kernel.id)
        if path is None:
            log.info("Kernel %s: %d request(s) lost their client, but the kernel belongs to no "
                     "single notebook: their output is only replayed", kernel.id,
                     len(requests))  # fmt: skip
            for watched in requests:
                self._forget(watched)
            return
        log.info("Kernel %s: its client left during %d request(s); their output goes into %s",
                 kernel.id, len(requests), path)  # fmt: skip
        for watched in requests:  # no await in this loop: the order of outputs is kept
            watched.adopted, watched.path = True, path
            if watched.dropped:
                watched.cell.add("stream", {"name": "stderr", "text": (
                    f"[jls] {watched.dropped} earlier output message(s) were not kept "
                    f"(limit {self.max_output_bytes} bytes)\n")})  # fmt: skip
            while watched.raw:
                self._apply(watched, watched.raw.popleft())
        for watched in requests:
            if watched.msg_id not in self._watched:
                continue  # finished (and written) while an earlier one was being recorded
            try:  # so that a next server goes on writing it after a crash (--sessions-db)
                await self.sessions.remember_adopted(
                    watched.msg_id, kernel.id, watched.cell_id, path, watched.session_id
                )
            except SessionError as exc:
                log.warning("Cell %s of %s is kept by this server only: %s", watched.cell_id,
                            path, exc)  # fmt: skip
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_forever())

    async def _notebook_of(self, kernel_id: str) -> str | None:
        paths = {
            s["path"] for s in await self.sessions.list_sessions()
            if s["kernel"]["id"] == kernel_id and s["type"] == "notebook"
        }  # fmt: skip
        return paths.pop() if len(paths) == 1 else None

    def _observe(self, kernel_id: str, msg: wire.KernelMessage) -> None:
        parent = msg.parts[1]
        for watched in self._by_kernel.get(kernel_id, {}).values():
            if watched.needle in parent:
                if watched.adopted:
                    self._apply(watched, msg)
                else:
                    watched.raw.append(msg)
                    watched.size += sum(map(len, msg.parts))
                    while watched.size > self.max_output_bytes and watched.raw:
                        old = watched.raw.popleft()
                        watched.size -= sum(map(len, old.parts))
                        watched.dropped += 1
                return

    def _apply(self, watched: Watched, msg: wire.KernelMessage) -> None:
        try:
            content = msg.content()
        except ValueError:
            return
        if msg.msg_type == "status":
            if content.get("execution_state") == "idle":
                watched.finished = True
                self._background(self._flush())
        else:
            watched.cell.add(msg.msg_type, content)

    def _forget(self, watched: Watched) -> None:
        if watched.adopted:
            self._background(self._forget_adopted(watched.msg_id))
        self._watched.pop(watched.msg_id, None)
        of_kernel = self._by_kernel.get(watched.kernel.id, {})
        of_kernel.pop(watched.msg_id, None)
        if not of_kernel:
            self._by_kernel.pop(watched.kernel.id, None)
            observer = self._observers.pop(watched.kernel.id, None)
            if observer is not None and observer in watched.kernel.iopub_observers:
                watched.kernel.iopub_observers.remove(observer)

    async def _forget_adopted(self, msg_id: str) -> None:
        with contextlib.suppress(SessionError):
            await self.sessions.forget_adopted(msg_id)

    # --- after a restart -----------------------------------------------------------------

    async def load_adopted(self) -> None:
        """Before kernels are reattached: the requests an earlier server adopted
        (``--sessions-db``), so that ``on_reattach`` follows them from the first message."""
        self._restoring = {row[0]: row for row in await self.sessions.adopted()}

    def on_reattach(self, kernel: ManagedKernel) -> None:
        """A kernel is reattached and about to be read (replayed output first)."""
        for msg_id, kernel_id, cell_id, _path, session_id in list(self._restoring.values()):
            if kernel_id == kernel.id:
                self._track(Watched(msg_id, cell_id, session_id, kernel,
                                    needle=f'"{msg_id}"'.encode()))  # fmt: skip

    async def restore(self) -> int:
        """After the reattach: go on with those requests. What their kernels published
        meanwhile (replayed by the iopub keepers) and later is added to the outputs
        already in the notebook."""
        restored = 0
        rows, self._restoring = self._restoring, {}
        for msg_id, _kernel_id, cell_id, path, _session_id in rows.values():
            watched = self._watched.get(msg_id)
            so_far = await self._cell_so_far(path, cell_id) if watched is not None else None
            if watched is None or so_far is None:  # kernel gone, or cell gone
                if watched is not None:
                    self._forget(watched)
                else:
                    await self._forget_adopted(msg_id)
                continue
            watched.cell, watched.adopted, watched.path = so_far, True, path
            while watched.raw:  # no await from here: the order of outputs is kept
                self._apply(watched, watched.raw.popleft())
            restored += 1
        if restored:
            log.info("Going on writing the output of %d cell(s) whose client left before the "
                     "last server stopped", restored)  # fmt: skip
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.ensure_future(self._flush_forever())
        return restored

    async def _cell_so_far(self, path: str, cell_id: str) -> CellOutputs | None:
        try:
            model = await self.contents.get(path, content=True, type="notebook")
        except (ContentsError, OSError):
            return None
        for cell in model["content"].get("cells", []):
            if cell.get("id") == cell_id and cell.get("cell_type") == "code":
                so_far = CellOutputs()
                so_far.outputs = [dict(o) for o in cell.get("outputs", [])]
                so_far.execution_count = cell.get("execution_count")
                return so_far
        return None

    # --- writing ------------------------------------------------------------------------

    async def _flush_forever(self) -> None:
        while any(w.adopted for w in self._watched.values()):
            await asyncio.sleep(self._next_flush())
            await self._flush()

    def _next_flush(self) -> float:
        live = self.live_documents
        if live is not None and any(
            w.adopted and live.live_notebook(w.path) is not None for w in self._watched.values()
        ):
            return min(self.flush_interval, LIVE_FLUSH_INTERVAL)
        return self.flush_interval

    async def _flush(self) -> None:
        """Write what changed; forget what finished (or whose kernel ended)."""
        by_path: dict[str, list[Watched]] = {}
        for watched in list(self._watched.values()):
            if not watched.adopted:
                continue
            if watched.kernel.lifecycle.is_ending:
                watched.finished = True
            if watched.cell.changed or watched.finished:
                by_path.setdefault(watched.path, []).append(watched)
        for path, cells in by_path.items():
            await self._write(path, cells)
            for watched in cells:
                if watched.finished:
                    self._forget(watched)

    async def _write(self, path: str, cells: list[Watched]) -> None:
        live = self.live_documents.live_notebook(path) if self.live_documents else None
        if live is not None:  # the room shows it at once and saves it with the rest
            for adopted in cells:
                adopted.cell.changed = False
                if not live.set_cell_outputs(adopted.cell_id, adopted.cell.for_notebook(),
                                             adopted.cell.execution_count, not adopted.finished):
                    log.warning("Output of cell %s not written: %s no longer has it",
                                adopted.cell_id, path)  # fmt: skip
            return
        lock = self._locks.setdefault(path, asyncio.Lock())
        async with lock:
            for adopted in cells:
                adopted.cell.changed = False
            for _attempt in range(5):  # a save by someone else in between: read it again
                try:
                    model = await self.contents.get(path, content=True, type="notebook")
                except (ContentsError, OSError) as exc:
                    log.warning("Output of %d cell(s) not written: %s is gone or unreadable "
                                "(%s)", len(cells), path, exc)  # fmt: skip
                    return
                if not self._apply_to(model["content"], path, cells):
                    return
                try:
                    await self.contents.save({"type": "notebook", "content": model["content"]},
                                             path, unchanged_since=model["last_modified"])
                except ChangedMeanwhile:
                    continue  # saved by someone else since it was read: never write over that
                except (ContentsError, OSError) as exc:
                    log.warning("Output of %d cell(s) not written into %s: %s", len(cells),
                                path, exc)  # fmt: skip
                    return
                log.info("Wrote the output of %d cell(s) into %s", len(cells), path)
                return

    @staticmethod
    def _apply_to(notebook: dict[str, Any], path: str, cells: list[Watched]) -> int:
        """Put the adopted cells' outputs into ``notebook``; how many it still has."""
        by_id = {c.get("id"): c for c in notebook.get("cells", [])}
        written = 0
        for adopted in cells:
            cell = by_id.get(adopted.cell_id)
            if cell is None or cell.get("cell_type") != "code":
                log.warning("Output of cell %s not written: %s no longer has it",
                            adopted.cell_id, path)  # fmt: skip
                continue
            cell["outputs"] = adopted.cell.for_notebook()
            cell["execution_count"] = adopted.cell.execution_count
            cell.setdefault("metadata", {})["trusted"] = True  # the user's own run
            written += 1
        return written
