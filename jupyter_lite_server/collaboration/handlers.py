"""/api/collaboration/session/<path> and the room websocket /api/collaboration/room/<room>.

Errors after the upgrade are close codes JupyterLab's collaboration front
end explains to the user: 4404 (no such file), 4400 (refused: too large, not
a document), 1003 with a JSON reason (the document was unloaded or the server
restarted: reload), 1007 (a message that is not the protocol), 1009 (an
update that would take the document over the limit), 1013 (reads too slowly).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from tornado import websocket

from ..compat.tornado_ws import open_stream, unsent_bytes
from ..contents.handlers import ContentsAPIHandler
from ..sessions.database import DatabaseUnavailable
from ..web.base import ApiError, AuthenticatedWebSocketMixin
from .document import Room, TooLarge
from .protocol import BadMessage
from .rooms import CollaborationManager, SessionExpired
from .storage import DocumentFile, RoomRefused

log = logging.getLogger("jls.collaboration")


def _manager(settings: dict[str, Any]) -> CollaborationManager:
    return settings["collaboration"]


class SessionHandler(ContentsAPIHandler):
    async def put(self, path: str) -> None:
        body = self.get_json_body(required=True)
        fmt, kind = body.get("format"), body.get("type")
        if not isinstance(fmt, str) or not isinstance(kind, str):
            raise ApiError(400, 'The body needs "format" and "type" (e.g. "json", "notebook")')
        try:
            session = await self.call(_manager(self.settings).session(path, fmt, kind))
        except DatabaseUnavailable as exc:
            raise ApiError(exc.http_status, str(exc)) from None
        self.finish_json(session)


class RoomHandler(AuthenticatedWebSocketMixin, websocket.WebSocketHandler):
    """One peer of a room: the room's messages out, the peer's messages in."""

    room: Room | None = None
    file: DocumentFile | None = None
    send_limit = 0  # client_send_buffer, read once per connection

    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.refuse_unless_authenticated()
        await super().get(*args, **kwargs)

    async def open(self, room_id: str) -> None:
        manager = _manager(self.settings)
        session_id = self.get_query_argument("sessionId", "")
        try:
            room = await manager.enter(room_id, session_id)
        except SessionExpired:
            log.info("Room %s: a client came back to a document this server no longer holds; "
                     "it is asked to reload", room_id)  # fmt: skip
            self.close(1003, json.dumps({"reason": "unknown_session", "sessionId": session_id,
                                         "reloadable": True}))  # fmt: skip
            return
        except RoomRefused as exc:
            log.warning("Room %s refused: %s", room_id, exc)
            self.close(exc.code, str(exc)[:120])
            return
        except DatabaseUnavailable as exc:
            log.error("Room %s: %s", room_id, exc)
            self.close(4500, "The sessions database is unavailable")
            return
        if self.ws_connection is None or self.ws_connection.is_closing():
            room.leave(self)  # the client left while the document loaded: unloaded later
            return
        self.room = room
        self.file = manager.file_of(room)
        self.send_limit = self.settings["kernel_manager"].client_send_buffer
        room.join(self)

    async def on_message(self, message: str | bytes) -> None:
        room = self.room
        if room is None:
            return
        if isinstance(message, str):
            self._refuse(1003, "The room protocol is binary")
            return
        if self.file is not None and not self.file.ready.is_set():
            await self.file.ready.wait()  # the file is being (re)loaded into the document
        try:
            room.receive(self, message)
        except BadMessage as exc:
            self._refuse(1007, f"Malformed message: {exc}")
            return
        except TooLarge as exc:
            self._refuse(1009, f"Update refused: {exc}")
            return
        await asyncio.sleep(0)  # one busy client never keeps the others waiting

    def _refuse(self, code: int, reason: str) -> None:
        log.warning("Room %s: closing the connection of %s: %s", self.room and self.room.room_id,
                    self.request.remote_ip, reason)  # fmt: skip
        self.close(code, reason[:120])

    def on_close(self) -> None:
        if self.room is not None:
            room, self.room = self.room, None
            room.leave(self)

    # --- the room's Peer protocol ---------------------------------------------------

    def send(self, message: bytes) -> None:
        stream = open_stream(self)
        if stream is None:
            return
        if unsent_bytes(stream) > self.send_limit:
            self._refuse(1013, "Reading too slowly: reconnect")
            return
        self.write_message(message, binary=True)


def routes() -> list[tuple]:
    return [
        (r"api/collaboration/session/(.*)", SessionHandler),
        (r"api/collaboration/room/(.+)", RoomHandler),
    ]
