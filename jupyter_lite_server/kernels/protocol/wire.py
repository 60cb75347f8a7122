"""Framing of Jupyter messages between ZMQ and the kernel websocket.

On ZMQ a message is ``[identities..., b"<IDS|MSG>", signature, header,
parent_header, metadata, content, *buffers]``; the signature is an HMAC over
the four JSON parts with the kernel's key.

Towards a websocket client there are two framings, both as jupyter_server
writes them:

* the default protocol: one text frame holding a JSON object with ``header``,
  ``parent_header``, ``metadata``, ``content``, ``buffers`` and ``channel``.
  A message with binary buffers is a binary frame: big-endian u32 count
  ``n``, ``n`` u32 offsets, the JSON object (without buffers), the buffers.
* ``v1.kernel.websocket.jupyter.org``: a binary frame of little-endian u64
  count ``n``, ``n`` u64 offsets, the channel name, then the raw parts.

Everything here works on the raw JSON bytes of the parts: content (which may
be 50 MB of output) is relayed, never decoded and re-encoded. Only the small
header is parsed where routing or state needs it.
"""

from __future__ import annotations

import codecs
import hashlib
import hmac
import itertools
import json
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: One part of a message: bytes, or (a large one) a view of the ZMQ frame it arrived in.
Frame = bytes | memoryview

DELIMITER = b"<IDS|MSG>"
#: The frame an iopub keeper puts before each message it kept while no server listened.
REPLAY_FRAME = b"jls-replay"
V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
CHANNELS = frozenset({"shell", "control", "stdin", "iopub"})
CLIENT_CHANNELS = frozenset({"shell", "control", "stdin"})


class WireError(ValueError):
    """A frame that cannot be understood as a Jupyter message."""


class Signer:
    """Signs and verifies message parts with a kernel's HMAC key."""

    def __init__(self, key: bytes | str, scheme: str = "hmac-sha256") -> None:
        if isinstance(key, str):
            key = key.encode("ascii")
        self._hmac = None
        if key:
            algorithm = scheme.split("-", 1)[1] if "-" in scheme else "sha256"
            self._hmac = hmac.new(key, digestmod=getattr(hashlib, algorithm))

    def sign(self, parts: Sequence[Frame]) -> bytes:
        if self._hmac is None:
            return b""
        digest = self._hmac.copy()
        for part in parts[:4]:
            digest.update(part)
        return digest.hexdigest().encode("ascii")

    def verify(self, signature: Frame, parts: Sequence[Frame]) -> bool:
        if self._hmac is None:
            return True
        return hmac.compare_digest(bytes(signature), self.sign(parts))


@dataclass(slots=True)
class KernelMessage:
    """A message from a kernel: raw parts plus its parsed header."""

    #: header, parent_header, metadata, content, *buffers; a large part may be a
    #: memoryview of the ZMQ frame it arrived in (never copied).
    parts: list[Frame]
    header: dict[str, Any]
    #: The JSON parts are known to be valid UTF-8 (see :func:`parse_zmq_checked`).
    utf8_checked: bool = False

    @property
    def msg_type(self) -> str:
        msg_type = self.header.get("msg_type", "")
        return msg_type if isinstance(msg_type, str) else ""

    def content(self) -> dict[str, Any]:
        """The content, parsed (ValueError if it is not a JSON object)."""
        return _json_object(self.parts[3])

    def parent_header(self) -> dict[str, Any]:
        """The parent header, parsed (ValueError if it is not a JSON object)."""
        return _json_object(self.parts[1])


def _json_object(raw: Frame) -> dict[str, Any]:
    value = json.loads(bytes(raw))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def parse_zmq(frames: Sequence[Frame], signer: Signer) -> KernelMessage:
    """Split and verify a multipart message received from a kernel."""
    try:
        index = frames.index(DELIMITER)
    except ValueError as exc:
        raise WireError("no <IDS|MSG> delimiter") from exc
    signature = frames[index + 1] if len(frames) > index + 1 else b""
    parts = frames[index + 2 :]
    if len(parts) < 4:
        raise WireError(f"{len(parts)} message parts, expected at least 4")
    if not signer.verify(signature, parts):
        raise WireError("invalid message signature")
    try:
        header = json.loads(bytes(parts[0]))
    except ValueError as exc:
        raise WireError("header is not JSON") from exc
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    return KernelMessage(parts=list(parts), header=header)


