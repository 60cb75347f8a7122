"""A room: updates checked, kept encoded and relayed; the decoded document freed after use."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from pycrdt import Doc, Text, get_state

from jupyter_lite_server.collaboration import document, protocol
from jupyter_lite_server.collaboration.document import Room, TooLarge
from jupyter_lite_server.collaboration.protocol import BadMessage


class Peer:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def send(self, message: bytes) -> None:
        self.sent.append(message)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def text_of(room: Room) -> str:
    """The room's text as a client that joins would get it."""
    doc = Doc()
    doc.apply_update(room.encoded())
    return str(doc.get("text", type=Text))


async def test_a_bad_update_leaves_the_document_as_it_was():
    room = Room("r")
    room.decoded()["text"] = Text("hello")
    peer = Peer()
    room.join(peer)
    for garbage in (b"\x00\x02\x03abc", b"\x00\x00\x02\xff\xff", b"\x01\x03\x01\x01\x01"):
        with pytest.raises(BadMessage):
            room.receive(peer, garbage)
    assert text_of(room) == "hello"


async def test_an_update_over_the_limit_is_refused_before_it_is_applied():
    room = Room("r", max_bytes=1000)
    room.decoded()["text"] = Text("small")
    client = Doc()
    client.apply_update(room.encoded())
    client_text = client.get("text", type=Text)
    client_text += "x" * 5000
    peer = Peer()
    room.join(peer)
    with pytest.raises(TooLarge):
        room.receive(peer, protocol.update_message(client.get_update(get_state(room.encoded()))))
    assert text_of(room) == "small"


async def test_updates_are_relayed_as_they_came_and_merged_into_one():
    room = Room("r")
    sender, other = Peer(), Peer()
    room.join(sender)
    room.join(other)
    client = Doc()
    text = client.get("text", type=Text)
    updates = []
    client.observe(lambda event: updates.append(event.update))
    for i in range(100):  # more than MERGE_EVERY
        text += str(i % 10)
    for update in updates:
        room.receive(sender, protocol.update_message(update))
    relayed = [protocol.parse(m).payload for m in other.sent[1:]]
    assert relayed == updates and len(sender.sent) == 1  # the sender gets nothing back
    assert text_of(room) == str(text)


async def test_the_decoded_document_is_freed_once_the_server_is_done_with_it(monkeypatch):
    """Memory per open document is its encoded size: the decoded one (ten to twenty times
    larger) goes HOT_SECONDS after the server last used it, and is really freed."""
    monkeypatch.setattr(document, "HOT_SECONDS", 0.05)
    rooms = [Room(f"r{i}") for i in range(5)]
    decoded = []
    for room in rooms:
        doc = room.decoded()
        doc["text"] = Text("x" * 10000)
        decoded.append(weakref.ref(doc))
    del doc
    await asyncio.sleep(0.2)
    gc.collect()
    assert [ref() for ref in decoded] == [None] * 5
    assert all(len(room.encoded()) > 10000 for room in rooms)
