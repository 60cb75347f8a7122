"""Output kept for a client that went away, replayed when it comes back.

When a websocket that named a ``session_id`` closes, its kernel sockets are
not closed: they are *parked* under that session id, and everything the
kernel sends to it (replies on shell/stdin/control and all iopub output) is
buffered, up to a byte limit and for a limited time. A websocket that
connects to the same kernel with the same ``session_id`` takes the parked
sockets over and first receives the buffered messages, in order. A browser
tab that lost its connection (laptop lid closed, network hiccup) thus gets
the results of the computation it started.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..protocol import wire

if TYPE_CHECKING:
    from ..protocol.zmqio import ZMQChannel

log = logging.getLogger("jls.kernels")


@dataclass
class ParkedSession:
    """A disconnected client's sockets and the messages it has missed."""

    session_id: str
    streams: dict[str, ZMQChannel]
    limit_bytes: int
    messages: collections.deque[tuple[wire.KernelMessage, str]] = field(
        default_factory=collections.deque
    )
    size: int = 0
    dropped: int = 0
    expiry: asyncio.TimerHandle | None = None

    def keep(self, msg: wire.KernelMessage, channel: str) -> None:
        self.messages.append((msg, channel))
        self.size += sum(map(len, msg.parts))
        while self.size > self.limit_bytes and self.messages:
            old, _ = self.messages.popleft()
            self.size -= sum(map(len, old.parts))
            self.dropped += 1

    def on_stream(self, channel: str, signer: wire.Signer):
        def receive(frames: list[bytes]) -> None:
            try:
                self.keep(wire.parse_zmq(frames, signer), channel)
            except wire.WireError as exc:
                log.warning("Dropped a %s message for parked session %s: %s",
                            channel, self.session_id, exc)  # fmt: skip

        return receive

    def close(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        for stream in self.streams.values():
            stream.close()
        self.streams = {}
        self.messages.clear()


def dropped_notice(parked: ParkedSession, session_id: str) -> wire.KernelMessage:
    """A stderr stream message telling the client how much output it lost."""
    return lost_output_notice(
        parked.dropped, parked.limit_bytes, session_id, "while no client was connected"
    )


def lost_output_notice(
    dropped: int, limit_bytes: int, session_id: str, when: str
) -> wire.KernelMessage:
    """A stderr stream message saying ``dropped`` messages were discarded ``when``."""
    header = wire.new_header("stream", session_id)
    text = (
        f"[jls] {dropped} message(s) of output were discarded {when} "
        f"(buffer limit {limit_bytes} bytes).\n"
    )
    parts = wire.build_parts(header, {}, {}, {"name": "stderr", "text": text})
    return wire.KernelMessage(parts=parts, header=header)
