"""The gateway HTTP client's timeouts, retries and headers, against real sockets on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jupyter_lite_server.kernels.providers.gateway.client import (
    GatewayClient,
    GatewayError,
    GatewaySettings,
)


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_GET(self):
        type(self).seen.append(dict(self.headers))
        body = json.dumps({"default": "python3", "kernelspecs": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = json.dumps({"message": "User 'root' is not allowed", "reason": "Forbidden"}).encode()
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def test_token_and_extra_headers_are_sent(recorder):
    client = GatewayClient(
        GatewaySettings(url=recorder, auth_token="t0k", headers={"X-Tenant": "blue"})
    )
    status, body = await client.request("GET", "/api/kernelspecs")
    assert status == 200 and body["default"] == "python3"
    headers = _Recorder.seen[-1]
    assert headers["Authorization"] == "token t0k" and headers["X-Tenant"] == "blue"


async def test_refusal_carries_the_gateways_message(recorder):
    client = GatewayClient(GatewaySettings(url=recorder))
    with pytest.raises(GatewayError) as info:
        await client.request("POST", "/api/kernels", {"name": "python3"})
    assert info.value.status == 403
    assert "User 'root' is not allowed" in str(info.value) and recorder in str(info.value)


async def test_silent_gateway_times_out_and_is_retried():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections (the kernel does it), never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    client = GatewayClient(
        GatewaySettings(url=url, request_timeout=0.5, retries=2, retry_interval=0.1)
    )
    started = time.monotonic()
    try:
        with pytest.raises(GatewayError, match=r"no answer within 0\.5 s"):
            await client.request("GET", "/api/kernelspecs")
        elapsed = time.monotonic() - started
        assert 1.5 <= elapsed < 10, f"three attempts of 0.5 s expected, took {elapsed:.1f} s"
        with pytest.raises(GatewayError, match="no answer"):  # not safe to repeat: one try
            started = time.monotonic()
            await client.request("POST", "/api/kernels", {"name": "x"}, retry=False)
        assert time.monotonic() - started < 1.5
    finally:
        listener.close()


async def test_unreachable_gateway_is_retried_then_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    client = GatewayClient(
        GatewaySettings(url=f"http://127.0.0.1:{port}", retries=2, retry_interval=0.2)
    )
    started = time.monotonic()
    with pytest.raises(GatewayError, match="unreachable after 3 attempts") as info:
        await client.request("GET", "/api/kernelspecs")
    assert time.monotonic() - started >= 0.6  # 0.2 s then 0.4 s between the attempts
    assert info.value.status is None and f"127.0.0.1:{port}" in str(info.value)
