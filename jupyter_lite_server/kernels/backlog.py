"""Output waiting for one slow websocket reader, bounded.

A client that stops reading (a frozen tab, a stalled network) would otherwise
make the server hold every byte its kernel prints. Once more than
``client_send_buffer`` bytes wait in a client's stream, further frames for it
wait here instead, up to ``replay_buffer_bytes``; beyond that the oldest are
dropped and counted. When the stream has drained, the client first hears how
many messages it lost, then gets the rest in order. Frames are the ones
serialised once for all clients of the kernel, so waiting costs no copy, and
the other clients of the kernel are never slowed: only this client waits.
"""

from __future__ import annotations

import collections

from .protocol import wire


class Backlog:
    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.frames: collections.deque[tuple[list[wire.Frame], bool, int]] = (
            collections.deque()
        )
        self.size = 0
        #: Frames dropped since the client last caught up.
        self.dropped = 0

    def add(self, chunks: list[wire.Frame], binary: bool) -> bool:
        """Keep a frame; True when this is the first one dropped since the last catch-up."""
        length = sum(map(len, chunks))
        self.frames.append((chunks, binary, length))
        self.size += length
        first_drop = False
        while self.size > self.limit_bytes and self.frames:
            _, _, old = self.frames.popleft()
            self.size -= old
            first_drop = first_drop or self.dropped == 0
            self.dropped += 1
        return first_drop

    def take(self) -> list[tuple[list[wire.Frame], bool]]:
        """Every waiting frame, in order; the backlog is empty afterwards."""
        frames = [(chunks, binary) for chunks, binary, _ in self.frames]
        self.frames.clear()
        self.size = 0
        self.dropped = 0
        return frames
