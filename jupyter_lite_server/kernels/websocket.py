"""The kernel websocket: /api/kernels/<id>/channels.

Bridges one websocket to a kernel's ZMQ channels, in the default JSON
protocol or in ``v1.kernel.websocket.jupyter.org`` when the client offers it.
iopub comes from the kernel's shared subscriber (see lifecycle/kernel.py); shell,
control and stdin go through sockets of this connection. Frames that cannot
be understood are logged and dropped; the kernel is never affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketHandler

from ..compat.tornado_ws import open_stream, unsent_bytes
from ..web.base import ApiError, AuthenticatedWebSocketMixin
from .backlog import Backlog
from .lifecycle.parking import ParkedSession, dropped_notice, lost_output_notice
from .manager import MappingKernelManager, UnknownKernel
from .protocol import wire

#: The most of one large payload handed to the socket per event-loop turn (see _flush).
WRITE_SLICE = 1 << 20

log = logging.getLogger("jls.kernels")


class KernelChannelsHandler(AuthenticatedWebSocketMixin, WebSocketHandler):
    protocol = "json"
    _held: list[wire.ClientMessage]
    _outgoing: list[wire.Frame]
    _flush_scheduled = False
    #: Bytes given to the stream and not yet sent (as of the last flush) plus those
    #: queued since; beyond ``client_send_buffer`` output waits in ``_backlog``.
    _queued = 0
    _backlog: Backlog | None = None
    _send_limit = 0
    _backlog_limit = 0
    #: Requests this client waits for that JupyterLab tied to a cell (their msg_ids).
    _running: set[str]  # made in open()

    @property
    def kernel_manager(self) -> MappingKernelManager:
        return self.settings["kernel_manager"]

    async def get(self, kernel_id: str) -> None:
        """Refuse the upgrade unless authenticated and the kernel exists."""
        await self.refuse_unless_authenticated()
        if kernel_id not in self.kernel_manager:
            raise ApiError(404, f"Kernel does not exist: {kernel_id}", "Not Found")
        self.session_id = self.get_query_argument("session_id", "")
        await super().get(kernel_id)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return wire.V1_SUBPROTOCOL if wire.V1_SUBPROTOCOL in subprotocols else None

    async def open(self, kernel_id: str) -> None:
        self.set_nodelay(True)
        try:
            self.kernel = self.kernel_manager.get(kernel_id)
        except UnknownKernel:
            self.close(1011, "Kernel does not exist")
            return
        self.protocol = "v1" if self.selected_subprotocol == wire.V1_SUBPROTOCOL else "json"
        self._parse: Callable[[Any], wire.ClientMessage] = (
            wire.from_ws_v1 if self.protocol == "v1" else wire.from_ws_json
        )
        if self.session_id:
            for stale in [c for c in self.kernel.clients if c.session_id == self.session_id]:
                log.info("Kernel %s: session %s reconnected; closing its old websocket",
                         kernel_id, self.session_id)  # fmt: skip
                stale.close(1000, "Replaced by a new connection with the same session")
                stale.release(park=False)
        parked = self.kernel.unpark(self.session_id) if self.session_id else None
        if parked is not None and (keeper := self.settings.get("output_keeper")) is not None:
            keeper.reclaim(kernel_id, self.session_id)  # it gets the replay: no file writes
        self._held = []
        self._outgoing = []
        self._running = set()
        # Read once: the frame path checks them for every message.
        self._send_limit = self.kernel_manager.client_send_buffer
        self._backlog_limit = self.kernel_manager.replay_buffer_bytes
        if parked is not None and parked.streams:  # the same client is back: take its sockets
            self.streams = parked.streams
            for channel, stream in self.streams.items():
                stream.on_message = partial(self._on_kernel_reply, channel)
        else:
            identity = uuid.uuid4().hex.encode()
            self.streams = {
                channel: self.kernel.connection.connect(
                    channel,
                    partial(self._on_kernel_reply, channel),
                    identity if channel != "control" else None,
                )
                for channel in wire.CLIENT_CHANNELS
            }
        self.kernel.clients.add(self)
        if parked is not None:
            self._replay(parked)
        try:
            await self.kernel.wait_ready(self.kernel_manager.kernel_start_timeout)
        except (Exception, asyncio.CancelledError) as exc:
            log.warning("Kernel %s not ready for websocket: %s", kernel_id, exc)
            self.close(1011, "Kernel failed to start")

    def on_message(self, message: str | bytes) -> None:
        kernel = getattr(self, "kernel", None)
        if kernel is None or kernel.lifecycle.is_ending:
            return
        try:
            msg = self._parse(message)
        except wire.WireError as exc:
            log.warning(
                "Kernel %s: dropped a websocket frame from %s: %s",
                kernel.id,
                self.request.remote_ip,
                exc,
            )
            return
        if self._held or not kernel.is_ready:
            # Restarting: the kernel's output would be published before our
            # subscription is back. Hold messages, in order, until it is ready.
            self._held.append(msg)
            if len(self._held) == 1:
                self._release_task = asyncio.ensure_future(self._release_held())
            return
        self._send_to_kernel(msg)

    def _send_to_kernel(self, msg: wire.ClientMessage) -> None:
        stream = self.streams.get(msg.channel)
        if stream is None or stream.closed():
            return
        stream.send(wire.to_zmq(msg.parts, self.kernel.signer))
        self.kernel.touch()
        self.kernel.relayed += 1
        if msg.header.get("msg_type") == "execute_request":
            self.kernel.last_execute_header = msg.parts[0]
            self.kernel.stderr_before_execute = self.kernel.launched.failure_details()
            self._note_cell(msg)

    def _note_cell(self, msg: wire.ClientMessage) -> None:
        """Remember which notebook cell a running request is for (JupyterLab says, in
        ``metadata.cellId``): if this client leaves before the reply, the server keeps
        the cell's output (outputs/keeper.py)."""
        keeper = self.settings.get("output_keeper")
        if keeper is None:
            return
        try:
            cell_id = json.loads(bytes(msg.parts[2])).get("cellId")
        except (ValueError, AttributeError):
            return
        msg_id = msg.header.get("msg_id")
        if isinstance(cell_id, str) and isinstance(msg_id, str):
            self._running.add(msg_id)
            keeper.watch(self.kernel, msg_id, cell_id, self.session_id)

    async def _release_held(self) -> None:
        try:
            await self.kernel.wait_ready(self.kernel_manager.kernel_start_timeout)
        except Exception as exc:
            log.warning(
                "Kernel %s: dropping %d held message(s): %s", self.kernel.id, len(self._held), exc
            )
        else:
            for msg in self._held:
                self._send_to_kernel(msg)
        self._held = []

    def _on_kernel_reply(self, channel: str, frames: list[bytes]) -> None:
        try:
            msg = wire.parse_zmq(frames, self.kernel.signer)
        except wire.WireError as exc:
            log.warning("Kernel %s: dropped a %s message: %s", self.kernel.id, channel, exc)
            return
        self.kernel.relayed += 1
        if self._running and msg.msg_type == "execute_reply":
            with contextlib.suppress(ValueError):
                msg_id = str(msg.parent_header().get("msg_id"))
                if msg_id in self._running:
                    self._running.discard(msg_id)
                    self.settings["output_keeper"].replied(msg_id)
        self._send_to_client(msg, channel)

    def _send_to_client(self, msg: wire.KernelMessage, channel: str) -> None:
        if self.protocol == "v1":
            self.write_frame(wire.to_ws_v1(msg.parts, channel), True)
        else:
            self.write_frame(*wire.to_ws_json(msg, channel))

    def _replay(self, parked: ParkedSession) -> None:
        """What the kernel sent while this session was away, in order."""
        log.info("Kernel %s: session %s is back; replaying %d message(s)%s",
                 self.kernel.id, self.session_id, len(parked.messages),
                 f", {parked.dropped} discarded" if parked.dropped else "")  # fmt: skip
        if parked.dropped:
            self._send_to_client(dropped_notice(parked, self.session_id), "iopub")
        for msg, channel in parked.messages:
            self._send_to_client(msg, channel)
        parked.messages.clear()

    def write_frame(self, chunks: list[wire.Frame], binary: bool) -> None:
        """Queue one websocket message (given as chunks); all queued in this loop
        iteration go out together.

        Frames are written to the stream directly (no per-message Future or
        Task as tornado's write_message makes), and the frames of a burst of
        kernel messages share one send() call. Compression is never
        negotiated here, so frames are plain.
        """
        connection = self.ws_connection  # per frame: the cheap public check; the stream is
        if connection is None or connection.is_closing():  # taken once per flush
            return
        if self._backlog is not None:  # the client is not reading: wait, bounded
            if self._backlog.add(chunks, binary):
                log.warning("Kernel %s: client %s reads too slowly; dropping its oldest "
                            "waiting output beyond %d bytes", self.kernel.id,
                            self.request.remote_ip, self._backlog.limit_bytes)  # fmt: skip
            return
        length = sum(map(len, chunks))
        self._queued += length
        if self._queued > self._send_limit:
            self._backlog = Backlog(self._backlog_limit)  # for what follows
        opcode = 0x82 if binary else 0x81
        if length < 126:
            header = bytes((opcode, length))
        elif length < 65536:
            header = struct.pack("!BBH", opcode, 126, length)
        else:
            header = struct.pack("!BBQ", opcode, 127, length)
        if length < 65536:  # one bytes per small message: _flush then handles few items
            self._outgoing.append(b"".join((header, *chunks)))
        else:
            self._outgoing.append(header)
            self._outgoing.extend(chunks)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        chunks, self._outgoing = self._outgoing, []
        stream = open_stream(self)
        if stream is None or not chunks:
            return
        small: list[wire.Frame] = []
        sliced = False
        try:
            for index, chunk in enumerate(chunks):
                if len(chunk) < 65536:
                    small.append(chunk)
                    continue
                if small:  # keep order; big payloads are handed over without a copy
                    stream.write(b"".join(small))
                    small = []
                if len(chunk) > WRITE_SLICE:
                    # tornado writes a buffer for as long as the socket takes it: to a
                    # client reading as fast, 50 MB in one go, holding the event loop
                    # ~40 ms. One slice per loop turn; the rest (and all queued after
                    # it) waits until tornado has handed the slice to the socket.
                    view = memoryview(chunk)
                    written = stream.write(view[:WRITE_SLICE])
                    self._outgoing[:0] = [view[WRITE_SLICE:], *chunks[index + 1 :]]
                    self._flush_scheduled = sliced = True
                    written.add_done_callback(self._continue_flush)
                    break
                written = stream.write(chunk)
            if small:
                written = stream.write(b"".join(small))
        except StreamClosedError:
            return
        # What waits behind a slice counts as unsent, and the backlog is released only
        # once the stream took everything: a slow reader stays bounded as without slices.
        held = sum(map(len, self._outgoing)) if sliced else 0
        self._queued = unsent_bytes(stream) + held
        if self._backlog is None and self._queued > self._send_limit:
            self._backlog = Backlog(self._backlog_limit)
        if self._backlog is not None and not sliced:
            written.add_done_callback(self._drained)  # resume once the peer took it all

    def _continue_flush(self, written: asyncio.Future) -> None:
        if written.cancelled() or written.exception() is not None:
            self._outgoing = []  # the connection closed meanwhile
            self._flush_scheduled = False
            return
        self._flush()

    def _drained(self, written: asyncio.Future) -> None:
        """The stream took everything: send what waited, after a word on what was lost."""
        backlog, self._backlog = self._backlog, None
        self._queued = 0
        if backlog is None or written.cancelled() or written.exception() is not None:
            return  # the connection closed meanwhile
        if backlog.dropped:
            log.warning("Kernel %s: client %s caught up; %d message(s) of its output were "
                        "dropped", self.kernel.id, self.request.remote_ip, backlog.dropped)
            notice = lost_output_notice(
                backlog.dropped, backlog.limit_bytes, self.session_id or "",
                "because this client read more slowly than the kernel wrote",
            )  # fmt: skip
            self._send_to_client(notice, "iopub")
        for chunks, binary in backlog.take():
            self.write_frame(chunks, binary)

    def release(self, park: bool = True) -> None:
        """Stop exchanging messages with the kernel.

        With ``park`` (a client that just went away), the sockets are kept under
        the session id and what the kernel sends is buffered for its return;
        otherwise they are closed.
        """
        kernel = getattr(self, "kernel", None)
        streams, self.streams = getattr(self, "streams", {}), {}
        if kernel is not None:
            kernel.clients.discard(self)
            keeper = self.settings.get("output_keeper")
            running: set[str] = getattr(self, "_running", set())
            if running and keeper is not None:
                if park and not kernel.lifecycle.is_ending:
                    keeper.adopt(kernel, list(running))
                else:
                    for msg_id in running:
                        keeper.replied(msg_id)  # replaced by the same session, or ending
            self._running = set()
        manager = self.kernel_manager
        if (
            park
            and streams
            and self.session_id
            and kernel is not None
            and not kernel.lifecycle.is_ending
            and kernel.id in manager
            and manager.replay_buffer_bytes > 0
        ):
            kernel.max_parked = manager.replay_sessions_per_kernel
            kernel.park(
                self.session_id, streams, manager.replay_buffer_bytes,
                manager.replay_buffer_timeout,
            )  # fmt: skip
            return
        for stream in streams.values():
            stream.close()

    def close_for_kernel_shutdown(self) -> None:
        self.release(park=False)
        self.close(1000, "Kernel shut down")

    def on_close(self) -> None:
        self.release()
