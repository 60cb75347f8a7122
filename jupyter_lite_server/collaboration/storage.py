"""A room's file: loaded through the ContentsManager, saved back after changes settle.

The file is found by its id at every save (so a rename while the room is
open is followed). A save is conditional on the file being as the room last
saw it; a change made outside the room (another program, a save through the
contents API) is noticed by polling the file's modification time and loaded
into the document, which every peer then receives as an ordinary update.
When both changed, the file wins and the room's unsaved edits are logged as
replaced (the same rule as jupyter-collaboration's).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import functools
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from jupyter_ydoc import YBlob, YNotebook, YUnicode
from jupyter_ydoc.ybasedoc import YBaseDoc
from pycrdt import Array, Doc, Map, Text

from ..contents.errors import ChangedMeanwhile, ContentsError, NotFound
from ..contents.manager import ContentsManager
from .document import Room
from .fileids import FileIds

log = logging.getLogger("jls.collaboration")


class RoomRefused(Exception):
    """The room cannot open: ``code`` is the close code JupyterLab's provider explains."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class FileState(enum.Enum):
    LOADING = "loading"
    OPEN = "open"
    RELOADING = "reloading"
    CLOSED = "closed"


@dataclass
class FileOptions:
    save_delay: float
    poll_interval: float
    max_bytes: int


def document_for(fmt: str, kind: str, doc: Doc) -> YBaseDoc:
    if kind == "notebook":
        return YNotebook(doc)
    if fmt == "base64":
        return YBlob(doc)
    return YUnicode(doc)


