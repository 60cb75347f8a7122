"""One room: a shared document, the peers editing it, and who is where.

The room speaks the protocol of ``protocol.py`` with each peer: a new peer
gets the server's state vector (so it sends what the server lacks) and the
awareness of the others; updates from one peer are checked, kept and relayed
to all the others as they came; awareness (cursors, names) is relayed and a
peer's entries are removed when it leaves.

The document is kept **encoded**: one Yjs update holding the whole state,
plus the updates received since, merged every ``MERGE_EVERY`` updates (Yjs
merges updates without decoding them into a document). A decoded document
costs ten to twenty times its encoded size in memory, so it is built only
when the server itself reads or writes the content (a save, a reload, the
outputs of a cell whose page left) and dropped ``HOT_SECONDS`` after that.
Saving and loading are the file's business (``storage.py``); a room without
a file (the global awareness room) only relays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pycrdt import (
    Awareness,
    Doc,
    TransactionEvent,
    YSyncMessageType,
    get_state,
    get_update,
    merge_updates,
)

from ..service.resources import return_freed_memory
from . import protocol
from .protocol import BadMessage, Kind

log = logging.getLogger("jls.collaboration")

#: Updates kept apart before they are merged into the document's one update.
MERGE_EVERY = 64
#: Seconds a decoded document is kept after the server last used it.
HOT_SECONDS = 5.0
EMPTY_UPDATE = b"\x00\x00"


class Peer(Protocol):
    """A client connection, as the room sees it (the websocket handler)."""

    def send(self, message: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class TooLarge(Exception):
    """An update would make the document larger than the server allows."""


class Room:
    """Peers around one document; ``on_save_request`` answers Jupyter's save message,
    ``on_change`` hears of every update a peer sent."""

    def __init__(self, room_id: str, max_bytes: int = 0) -> None:
        self.room_id = room_id
        self.awareness = Awareness(Doc())  # its doc only names the server's client id
        self.awareness.set_local_state(None)  # the server is not a participant
        self.max_bytes = max_bytes
        self.peers: dict[Peer, set[int]] = {}
        self.on_save_request: Callable[[], Awaitable[str]] | None = None
        self.on_empty: Callable[[Room], None] | None = None
        self.on_change: Callable[[], None] | None = None
        self._state = EMPTY_UPDATE  # the whole document, encoded
        self._pending: list[bytes] = []  # received since, not merged yet
        self._pending_bytes = 0
        self._doc: Doc | None = None  # decoded, while the server uses it
        self._subscription: Any = None
        #: Makes the view of a decoded document the server works with (a jupyter_ydoc
        #: YNotebook, YUnicode, YBlob); dropped with the decoded document.
        self.view_factory: Callable[[Doc], Any] | None = None
        self._view: Any = None
        self._drop_doc: asyncio.TimerHandle | None = None
        self._doc_used = 0.0  # the loop's time when the server last used the decoded doc
        self._from_peer = False
        self._tasks: set[asyncio.Task] = set()

    # --- the document ----------------------------------------------------------------

    def encoded(self) -> bytes:
        """The whole document as one update."""
        if self._pending:
            self._state = merge_updates(self._state, *self._pending)
            self._pending.clear()
            self._pending_bytes = 0
        return self._state

    def measure(self) -> int:
        return len(self.encoded())

    def decoded(self) -> Doc:
        """The document, decoded; the server's own changes to it reach every peer."""
        if self._doc is None:
            doc: Doc = Doc()
            doc.apply_update(self.encoded())
            self._subscription = doc.observe(self._on_server_change)
            self._doc = doc
        loop = asyncio.get_running_loop()
        self._doc_used = loop.time()
        if self._drop_doc is None:
            self._drop_doc = loop.call_later(HOT_SECONDS, self._forget_doc_if_unused)
        return self._doc

    def view(self) -> Any:
        """The decoded document through ``view_factory``."""
        doc = self.decoded()
        if self._view is None and self.view_factory is not None:
            self._view = self.view_factory(doc)
        return self._view

    def _forget_doc_if_unused(self) -> None:
        """One timer per decoded document, not one per use: used since, it waits again."""
        loop = asyncio.get_running_loop()
        unused_for = loop.time() - self._doc_used
        if unused_for < HOT_SECONDS:
            self._drop_doc = loop.call_later(HOT_SECONDS - unused_for, self._forget_doc_if_unused)
        else:
            self._forget_doc()

    def _forget_doc(self) -> None:
        doc = self._doc
        self._doc, self._view, self._drop_doc = None, None, None
        if doc is not None:
            # pycrdt's observer refers to its document from the Rust side, out of the
            # garbage collector's sight: without this, the document would never be freed.
            doc.unobserve(self._subscription)
            del doc
            return_freed_memory()  # a decoded document is many small allocations

    def _on_server_change(self, event: TransactionEvent) -> None:
        if self._from_peer or event.update == EMPTY_UPDATE:
            return
        self._keep(event.update)
        self._broadcast(protocol.update_message(event.update), except_peer=None)

    def _keep(self, update: bytes) -> None:
        self._pending.append(update)
        self._pending_bytes += len(update)
        if len(self._pending) >= MERGE_EVERY:
            self.encoded()

    # --- peers ---------------------------------------------------------------------

    def join(self, peer: Peer) -> None:
        self.peers[peer] = set()
        peer.send(protocol.sync_step1_message(get_state(self.encoded())))
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
                update = get_update(self.encoded(), payload)
            except Exception as exc:  # pycrdt's decoding errors vary
                raise BadMessage(f"cannot decode the state vector ({exc})") from None
            peer.send(protocol.sync_step2_message(update))
            return
        if payload == EMPTY_UPDATE:
            return
        try:
            get_state(payload)  # decodes every struct of the update: a malformed one fails
        except Exception as exc:
            raise BadMessage(f"cannot decode the update ({exc})") from None
        self._check_size(len(payload))
        if self._doc is not None:
            self._from_peer = True
            try:
                self._doc.apply_update(payload)
            finally:
                self._from_peer = False
        self._keep(payload)
        self._broadcast(protocol.update_message(payload), except_peer=peer)
        if self.on_change is not None:
            self.on_change()

    def _check_size(self, incoming: int) -> None:
        """Refuse an update that would take the document over ``max_bytes`` (the merged
        size is measured only when the unmerged bytes could reach the limit)."""
        if not self.max_bytes:
            return
        estimate = len(self._state) + self._pending_bytes + incoming
        if estimate > self.max_bytes and self.measure() + incoming > self.max_bytes:
            raise TooLarge(f"the document would exceed the server's limit of {self.max_bytes} B")

    def _awareness(self, peer: Peer, update: bytes) -> None:
        def note_clients(topic: str, changes: tuple[dict[str, Any], Any]) -> None:
            change, origin = changes
            if topic == "update" and origin is peer and peer in self.peers:
                self.peers[peer].update(change["added"], change["updated"])
                self.peers[peer].difference_update(change["removed"])

        subscription = self.awareness.observe(note_clients)
        try:  # protocol.parse checked its encoding; what remains is the shape of a state
            self.awareness.apply_awareness_update(update, peer)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
            raise BadMessage(f"cannot apply the awareness update ({exc})") from None
        finally:
            self.awareness.unobserve(subscription)
        self._broadcast(protocol.awareness_message(update), except_peer=peer)

    async def _save_requested(self, peer: Peer, number: int) -> None:
        status = "skipped" if self.on_save_request is None else await self.on_save_request()
        if peer in self.peers:
            peer.send(protocol.save_reply(number, status))

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
        if self._drop_doc is not None:
            self._drop_doc.cancel()
        self._forget_doc()
        for task in self._tasks:
            task.cancel()
