"""The collaboration rooms of one server: opened on first use, unloaded when left alone.

A room is named ``<format>:<type>:<file id>`` (a file's room) or anything
else without two colons (an awareness-only room, such as JupyterLab's
``JupyterLab:globalAwareness``). Each loaded document has a session id,
handed out by ``PUT /api/collaboration/session``: a client that comes back
with the id of a document the server no longer holds (unloaded after
``cleanup_delay`` alone, or a server restarted) is asked to reload, because
merging its copy into a freshly loaded one would duplicate the content.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

from ..contents.errors import InvalidContent
from ..contents.manager import ContentsManager
from ..sessions.database import Database
from .document import Room, log
from .fileids import FileIds
from .storage import DocumentFile, FileOptions, RoomRefused

FORMATS = {"notebook": ("json",), "file": ("text", "base64")}


class SessionExpired(Exception):
    """The client's copy belongs to a document this server no longer holds."""


class CollaborationManager(LoggingConfigurable):
    save_delay = Float(
        1.0, help="Seconds without a change before a shared document is saved to its file."
    ).tag(config=True)
    cleanup_delay = Float(
        60.0, help="Seconds a shared document stays loaded after its last client left."
    ).tag(config=True)
    poll_interval = Float(
        1.0, help="Seconds between checks of an open document's file for changes made "
        "outside its room."
    ).tag(config=True)  # fmt: skip
    max_document_bytes = Int(
        0, help="Largest shared document, in bytes (0: the server's request body limit)."
    ).tag(config=True)

    def __init__(
        self, contents: ContentsManager, database: Database, body_limit: int, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.contents = contents
        self.file_ids = FileIds(database)
        self.body_limit = body_limit
        self._rooms: dict[str, Room] = {}
        self._files: dict[str, DocumentFile] = {}
        self._opening: dict[str, asyncio.Future[Room]] = {}
        self._sessions: dict[str, str] = {}  # file id -> the session of its loaded document
        self._unloads: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        contents.rename_hooks.append(self._file_moved)
        contents.delete_hooks.append(self._file_deleted)

    @property
    def document_limit(self) -> int:
        return self.max_document_bytes or self.body_limit

    async def _file_moved(self, old: str, new: str) -> None:
        """A rename through the contents API: the id and the open documents follow."""
        for file in self._files.values():
            file.follow_move(old, new)
        await self.file_ids.moved(old, new)

    async def _file_deleted(self, path: str) -> None:
        for file in self._files.values():
            file.follow_delete(path)
        await self.file_ids.deleted(path)

    # --- PUT /api/collaboration/session/<path> ----------------------------------------

    async def session(self, path: str, fmt: str, kind: str) -> dict[str, str]:
        if fmt not in FORMATS.get(kind, ()):
            raise InvalidContent(f"A {kind!r} cannot be shared in format {fmt!r}")
        model = await self.contents.get(path, content=False)
        if model["type"] == "directory":
            raise InvalidContent(f"{path} is a directory: only files can be shared")
        file_id = await self.file_ids.id_for(model["path"])
        session_id = self._sessions.setdefault(file_id, str(uuid.uuid4()))
        return {"format": fmt, "type": kind, "fileId": file_id, "sessionId": session_id}

    # --- rooms --------------------------------------------------------------------------

    async def enter(self, room_id: str, session_id: str) -> Room:
        """The room, loaded if need be. RoomRefused or SessionExpired say why not."""
        if room_id.count(":") < 2:  # awareness only: nothing to load, nothing to expire
            room = self._rooms.get(room_id)
            if room is None:
                room = self._rooms[room_id] = Room(room_id, max_bytes=64 * 1024)
                room.on_empty = self._on_empty
            self._keep(room_id)
            return room
        fmt, kind, file_id = room_id.split(":", 2)
        if fmt not in FORMATS.get(kind, ()):
            raise RoomRefused(4400, f"unknown document kind {fmt}:{kind}")
        if self._sessions.get(file_id) != session_id:
            raise SessionExpired(room_id)
        self._keep(room_id)
        if room_id in self._rooms:
            return self._rooms[room_id]
        opening = self._opening.get(room_id)
        if opening is None:
            opening = self._opening[room_id] = asyncio.ensure_future(
                self._open(room_id, fmt, kind, file_id)
            )
            opening.add_done_callback(lambda _: self._opening.pop(room_id, None))
        return await asyncio.shield(opening)

    async def _open(self, room_id: str, fmt: str, kind: str, file_id: str) -> Room:
        room = Room(room_id, max_bytes=self.document_limit)
        options = FileOptions(self.save_delay, self.poll_interval, self.document_limit)
        file = DocumentFile(room, file_id, fmt, kind, self.contents, self.file_ids, options)
        try:
            await file.load()
        except RoomRefused:
            self._sessions.pop(file_id, None)
            room.close(1001, "")
            raise
        room.measure()
        room.on_empty = self._on_empty
        self._rooms[room_id] = room
        self._files[room_id] = file
        log.info("Opened %s for collaboration (room %s)", file.path, room_id)
        return room

    def file_of(self, room: Room) -> DocumentFile | None:
        return self._files.get(room.room_id)

    def _keep(self, room_id: str) -> None:
        timer = self._unloads.pop(room_id, None)
        if timer is not None:
            timer.cancel()

    def _on_empty(self, room: Room) -> None:
        loop = asyncio.get_running_loop()
        self._keep(room.room_id)
        room_id = room.room_id
        self._unloads[room_id] = loop.call_later(
            self.cleanup_delay, lambda: self._background(self._unload(room_id))
        )

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _unload(self, room_id: str) -> None:
        self._unloads.pop(room_id, None)
        room = self._rooms.get(room_id)
        if room is None or room.peers:
            return
        del self._rooms[room_id]
        file = self._files.pop(room_id, None)
        if file is not None:
            self._sessions.pop(file.file_id, None)
            await file.close()
            log.info("Unloaded %s: no client for %.0f s", file.path, self.cleanup_delay)
        room.close(1001, "")

    # --- the output keeper's view --------------------------------------------------------

    def live_notebook(self, path: str) -> DocumentFile | None:
        """The loaded shared notebook of ``path``, where outputs go instead of the file."""
        for file in self._files.values():
            if file.kind == "notebook" and file.path == path and file.room.peers:
                return file
        return None

    async def shutdown(self) -> None:
        """Save every document and say goodbye to its peers."""
        for timer in self._unloads.values():
            timer.cancel()
        self._unloads.clear()
        for room_id, room in list(self._rooms.items()):
            file = self._files.pop(room_id, None)
            if file is not None:
                try:
                    await file.close()
                except Exception as exc:  # one document's failure never stops the others
                    log.error("Could not save %s at shutdown: %s", file.path, exc)
            room.close(1001, "server shutting down")
        self._rooms.clear()