#: A message at least this large is checked on a worker thread (parse_zmq_checked):
#: the HMAC of 200 MB of output alone holds the event loop ~0.2 s.
OFF_LOOP_BYTES = 4 << 20


def parse_zmq_checked(frames: Sequence[Frame], signer: Signer, utf8: bool) -> KernelMessage:
    """:func:`parse_zmq`, plus (``utf8``: a JSON client is attached) the UTF-8 check such
    a client needs, done once: the work on a large message that is proportional to its
    size, for a worker thread (hashlib and the UTF-8 decoder release the GIL on large
    inputs). v1 clients take the bytes as they are: 200 MB cost 0.24 s more to check."""
    msg = parse_zmq(frames, signer)
    if utf8:
        msg.parts[:4] = [valid_utf8(part) for part in msg.parts[:4]]
        msg.utf8_checked = True
    return msg


@dataclass(slots=True)
class OutgoingMessage:
    """A message the server sends: its header (for matching the reply) and its ZMQ frames."""

    header: dict[str, Any]
    frames: list[Frame]


def to_zmq(parts: Sequence[Frame], signer: Signer) -> list[Frame]:
    """Frames to send to a kernel: delimiter, signature, parts."""
    return [DELIMITER, signer.sign(parts), *parts]


#: One encoder for every message: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _dumps(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode()


def new_header(msg_type: str, session: str, username: str = "jls") -> dict[str, Any]:
    """A fresh message header, for messages the server itself originates."""
    from ...timeutil import isoformat, utcnow

    return {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "session": session,
        "username": username,
        "date": isoformat(utcnow()),
        "version": "5.3",
    }


def build_parts(
    header: dict[str, Any],
    parent: dict[str, Any],
    metadata: dict[str, Any],
    content: dict[str, Any],
) -> list[Frame]:
    return [_dumps(header), _dumps(parent), _dumps(metadata), _dumps(content)]


# --- towards the websocket client -------------------------------------------


_CHECK_SLICE = 1 << 20


def valid_utf8(part: Frame) -> Frame:
    """``part`` if it is valid UTF-8, else with each invalid byte replaced by U+FFFD.

    A websocket text frame that is not UTF-8 is fatal to the connection in every
    browser, and a kernel can send such bytes (jupyter_client encodes lone
    surrogates, e.g. from a file name that is not UTF-8, with surrogateescape).
    They can only sit inside JSON strings, so the replacement stays valid JSON.
    Large parts are checked in slices, never decoded whole.
    """
    if isinstance(part, bytes):
        if part.isascii():
            return part
        try:
            part.decode("utf-8")
        except UnicodeDecodeError:
            return part.decode("utf-8", "replace").encode("utf-8")
        return part
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(part), _CHECK_SLICE):
            decoder.decode(part[start : start + _CHECK_SLICE])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return bytes(part).decode("utf-8", "replace").encode("utf-8")
    return part


def _as_is(part: Frame) -> Frame:
    return part


def to_ws_json(msg: KernelMessage, channel: str) -> tuple[list[Frame], bool]:
    """Serialise for the default protocol: (chunks of one frame, is_binary).

    The frame is returned as chunks so that a large content part is written
    to the socket as is, never copied into a joined buffer.
    """
    utf8 = _as_is if msg.utf8_checked else valid_utf8
    body = [
        b'{"header":',
        utf8(msg.parts[0]),
        b',"msg_id":',
        _dumps(msg.header.get("msg_id", "")),
        b',"msg_type":',
        _dumps(msg.header.get("msg_type", "")),
        b',"parent_header":',
        utf8(msg.parts[1]),
        b',"metadata":',
        utf8(msg.parts[2]),
        b',"content":',
        utf8(msg.parts[3]),
        b',"buffers":[],"channel":"',
        channel.encode(),
        b'"}',
    ]
    buffers = msg.parts[4:]
    if not buffers:
        return body, False
    lengths = [sum(map(len, body)), *map(len, buffers)]
    count = len(lengths)
    offsets = [4 * (count + 1)]
    for length in lengths[:-1]:
        offsets.append(offsets[-1] + length)
    prefix = struct.pack(f"!{count + 1}I", count, *offsets)
    return [prefix, *body, *buffers], True