class DocumentFile:
    def __init__(
        self, room: Room, file_id: str, fmt: str, kind: str,
        contents: ContentsManager, file_ids: FileIds, options: FileOptions,
    ) -> None:  # fmt: skip
        self.room = room
        self.file_id = file_id
        self.fmt = fmt
        self.kind = kind
        self.contents = contents
        self.file_ids = file_ids
        self.options = options
        room.view_factory = functools.partial(document_for, fmt, kind)
        self.state = FileState.LOADING
        self.path = ""
        self.ready = asyncio.Event()  # set while peers' messages may be applied
        self._modified: str | None = None  # the file's mtime as the room last saw it
        self._unsaved = False
        self._saved_digest = b""  # of the content last loaded or saved: unchanged, not written
        self._save_timer: asyncio.TimerHandle | None = None
        self._changed_at = 0.0  # the loop's time of the last change by a peer
        self._autosave: asyncio.Future[str] | None = None
        self._save_lock = asyncio.Lock()
        self._watcher: asyncio.Task | None = None
        room.on_save_request = self.save_now
        room.on_change = self._on_change

    @property
    def document(self) -> YBaseDoc:
        """The content, decoded for the server's use (kept for a few seconds after)."""
        return cast(YBaseDoc, self.room.view())

    # --- loading --------------------------------------------------------------------

    async def load(self) -> None:
        path = await self.file_ids.path_of(self.file_id)
        if path is None:
            raise RoomRefused(4404, f"no file has the id {self.file_id}")
        self.path = path
        model = await self._read()
        self._modified = model["last_modified"]
        await self._set_content(model["content"])
        self.document.path = path
        self._mark_saved(model)
        self._saved_digest = _digest(await self.document.aget())
        self.state = FileState.OPEN
        self.ready.set()
        self._watcher = asyncio.ensure_future(self._watch())

    async def _read(self) -> dict[str, Any]:
        try:
            info = await self.contents.get(self.path, content=False)
            if self.options.max_bytes and (info.get("size") or 0) > self.options.max_bytes:
                raise RoomRefused(4400, f"{self.path} is larger than the server's limit "
                                        f"of {self.options.max_bytes} bytes")  # fmt: skip
            model = await self.contents.get(self.path, type=self.kind, format=self._format(),
                                            require_hash=True)  # fmt: skip
        except NotFound:
            raise RoomRefused(4404, f"{self.path} does not exist") from None
        except ContentsError as exc:
            raise RoomRefused(4400, str(exc)) from None
        return model

    def _format(self) -> str | None:
        return None if self.kind == "notebook" else self.fmt

    async def _set_content(self, content: Any) -> None:
        """Put the file's content into the document, marked as not needing a save."""
        if self.fmt == "base64" and isinstance(content, str):
            content = base64.b64decode(content)
        self.ready.clear()
        try:
            await self.document.aset(content)
        finally:
            self.ready.set()

    # --- saving ---------------------------------------------------------------------

    def _on_change(self) -> None:
        """A peer changed the document: save once changes stop for ``save_delay``."""
        if self.state is FileState.CLOSED:
            return
        self._unsaved = True
        loop = asyncio.get_running_loop()
        self._changed_at = loop.time()
        if self._save_timer is None:  # one timer, not one per update
            self._save_timer = loop.call_later(self.options.save_delay, self._save_when_quiet)

    def _save_when_quiet(self) -> None:
        loop = asyncio.get_running_loop()
        quiet_for = loop.time() - self._changed_at
        if quiet_for < self.options.save_delay:
            self._save_timer = loop.call_later(
                self.options.save_delay - quiet_for, self._save_when_quiet
            )
            return
        self._save_timer = None
        self._autosave = asyncio.ensure_future(self.save_now())

    async def save_now(self) -> str:
        """Write the document to its file: "success", "skipped" (nothing to write, or
        the file is gone) or "failed" (logged)."""
        if self._save_timer is not None:
            self._save_timer.cancel()
            self._save_timer = None
        async with self._save_lock:
            if self.state is not FileState.OPEN:
                return "skipped"
            path = self.path
            if not path:
                return "skipped"  # deleted
            self._unsaved = False
            try:
                content = await self.document.aget()
                digest = _digest(content)
                if digest == self._saved_digest:  # a change of state only (the dirty flag)
                    self._mark_saved({})
                    return "success"
                if self.fmt == "base64":
                    content = base64.b64encode(content).decode("ascii")
                model = {"type": self.kind, "format": self._format() or "json",
                         "content": content}  # fmt: skip
                saved, _ = await self.contents.save(model, path, unchanged_since=self._modified)
            except ChangedMeanwhile:
                log.warning("%s was changed outside the collaboration room and in it: the "
                            "file's version replaces the room's unsaved edits", path)  # fmt: skip
                await self._reload()
                return "failed"
            except (ContentsError, OSError, ValueError, TypeError, KeyError) as exc:
                self._unsaved = True
                log.error("Could not save %s from its collaboration room: %s", path, exc)
                return "failed"
            self._modified = saved["last_modified"]
            self._saved_digest = digest
            with contextlib.suppress(ContentsError, OSError):  # the file as it is now
                saved = await self.contents.get(path, content=False, require_hash=True)
            self._mark_saved(saved)
            return "success"

    def _mark_saved(self, model: dict[str, Any]) -> None:
        """The document is what the file holds: JupyterLab compares this hash with the
        file's before it saves, and asks the user when they differ."""
        if self.document.dirty is not False:
            self.document.dirty = False
        if model.get("hash") and self.document.hash != model["hash"]:
            self.document.hash = model["hash"]

    def follow_move(self, old: str, new: str) -> None:
        """``old`` (the file, or a folder holding it) was renamed to ``new``."""
        if self.path == old or self.path.startswith(old + "/"):
            self.path = new + self.path[len(old):]
            self.document.path = self.path

    def follow_delete(self, path: str) -> None:
        if self.path and (self.path == path or self.path.startswith(path + "/")):
            log.warning("%s was deleted: its collaboration room no longer saves", self.path)
            self.path = ""

    # --- changes made outside the room ------------------------------------------------

    async def _watch(self) -> None:
        while self.state is FileState.OPEN:
            await asyncio.sleep(self.options.poll_interval)
            if self._save_lock.locked() or self.state is not FileState.OPEN:
                continue
            path = self.path
            if not path:
                continue
            try:
                info = await self.contents.get(path, content=False)
            except (ContentsError, OSError):
                continue
            if info["last_modified"] != self._modified and not self._save_lock.locked():
                if self._unsaved:
                    log.warning("%s was changed outside its collaboration room: the file's "
                                "version replaces the room's unsaved edits", path)  # fmt: skip
                else:
                    log.info("%s was changed outside its collaboration room: reloaded", path)
                await self._reload()

    async def _reload(self) -> None:
        self.state = FileState.RELOADING
        try:
            model = await self.contents.get(self.path, type=self.kind, format=self._format(),
                                            require_hash=True)  # fmt: skip
            self._modified = model["last_modified"]
            await self._set_content(model["content"])
            self._unsaved = False
            self._mark_saved(model)
            self._saved_digest = _digest(await self.document.aget())
        except (ContentsError, OSError) as exc:
            log.warning("Could not reload %s into its collaboration room: %s", self.path, exc)
        finally:
            if self.state is FileState.RELOADING:
                self.state = FileState.OPEN

    async def close(self) -> None:
        """The room is unloaded: a last save of what is not on disk yet."""
        if self._unsaved:
            await self.save_now()
        self.state = FileState.CLOSED
        if self._save_timer is not None:
            self._save_timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    # --- outputs of cells whose browser left (outputs/keeper.py) -----------------------

    def set_cell_outputs(
        self, cell_id: str, outputs: list[dict[str, Any]], execution_count: int | None,
        running: bool,
    ) -> bool:  # fmt: skip
        """Write a cell's outputs into the shared notebook; False when it has no such cell."""
        if not isinstance(self.document, YNotebook) or self.state is not FileState.OPEN:
            return False
        for ycell in _code_cells(self.document):
            if ycell.get("id") != cell_id:
                continue
            with self.room.decoded().transaction():
                youtputs = ycell.get("outputs")
                if not isinstance(youtputs, Array):
                    ycell["outputs"] = youtputs = Array()
                youtputs.clear()
                youtputs.extend([_youtput(output) for output in outputs])
                ycell["execution_count"] = execution_count
                ycell["execution_state"] = "busy" if running else "idle"
            self._on_change()
            return True
        return False


def _digest(content: Any) -> bytes:
    data = content if isinstance(content, bytes) else json.dumps(content, sort_keys=True).encode()
    return hashlib.sha256(data).digest()


def _code_cells(notebook: YNotebook) -> Iterator[Map]:
    for ycell in notebook.ycells:
        if isinstance(ycell, Map) and ycell.get("cell_type") == "code":
            yield ycell


def _youtput(output: dict[str, Any]) -> Map:
    """An output as jupyter_ydoc stores it: stream text as shared text."""
    output = dict(output)
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        output["text"] = Text(text if isinstance(text, str) else "".join(text))
    return Map(output)
