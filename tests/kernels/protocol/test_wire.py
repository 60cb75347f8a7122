"""Unit tier: the framing of kernel messages on ZMQ and on both websocket protocols."""

from __future__ import annotations

import json
import struct

import pytest

from jupyter_lite_server.kernels.protocol import wire

SIGNER = wire.Signer(b"secret-key")


def _kernel_message(content: dict, buffers: tuple[bytes, ...] = ()) -> wire.KernelMessage:
    header = wire.new_header("stream", "session-1")
    parts = [*wire.build_parts(header, {"msg_id": "parent"}, {}, content), *buffers]
    frames = wire.to_zmq(parts, SIGNER)
    return wire.parse_zmq([b"identity", *frames], SIGNER)


def test_a_signed_message_round_trips_through_zmq_frames():
    msg = _kernel_message({"name": "stdout", "text": "héllo"})
    assert msg.msg_type == "stream"
    assert msg.content() == {"name": "stdout", "text": "héllo"}
    assert msg.parent_header() == {"msg_id": "parent"}


@pytest.mark.parametrize(
    "frames, problem",
    [
        ([b"a", b"b"], "delimiter"),
        ([wire.DELIMITER, b"sig", b"{}", b"{}"], "parts"),
        ([wire.DELIMITER, b"0" * 64, b"{}", b"{}", b"{}", b"{}"], "signature"),
    ],
)
def test_malformed_zmq_frames_are_refused_with_a_reason(frames, problem):
    with pytest.raises(wire.WireError, match=problem):
        wire.parse_zmq(frames, SIGNER)


def test_the_off_loop_check_verifies_and_makes_the_json_parts_utf8_once():
    """parse_zmq_checked (large messages, on a worker thread): a bad signature is refused;
    invalid UTF-8 in a JSON part is replaced there, and a JSON client's frame is the same
    as if the check had been made while framing; binary buffers are left untouched."""
    header = wire.new_header("stream", "session-1")
    content = b'{"name": "stdout", "text": "caf\xed\xb3\xa9"}'  # a lone surrogate
    parts = [*wire.build_parts(header, {}, {}, {})[:3], content, b"\xff\xfe"]
    frames = wire.to_zmq(parts, SIGNER)
    with pytest.raises(wire.WireError, match="signature"):
        wire.parse_zmq_checked([*frames[:1], b"0" * 64, *frames[2:]], SIGNER, utf8=True)
    as_sent = wire.parse_zmq_checked(frames, SIGNER, utf8=False)  # v1 clients only
    assert not as_sent.utf8_checked and as_sent.parts[3] == content
    checked = wire.parse_zmq_checked(frames, SIGNER, utf8=True)
    assert checked.utf8_checked
    assert checked.content() == {"name": "stdout", "text": "caf\ufffd\ufffd\ufffd"}
    assert checked.parts[4] == b"\xff\xfe"
    plain = wire.parse_zmq(frames, SIGNER)
    assert b"".join(wire.to_ws_json(checked, "iopub")[0]) == b"".join(
        wire.to_ws_json(plain, "iopub")[0]
    )


def test_a_header_that_is_not_an_object_is_refused():
    parts = [b"[1]", b"{}", b"{}", b"{}"]
    with pytest.raises(wire.WireError, match="object"):
        wire.parse_zmq(wire.to_zmq(parts, SIGNER), SIGNER)


def test_no_key_means_no_signature_and_anything_verifies():
    unsigned = wire.Signer(b"")
    assert unsigned.sign([b"{}"] * 4) == b""
    assert unsigned.verify(b"whatever", [b"{}"] * 4)


def test_json_protocol_text_frame_is_the_message_with_its_channel():
    msg = _kernel_message({"name": "stdout", "text": "x"})
    chunks, binary = wire.to_ws_json(msg, "iopub")
    assert not binary
    decoded = json.loads(b"".join(chunks))
    assert decoded["channel"] == "iopub"
    assert decoded["content"] == {"name": "stdout", "text": "x"}
    assert decoded["msg_type"] == "stream" and decoded["buffers"] == []


def test_json_protocol_binary_frame_carries_buffers_after_offsets():
    msg = _kernel_message({"data": 1}, buffers=(b"\x00\x01", b"buf2"))
    chunks, binary = wire.to_ws_json(msg, "iopub")
    assert binary
    frame = b"".join(chunks)
    (count,) = struct.unpack_from("!I", frame)
    offsets = struct.unpack_from(f"!{count}I", frame, 4)
    assert count == 3
    assert json.loads(frame[offsets[0] : offsets[1]])["content"] == {"data": 1}
    assert frame[offsets[1] : offsets[2]] == b"\x00\x01"
    assert frame[offsets[2] :] == b"buf2"


def test_json_protocol_client_frame_parses_with_buffers():
    header = wire.new_header("comm_msg", "s")
    body = json.dumps({"channel": "shell", "header": header, "content": {"a": 1}}).encode()
    offsets = (4 * 3, 4 * 3 + len(body))
    frame = struct.pack("!3I", 2, *offsets) + body + b"BUF"
    msg = wire.from_ws_json(frame)
    assert msg.channel == "shell"
    assert json.loads(msg.parts[3]) == {"a": 1}
    assert msg.parts[4:] == [b"BUF"]


@pytest.mark.parametrize(
    "frame, problem",
    [
        ("not json", "not JSON"),
        ("[]", "object"),
        ('{"channel": "iopub", "header": {"msg_type": "x", "msg_id": "1"}}', "channel"),
        ('{"channel": "shell", "header": {"msg_id": "1"}}', "msg_type"),
        ('{"channel": "shell", "header": {"msg_type": "x", "msg_id": "1"}, "content": [1]}',
         "objects"),
        (b"\x00\x00", "too short"),
        (struct.pack("!I", 99) + b"xxxx", "count"),
    ],
)
def test_json_protocol_bad_client_frames_are_refused(frame, problem):
    with pytest.raises(wire.WireError, match=problem):
        wire.from_ws_json(frame)


def test_v1_frames_round_trip_with_the_raw_parts():
    msg = _kernel_message({"text": "v1"}, buffers=(b"raw",))
    frame = b"".join(wire.to_ws_v1(msg.parts, "shell"))
    parsed = wire.from_ws_v1(frame)
    assert parsed.channel == "shell"
    assert parsed.parts[3] == msg.parts[3]  # the client's bytes, never re-encoded
    assert parsed.parts[4] == b"raw"


@pytest.mark.parametrize(
    "frame, problem",
    [
        ("text", "binary"),
        (struct.pack("<Q", 2) + b"\x00" * 16, "count"),
        (struct.pack("<7Q", 6, 56, 50, 60, 61, 62, 63) + b"x" * 10, "offsets"),
    ],
)
def test_v1_bad_frames_are_refused(frame, problem):
    with pytest.raises(wire.WireError, match=problem):
        wire.from_ws_v1(frame)


def test_v1_client_may_not_write_to_iopub():
    msg = _kernel_message({})
    frame = b"".join(wire.to_ws_v1(msg.parts, "iopub"))
    with pytest.raises(wire.WireError, match="channel"):
        wire.from_ws_v1(frame)