def to_ws_v1(parts: Sequence[Frame], channel: str) -> list[Frame]:
    """Serialise for the v1 subprotocol (a binary frame), as chunks."""
    channel_bytes = channel.encode()
    count = len(parts) + 2
    offsets = [8 * (count + 1)]
    offsets.append(offsets[0] + len(channel_bytes))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    prefix = struct.pack(f"<{count + 1}Q", count, *offsets)
    return [prefix + channel_bytes, *parts]


# --- from the websocket client ---------------------------------------------


@dataclass(slots=True)
class ClientMessage:
    channel: str
    parts: list[Frame]
    header: dict[str, Any]


def _check_header(header: Any) -> dict[str, Any]:
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    if not isinstance(header.get("msg_type"), str) or not header.get("msg_id"):
        raise WireError("header lacks msg_type or msg_id")
    return header


def _check_channel(channel: Any, allowed: frozenset[str] = CLIENT_CHANNELS) -> str:
    if not isinstance(channel, str) or channel not in allowed:
        raise WireError(f"unknown or read-only channel {channel!r}")
    return channel


def from_ws_json(data: str | bytes, channels: frozenset[str] = CLIENT_CHANNELS) -> ClientMessage:
    """Parse a default-protocol frame (text JSON, or binary with buffers).

    ``channels`` are those accepted: a client may not write to iopub, a remote
    kernel gateway does.
    """
    buffers: list[Frame] = []
    if isinstance(data, bytes):
        if len(data) < 8:
            raise WireError("binary frame too short")
        (count,) = struct.unpack_from("!I", data, 0)
        if count < 1 or 4 * (count + 1) > len(data):
            raise WireError("bad buffer count in binary frame")
        offsets = [*list(struct.unpack_from(f"!{count}I", data, 4)), len(data)]
        if any(b < a for a, b in itertools.pairwise(offsets)) or offsets[-1] > len(data):
            raise WireError("bad offsets in binary frame")
        chunks: list[Frame] = [data[offsets[i] : offsets[i + 1]] for i in range(count)]
        data, buffers = bytes(chunks[0]), chunks[1:]
    try:
        msg = json.loads(data)
    except ValueError as exc:
        raise WireError("frame is not JSON") from exc
    except RecursionError:
        raise WireError("frame is nested too deeply") from None
    if not isinstance(msg, dict):
        raise WireError("frame is not a JSON object")
    channel = _check_channel(msg.get("channel"), channels)
    header = _check_header(msg.get("header"))
    parent = msg.get("parent_header") or {}
    metadata = msg.get("metadata") or {}
    content = msg.get("content") or {}
    if not all(isinstance(x, dict) for x in (parent, metadata, content)):
        raise WireError("parent_header, metadata and content must be objects")
    try:
        parts = build_parts(header, parent, metadata, content)
    except ValueError as exc:  # NaN and the like
        raise WireError(str(exc)) from exc
    return ClientMessage(channel=channel, parts=parts + buffers, header=header)


def from_ws_v1(data: bytes) -> ClientMessage:
    """Parse a v1 frame; the parts are kept as the client's raw bytes."""
    if not isinstance(data, bytes) or len(data) < 8:
        raise WireError("v1 frames are binary")
    (count,) = struct.unpack_from("<Q", data, 0)
    if count < 6 or 8 * (count + 1) > len(data):
        raise WireError("bad offset count in v1 frame")
    offsets = struct.unpack_from(f"<{count}Q", data, 8)
    if any(b < a for a, b in itertools.pairwise(offsets)) or offsets[-1] > len(data):
        raise WireError("bad offsets in v1 frame")
    channel_bytes = data[offsets[0] : offsets[1]]
    parts: list[Frame] = [data[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]
    try:
        channel = _check_channel(channel_bytes.decode())
        header = _check_header(json.loads(bytes(parts[0])))
        for part in parts[1:4]:
            if not isinstance(json.loads(bytes(part) or b"{}"), dict):
                raise WireError("parent_header, metadata and content must be objects")
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"unreadable v1 frame: {exc}") from exc
    except RecursionError:
        raise WireError("v1 frame nested too deeply") from None
    parts[1:4] = [p or b"{}" for p in parts[1:4]]
    return ClientMessage(channel=channel, parts=parts, header=header)
