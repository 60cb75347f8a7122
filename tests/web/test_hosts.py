"""The DNS-rebinding defence: a loopback server answers only to local Host names."""

from __future__ import annotations

import pytest
import websocket
from jls_client import module_server, start_server_in

from jupyter_lite_server.web.hosts import host_name, is_local_host


@pytest.mark.parametrize(
    "header, local",
    [
        ("localhost:8888", True), ("LOCALHOST.", True), ("127.0.0.1:80", True),
        ("127.9.9.9", True), ("[::1]:8888", True), ("::1", True),
        ("attacker.example", False), ("attacker.example:8888", False), ("10.0.0.1", False),
        ("localhost.attacker.example", False), ("", False),
    ],
)  # fmt: skip
def test_local_names(header, local):
    assert is_local_host(header, ["localhost"]) is local


def test_host_name_strips_port_brackets_and_dot():
    assert host_name("[::1]:9") == "::1" and host_name("Example.ORG.:1") == "example.org"


loopback_server = module_server("hosts")


def test_a_foreign_host_is_refused_even_with_a_valid_token(loopback_server):
    api = loopback_server.api()
    r = api.get("api/status", headers={"Host": "attacker.example"})
    assert r.status_code == 403
    assert r.headers["Content-Type"].startswith("application/json")
    assert "attacker.example" in r.json()["message"] and r.json()["reason"] == "Forbidden"
    page = api.get("login", headers={"Host": "attacker.example:1234"})
    assert page.status_code == 403
    assert "DNS-rebinding" in loopback_server.log_text()


def test_local_names_are_served(loopback_server):
    api = loopback_server.api()
    port = loopback_server.url.rsplit(":", 1)[1].strip("/")
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]"):
        assert api.get("api/status", headers={"Host": host}).status_code == 200, host


def test_a_websocket_from_a_foreign_host_is_refused(loopback_server):
    api = loopback_server.api()
    kernel = api.start_kernel()
    url = loopback_server.url.replace("http://", "ws://") + f"api/kernels/{kernel['id']}/channels"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            url, header=[f"Authorization: token {api.token}"], host="attacker.example"
        )
    assert refused.value.status_code == 403
    api.delete(f"api/kernels/{kernel['id']}")


def test_allow_remote_access_turns_the_check_off(tmp_path):
    srv = start_server_in(tmp_path, "--allow-remote-access")
    try:
        r = srv.api().get("api/status", headers={"Host": "notebooks.example"})
        assert r.status_code == 200
    finally:
        srv.stop()
