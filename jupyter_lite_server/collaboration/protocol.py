"""The room protocol: y-websocket's sync and awareness messages, and Jupyter's save request.

Every message starts with a variable-length unsigned integer naming its kind:

- 0 SYNC: Yjs sync step 1 (a state vector), step 2 or update (an update);
- 1 AWARENESS: an awareness update (who is here, where their cursor is);
- 2 RAW: Jupyter's own requests; ``"save"`` plus a request number asks for a
  save now, answered with ``{"type": "save", "responseTo": n, "status": ...}``;
- 3 QUERY_AWARENESS: asks for everyone's awareness state.

Parsing is strict: a message that does not decode is a :class:`BadMessage`
and costs its sender the connection, never the document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum

from pycrdt import (
    Decoder,
    Encoder,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
)


class Kind(IntEnum):
    SYNC = 0
    AWARENESS = 1
    RAW = 2
    QUERY_AWARENESS = 3


class BadMessage(ValueError):
    """A message that is not the room protocol; the text says what was wrong."""


@dataclass
class Message:
    kind: int
    #: SYNC: the step (YSyncMessageType); RAW: the save request's number.
    step: int = 0
    #: SYNC: a state vector or an update; AWARENESS: the awareness update.
    payload: bytes = b""
    #: RAW: the request's name ("save").
    request: str = ""


def parse(data: bytes) -> Message:
    try:
        decoder = Decoder(data)
        kind = decoder.read_var_uint()
        if kind == Kind.SYNC:
            step = decoder.read_var_uint()
            if step not in tuple(YSyncMessageType):
                raise BadMessage(f"unknown sync step {step}")
            return Message(kind, step, _read_bytes(decoder))
        if kind == Kind.AWARENESS:
            payload = _read_bytes(decoder)
            _check_awareness(payload)
            return Message(kind, payload=payload)
        if kind == Kind.RAW:
            request = _read_bytes(decoder).decode()
            number = decoder.read_var_uint() if request == "save" else 0
            return Message(kind, number, request=request)
        return Message(kind)
    except BadMessage:
        raise
    except Exception as exc:  # pycrdt's decoder raises a variety of errors on short input
        raise BadMessage(f"cannot decode the message ({exc})") from None


def _read_bytes(decoder: Decoder) -> bytes:
    length = decoder.read_var_uint()
    payload = decoder.stream[decoder.i0 : decoder.i0 + length]
    if len(payload) != length:
        raise BadMessage(f"the message ends {length - len(payload)} bytes before its payload")
    decoder.i0 += length
    decoder.length -= length
    return bytes(payload)


def _check_awareness(update: bytes) -> None:
    """Each entry is (client id, clock, JSON state), and nothing follows (pycrdt's own
    reader takes a truncated entry for an empty state)."""
    decoder = Decoder(update)
    for _ in range(decoder.read_var_uint()):
        decoder.read_var_uint()
        decoder.read_var_uint()
        try:
            json.loads(_read_bytes(decoder))
        except (ValueError, RecursionError) as exc:
            raise BadMessage(f"an awareness state is not JSON ({exc})") from None
    if decoder.i0 != len(update):
        raise BadMessage("the awareness update has bytes after its last entry")


def update_message(update: bytes) -> bytes:
    return create_update_message(update)


def awareness_message(update: bytes) -> bytes:
    return create_awareness_message(update)


# pycrdt builds these two only from a decoded Doc (create_sync_message) or privately.
def sync_step2_message(update: bytes) -> bytes:
    return bytes([Kind.SYNC, YSyncMessageType.SYNC_STEP2]) + _with_length(update)


def sync_step1_message(state: bytes) -> bytes:
    return bytes([Kind.SYNC, YSyncMessageType.SYNC_STEP1]) + _with_length(state)


def save_reply(number: int, status: str) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(Kind.RAW)
    body = {"type": "save", "responseTo": number, "status": status}
    encoder.write_var_string(json.dumps(body))
    return encoder.to_bytes()


def _with_length(data: bytes) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(len(data))
    return encoder.to_bytes() + data
