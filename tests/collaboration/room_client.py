"""A client of a collaboration room, as a browser's provider is: a Yjs doc kept in sync
over the real websocket (websocket-client), with pycrdt and jupyter_ydoc on our side."""

from __future__ import annotations

import time
from typing import Any

import websocket
from jupyter_ydoc import YNotebook
from pycrdt import Awareness, Doc, YSyncMessageType

from jupyter_lite_server.collaboration import protocol


class RoomClient:
    def __init__(self, server: Any, path: str, session: dict | None = None,
                 room_id: str = "") -> None:  # fmt: skip
        """The room of ``path`` (a new session, or ``session``), or the room ``room_id``."""
        self.server = server
        if session is None and not room_id:
            session = server.api().put(f"api/collaboration/session/{path}",
                                       json={"format": "json", "type": "notebook"}).json()
        self.session = session or {"sessionId": ""}
        if session is not None:
            room_id = f"{session['format']}:{session['type']}:{session['fileId']}"
        self.room_id = room_id
        url = server.url.replace("http", "ws", 1)
        self.ws = websocket.create_connection(
            f"{url}api/collaboration/room/{room_id}?sessionId={self.session['sessionId']}"
            f"&token={server.token}", timeout=10,
        )  # fmt: skip
        self.doc = Doc()
        self.notebook = YNotebook(self.doc)
        self.awareness = Awareness(self.doc)
        self.close_code: int | None = None
        self.close_reason = ""
        self.save_replies: list[str] = []
        self._sent_state = False
        self._subscription = self.doc.observe(self._send_update)

    def _send_update(self, event: Any) -> None:
        if not self._applying and event.update != b"\x00\x00":
            self.send(protocol.update_message(event.update))

    _applying = False

    def send(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def pump(self, seconds: float = 0.2, first_only: bool = False) -> None:
        """Read what the server sent for ``seconds`` (and answer its sync step 1); with
        ``first_only``, return after the first message."""
        deadline = time.monotonic() + seconds
        while self.close_code is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.ws.settimeout(remaining)
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                return
            except websocket.WebSocketConnectionClosedException:
                self.close_code = self.close_code or 1006
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                self.close_reason = data[2:].decode()
                return
            if opcode == websocket.ABNF.OPCODE_BINARY:
                self._handle(data)
                if first_only:
                    return

    def _handle(self, data: bytes) -> None:
        message = protocol.parse(data)
        if message.kind == protocol.Kind.SYNC:
            if message.step == YSyncMessageType.SYNC_STEP1:
                self.send(protocol.sync_step2_message(self.doc.get_update(message.payload)))
                if not self._sent_state:  # then ask for what we lack
                    self._sent_state = True
                    self.send(protocol.sync_step1_message(self.doc.get_state()))
            else:
                self._applying = True
                try:
                    self.doc.apply_update(message.payload)
                finally:
                    self._applying = False
        elif message.kind == protocol.Kind.AWARENESS:
            self.awareness.apply_awareness_update(message.payload, "server")
        elif message.kind == protocol.Kind.RAW:
            self.save_replies.append(message.request)

    def wait_for(self, predicate: Any, timeout: float = 10, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            assert self.close_code is None, f"closed {self.close_code} {self.close_reason}"
            assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
            self.pump(0.05, first_only=True)

    def synced(self) -> RoomClient:
        self.wait_for(lambda: self.notebook.cell_number > 0, what="the notebook's cells")
        return self

    def sources(self) -> list[str]:
        return [cell["source"] for cell in self.notebook.get()["cells"]]

    def edit(self, index: int, text: str) -> None:
        """Type ``text`` at the end of cell ``index``."""
        source = self.notebook.ycells[index]["source"]
        source += text

    def set_awareness(self, state: dict) -> None:
        self.awareness.set_local_state(state)
        update = self.awareness.encode_awareness_update([self.awareness.client_id])
        self.send(protocol.awareness_message(update))

    def close(self) -> None:
        self.ws.close()
        self.doc.unobserve(self._subscription)  # pycrdt would keep the doc alive otherwise
