"""Size limits: request bodies and websocket messages, with clear answers and nothing broken."""

import json
import os
import struct

import pytest
import requests
import websocket
from jls_client import module_server, rss_kib, start_server_in

LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    server = start_server_in(
        tmp_path_factory.mktemp("limits"),
        f"--ServerApp.max_body_size={LIMIT}",
        f"--ServerApp.max_ws_message_size={LIMIT}",
    )
    yield server
    server.stop()


def put_text(server, name, size, token=True):
    body = json.dumps({"type": "file", "format": "text", "content": "x" * size})
    headers = {"Authorization": f"token {server.token}"} if token else {}
    headers["Content-Type"] = "application/json"
    return requests.put(server.url + f"api/contents/{name}", data=body, headers=headers, timeout=60)


def test_a_body_over_the_limit_gets_413_and_writes_nothing(small_server):
    response = put_text(small_server, "big.txt", 2 * LIMIT)
    assert response.status_code == 413
    assert str(LIMIT) in response.json()["message"]
    assert not os.path.exists(os.path.join(small_server.root, "big.txt"))
    assert put_text(small_server, "fits.txt", LIMIT // 2).status_code == 201


def test_a_large_body_without_credentials_is_refused_before_it_is_read(small_server):
    response = put_text(small_server, "anon.txt", 200 * 1024, token=False)
    assert response.status_code == 403
    assert "token" in response.json()["message"]
    assert not os.path.exists(os.path.join(small_server.root, "anon.txt"))


def test_a_websocket_message_over_the_limit_closes_with_1009_and_the_kernel_lives(small_server):
    api = small_server.api()
    kernel = api.start_kernel()
    channel = api.channels(kernel["id"])
    # Announce a 2 MiB text frame (header only, masked as a client must): the server
    # answers with a close frame before reading the payload.
    channel.ws.sock.sendall(b"\x81\xff" + struct.pack("!Q", 2 * LIMIT) + b"\x00\x00\x00\x00")
    opcode, data = channel.ws.recv_data(control_frame=True)
    while opcode != websocket.ABNF.OPCODE_CLOSE:  # messages already on their way
        opcode, data = channel.ws.recv_data(control_frame=True)
    assert struct.unpack("!H", data[:2])[0] == 1009
    again = api.channels(kernel["id"])
    reply, _ = again.execute("1 + 1")
    assert reply["status"] == "ok"
    again.close()
    api.delete(f"api/kernels/{kernel['id']}")


def test_unknown_channels_and_garbage_frames_are_dropped(small_server):
    api = small_server.api()
    kernel = api.start_kernel()
    channel = api.channels(kernel["id"])
    bogus = channel.message("execute_request", {"code": "1"})
    bogus["channel"] = "nonsense"
    channel.ws.send(json.dumps(bogus))
    channel.ws.send_binary(b"\x00\xff" * 100)
    channel.ws.send_binary(b"\xff\xff\xff\xff\xff\xff\xff\xff")
    channel.ws.send("{not json")
    channel.ws.send(json.dumps({"channel": "shell"}))
    reply, _ = channel.execute("2 + 2")
    assert reply["status"] == "ok"
    channel.close()
    api.delete(f"api/kernels/{kernel['id']}")


def send_chunked(server, path: str, total: int, token: bool) -> bytes:
    """PUT ``total`` bytes as a chunked body over a raw socket; what the server answered."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(server.url)
    auth = f"Authorization: token {server.token}\r\n" if token else ""
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    sock.sendall(
        f"PUT {url.path}{path} HTTP/1.1\r\nHost: {url.netloc}\r\n{auth}"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    prefix = b'{"type": "file", "format": "text", "content": "'
    suffix = b'"}'
    piece = b"x" * (1 << 20)
    sent = 0
    try:
        sock.sendall(b"%x\r\n%s\r\n" % (len(prefix), prefix))
        while sent < total:
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(suffix), suffix))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed: what matters is what it said
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    return answer


default_server = module_server("chunked")


def test_an_unauthenticated_chunked_body_is_refused_without_growing_the_server(default_server):
    before = rss_kib(default_server.proc.pid)
    answer = send_chunked(default_server, "api/contents/anon-chunked.txt", 128 << 20, token=False)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert b"token" in answer
    growth = rss_kib(default_server.proc.pid) - before
    assert growth < 16 * 1024, f"the server grew by {growth} KiB"
    assert not os.path.exists(os.path.join(default_server.root, "anon-chunked.txt"))
    assert default_server.api().get("api/status").status_code == 200


def test_an_authenticated_chunked_body_is_saved(default_server):
    answer = send_chunked(default_server, "api/contents/chunked.txt", 2 << 20, token=True)
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    assert os.path.getsize(os.path.join(default_server.root, "chunked.txt")) == 2 << 20
