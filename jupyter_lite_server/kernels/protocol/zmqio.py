"""A lean bridge between ZMQ sockets and the asyncio event loop.

A ZMQ socket's file descriptor is edge-triggered and only says "something may
have changed": on every wake-up we drain all complete messages while
``EVENTS`` reports POLLIN, and after every send we look again, because a
send can consume the edge that announced incoming messages. Sends never
block the loop: our sockets have no send high-water mark, so a message is
queued in ZMQ (towards a peer that may still be starting); a socket left with
no pipe to any peer refuses it, and it is dropped with a warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import zmq

# Plain ints: pyzmq's constants are enums, and each ``&`` or ``|`` on one builds a new
# enum member (a tenth of the per-message work seen in a profile of execute round trips).
_POLLIN = int(zmq.POLLIN)
_EVENTS = int(zmq.EVENTS)
_NOBLOCK = int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.SNDMORE) | _NOBLOCK

#: Frames at least this large are not copied out of ZMQ: they stay memoryviews of the
#: ZMQ message all the way to the websocket (a 50 MB output is never copied by us).
ZERO_COPY_MIN = 65536


def recv_parts(socket: zmq.Socket[Any]) -> list[bytes | memoryview]:
    """One multipart message; small frames as bytes, large ones as zero-copy views."""
    parts: list[bytes | memoryview] = []
    while True:
        frame = socket.recv(_NOBLOCK, copy=False)
        parts.append(frame.bytes if len(frame) < ZERO_COPY_MIN else frame.buffer)
        if not frame.more:
            return parts


log = logging.getLogger("jls.kernels")


class ZMQChannel:
    """One ZMQ socket, read from the event loop; ``on_message`` gets each multipart message."""

    def __init__(
        self, socket: zmq.Socket[Any], on_message: Callable[[list[Any]], None] | None = None
    ) -> None:
        self.socket = socket
        self.on_message = on_message
        self._loop = asyncio.get_running_loop()
        self._fd: int = socket.getsockopt(zmq.FD)  # type: ignore[assignment]
        self._closed = False
        self._paused = False
        self._loop.add_reader(self._fd, self._drain)
        self._loop.call_soon(self._drain)  # messages may already be waiting: no edge for them

    def _drain(self) -> None:
        socket = self.socket
        while not (self._closed or self._paused):
            if not socket.getsockopt(_EVENTS) & _POLLIN:  # type: ignore[operator]
                return
            try:
                frames = recv_parts(socket)
            except zmq.Again:
                break
            if self.on_message is not None:
                self.on_message(frames)

    def pause(self) -> None:
        """Read nothing more (messages wait in ZMQ, in order) until :meth:`resume`."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        if not self._closed:  # the edge that announced the waiting messages is gone
            self._loop.call_soon(self._drain)

    def _events(self) -> int:
        return self.socket.getsockopt(_EVENTS)  # type: ignore[return-value]

    def send(self, frames: Sequence[bytes | memoryview]) -> bool:
        """Queue a message without ever blocking the event loop; False if it was dropped.

        With no send limit a socket only refuses when it has no pipe to any peer
        (libzmq can leave a DEALER so after its kernel went away); a blocking send
        would then freeze the whole server, as fuzzing restarts and shutdowns showed.
        """
        if self._closed:
            return False
        socket = self.socket
        try:
            # send_multipart's loop, with int flags. Only the first part can be refused:
            # once it is queued, libzmq takes the rest of the message.
            for frame in frames[:-1]:
                socket.send(frame, _MORE_NOBLOCK)
            socket.send(frames[-1], _NOBLOCK)
        except zmq.Again:
            log.warning("Dropped a message to %s: the kernel is not connected",
                        self.socket.getsockopt_string(zmq.LAST_ENDPOINT) or "a kernel")  # fmt: skip
            return False
        if self._events() & _POLLIN:
            self._loop.call_soon(self._drain)
        return True

    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        self.socket.close(linger=0)


def open_channel(
    url: str,
    socket_type: int,
    on_message: Callable[[list[bytes]], None] | None = None,
    identity: bytes | None = None,
    subscribe: bool = False,
) -> ZMQChannel:
    """A connected socket of ``socket_type`` wrapped for the event loop."""
    socket: zmq.Socket[Any] = zmq.Context.instance().socket(socket_type)
    socket.linger = 0
    # The kernel may not have bound its ports yet: retry soon (10 ms, backing off to
    # 100 ms) rather than libzmq's fixed 100 ms, so a starting kernel is reached sooner.
    socket.reconnect_ivl = 10
    socket.reconnect_ivl_max = 100
    socket.sndhwm = 0
    socket.rcvhwm = 0  # queue here rather than let the kernel's PUB drop output
    if identity:
        socket.identity = identity
    if subscribe:
        socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.connect(url)
    return ZMQChannel(socket, on_message)
