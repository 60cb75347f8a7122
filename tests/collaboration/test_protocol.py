"""The room protocol's parser: every malformed message is a BadMessage, never a crash."""

from __future__ import annotations

import json

import pytest

from jupyter_lite_server.collaboration import protocol
from jupyter_lite_server.collaboration.protocol import BadMessage, Kind


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


