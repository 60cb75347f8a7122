"""One room: a shared document (a Yjs doc), the peers editing it, and who is where.

The room speaks the protocol of ``protocol.py`` with each peer: a new peer
gets the server's state vector (so it sends what the server lacks) and the
awareness of the others; updates from one peer are applied to the server's
copy and relayed to all the others; awareness (cursors, names) is relayed
and a peer's entries are removed when it leaves. Saving and loading are the
file's business (``storage.py``); a room without a file (the global
awareness room) only relays.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pycrdt import Awareness, Doc, TransactionEvent, YSyncMessageType

from . import protocol
from .protocol import BadMessage, Kind

log = logging.getLogger("jls.collaboration")


class Peer(Protocol):
    """A client connection, as the room sees it (the websocket handler)."""

    def send(self, message: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class TooLarge(Exception):
    """An update would make the document larger than the server allows."""


class Room:
    """Peers around one Yjs document; ``on_save_request`` answers Jupyter's save message."""

    def __init__(self, room_id: str, ydoc: Doc | None = None, max_bytes: int = 0) -> None:
        self.room_id = room_id
        self.ydoc = ydoc if ydoc is not None else Doc()
        self.awareness = Awareness(self.ydoc)
        self.awareness.set_local_state(None)  # the server is not a participant
        self.max_bytes = max_bytes
        self.peers: dict[Peer, set[int]] = {}
        self.on_save_request: Callable[[], Awaitable[str]] | None = None
        self.on_empty: Callable[[Room], None] | None = None
        self._origin: Peer | None = None
        self._size = 0  # the document's encoded size when last measured
        self._received_since_measure = 0
        self._subscription = self.ydoc.observe(self._on_transaction)
        self._tasks: set[asyncio.Task] = set()

    # --- peers ---------------------------------------------------------------------

    def join(self, peer: Peer) -> None:
        self.peers[peer] = set()
        peer.send(protocol.sync_step1_message(self.ydoc.get_state()))
        if self.awareness.states:
            update = self.awareness.encode_awareness_update(list(self.awareness.states))
            peer.send(protocol.awareness_message(update))

    def leave(self, peer: Peer) -> None:
        client_ids = self.peers.pop(peer, set())
        gone = [c for c in client_ids if c in self.awareness.states]
        if gone:
            self.awareness.remove_awareness_states(gone, peer)
            self._broadcast(protocol.awareness_message(
                self.awareness.encode_awareness_update(gone)), except_peer=None)  # fmt: skip
        if not self.peers and self.on_empty is not None:
            self.on_empty(self)

    def receive(self, peer: Peer, data: bytes) -> None:
        """One message from ``peer``; a BadMessage or TooLarge leaves the document as it was."""
        message = protocol.parse(data)
        if message.kind == Kind.SYNC:
            self._sync(peer, message.step, message.payload)
        elif message.kind == Kind.AWARENESS:
            self._awareness(peer, message.payload)
        elif message.kind == Kind.QUERY_AWARENESS:
            states = list(self.awareness.states)
            peer.send(protocol.awareness_message(self.awareness.encode_awareness_update(states)))
        elif message.kind == Kind.RAW and message.request == "save":
            self._background(self._save_requested(peer, message.step))
        else:
            log.debug("Room %s: ignored a message of kind %d", self.room_id, message.kind)

    def _sync(self, peer: Peer, step: int, payload: bytes) -> None:
        if step == YSyncMessageType.SYNC_STEP1:
            try:
                update = self.ydoc.get_update(payload)
            except Exception as exc:  # pycrdt's decoding errors vary
                raise BadMessage(f"cannot decode the state vector ({exc})") from None
            peer.send(protocol.sync_step2_message(update))
            return
        if payload == b"\x00\x00":
            return  # an empty update
        self._check_size(len(payload))
        self._origin = peer
        try:
            self.ydoc.apply_update(payload)
        except Exception as exc:  # a ValueError today, a panic in older pycrdt
            raise BadMessage(f"cannot apply the update ({exc})") from None
        finally:
            self._origin = None

    def _check_size(self, incoming: int) -> None:
        """Refuse an update that would take the document over ``max_bytes``. The size
        is measured again only when the bytes received since could reach the limit."""
        if not self.max_bytes:
            return
        if self._size + self._received_since_measure + incoming > self.max_bytes:
            self.measure()
            if self._size + incoming > self.max_bytes:
                raise TooLarge(
                    f"the document would exceed the server's limit of {self.max_bytes} bytes"
                )
        self._received_since_measure += incoming

    def measure(self) -> int:
        self._size = len(self.ydoc.get_update())
        self._received_since_measure = 0
        return self._size

    def _awareness(self, peer: Peer, update: bytes) -> None:
        def note_clients(topic: str, changes: tuple[dict[str, Any], Any]) -> None:
            change, origin = changes
            if topic == "update" and origin is peer and peer in self.peers:
                self.peers[peer].update(change["added"], change["updated"])
                self.peers[peer].difference_update(change["removed"])

        subscription = self.awareness.observe(note_clients)
        try:
            self.awareness.apply_awareness_update(update, peer)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
            raise BadMessage(f"cannot decode the awareness update ({exc})") from None
        except json.JSONDecodeError as exc:
            raise BadMessage(f"an awareness state is not JSON ({exc})") from None
        finally:
            self.awareness.unobserve(subscription)
        self._broadcast(protocol.awareness_message(update), except_peer=peer)

    async def _save_requested(self, peer: Peer, number: int) -> None:
        status = "skipped" if self.on_save_request is None else await self.on_save_request()
        if peer in self.peers:
            peer.send(protocol.save_reply(number, status))

    # --- changes ---------------------------------------------------------------------

    def _on_transaction(self, event: TransactionEvent) -> None:
        """Any change (a peer's, or the server's own: a load, outputs): to every other peer."""
        update = event.update
        if update != b"\x00\x00":
            self._broadcast(protocol.update_message(update), except_peer=self._origin)

    def _broadcast(self, message: bytes, except_peer: Peer | None) -> None:
        for peer in list(self.peers):
            if peer is not except_peer:
                peer.send(message)

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self, code: int, reason: str) -> None:
        for peer in list(self.peers):
            peer.close(code, reason)
        self.peers.clear()
        self.ydoc.unobserve(self._subscription)
        for task in self._tasks:
            task.cancel()
