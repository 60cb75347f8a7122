"""Kernel websockets are pinged: idle connections stay alive, dead peers are dropped."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest
import websocket
from jls_client import start_server_in, wait_until


@pytest.mark.slow  # waits out ping timeouts
def test_a_client_is_pinged_and_a_peer_that_never_answers_is_dropped(tmp_path):
    srv = start_server_in(
        tmp_path,
        "--ServerApp.websocket_ping_interval=0.3",
        "--ServerApp.websocket_ping_timeout=1",
    )
    try:
        api = srv.api()
        kernel = api.start_kernel()
        channel = api.channels(kernel["id"])
        deadline = time.monotonic() + 10
        opcodes = []
        while websocket.ABNF.OPCODE_PING not in opcodes and time.monotonic() < deadline:
            opcode, _ = channel.ws.recv_data_frame(control_frame=True)  # answers pings too
            opcodes.append(opcode)
        assert websocket.ABNF.OPCODE_PING in opcodes

        host, port = srv.url.split("//", 1)[1].strip("/").split(":")
        silent = socket.create_connection((host, int(port)))
        silent.sendall(
            (
                f"GET /api/kernels/{kernel['id']}/channels?token={srv.token} HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        assert b" 101 " in silent.recv(4096).split(b"\r\n", 1)[0]  # upgraded; now it is mute

        def connections() -> int:
            return api.get(f"api/kernels/{kernel['id']}").json()["connections"]

        wait_until(lambda: connections() == 2, what="both websockets to be counted")
        # The live client keeps answering pings, the mute one never does: it is dropped.
        deadline = time.monotonic() + 15
        while connections() != 1:
            assert time.monotonic() < deadline, "the mute websocket was never dropped"
            channel.ws.settimeout(0.2)
            with contextlib.suppress(websocket.WebSocketTimeoutException):
                channel.ws.recv_data_frame(control_frame=True)  # keep answering pings
        silent.close()
        channel.close()
        api.delete(f"api/kernels/{kernel['id']}")
    finally:
        srv.stop()
