"""The room protocol's parser: every malformed message is a BadMessage, never a crash."""

from __future__ import annotations

import json

import pytest
from pycrdt import Doc, Text

from jupyter_lite_server.collaboration import protocol
from jupyter_lite_server.collaboration.document import Room, TooLarge
from jupyter_lite_server.collaboration.protocol import BadMessage, Kind


class Peer:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def send(self, message: bytes) -> None:
        self.sent.append(message)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_messages_round_trip():
    assert protocol.parse(protocol.sync_step1_message(b"state")).payload == b"state"
    update = protocol.parse(protocol.update_message(b"\x01\x02"))
    assert (update.kind, update.step, update.payload) == (Kind.SYNC, 2, b"\x01\x02")
    reply = protocol.parse(protocol.save_reply(3, "success"))
    assert json.loads(reply.request) == {"type": "save", "responseTo": 3, "status": "success"}


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x07", b"\x00\x02\x09ab", b"\x01\xff",
                                  b"\x02\x05sa", b"\x00\x02" + b"\xff" * 20])  # fmt: skip
def test_malformed_messages_are_refused(data):
    with pytest.raises(BadMessage):
        protocol.parse(data)


def test_a_bad_update_leaves_the_document_as_it_was():
    room = Room("r")
    room.ydoc["text"] = text = Text("hello")
    peer = Peer()
    room.join(peer)
    for garbage in (b"\x00\x02\x03abc", b"\x00\x00\x02\xff\xff", b"\x01\x03\x01\x01\x01"):
        with pytest.raises(BadMessage):
            room.receive(peer, garbage)
    assert str(text) == "hello"


def test_an_update_over_the_limit_is_refused_before_it_is_applied():
    room = Room("r", max_bytes=1000)
    room.ydoc["text"] = Text("small")
    room.measure()
    client = Doc()
    client.apply_update(room.ydoc.get_update())
    client_text = client.get("text", type=Text)
    client_text += "x" * 5000
    peer = Peer()
    room.join(peer)
    with pytest.raises(TooLarge):
        room.receive(peer, protocol.update_message(client.get_update(room.ydoc.get_state())))
    assert str(room.ydoc.get("text", type=Text)) == "small"
