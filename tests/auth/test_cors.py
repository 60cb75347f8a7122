"""allow_origin / allow_origin_pat / allow_credentials, REST and websocket, as in jupyter_server."""

import pytest
import requests
import websocket
from jls_client import run_jls, start_server_in


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory):
    server = start_server_in(
        tmp_path_factory.mktemp("cors"),
        "--allow-origin", "https://app.example",
        "--allow-origin-pat", r"https://.*\.trusted\.example",
        "--allow-credentials",
    )  # fmt: skip
    yield server
    server.stop()


@pytest.mark.parametrize("origin", ["https://app.example", "https://lab.trusted.example"])
def test_allowed_origins_get_cors_headers(cors_server, origin):
    url = cors_server.url + "api/status"
    preflight = requests.options(url, headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"}, timeout=10)  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]
    response = requests.get(url, headers={"Origin": origin, "Authorization":
                                          f"token {cors_server.token}"}, timeout=10)  # fmt: skip
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://app.example.evil",
        "http://trusted.example",
        "https://lab.trusted.example.evil.com",  # the pattern must match the whole origin
    ],
)
def test_other_origins_are_refused_and_get_no_cors_headers(cors_server, origin):
    response = requests.get(cors_server.url + "api/status", headers={
        "Origin": origin, "Authorization": f"token {cors_server.token}"}, timeout=10)  # fmt: skip
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_websocket_origin_follows_the_same_rules(cors_server):
    api = cors_server.api()
    kernel = api.start_kernel()
    url = cors_server.url.replace("http", "ws") + f"api/kernels/{kernel['id']}/channels"
    auth = [f"Authorization: token {cors_server.token}"]
    websocket.create_connection(url, header=auth, origin="https://lab.trusted.example").close()
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(url, header=auth, origin="https://evil.example")
    assert info.value.status_code == 403
    api.delete(f"api/kernels/{kernel['id']}")


def test_default_server_sends_no_credentials_header(server):
    headers = {"Authorization": f"token {server.token}"}
    response = requests.get(server.url + "api/status", headers=headers, timeout=10)
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_no_token_off_loopback_refuses_to_start(tmp_path):
    result = run_jls("serve", "--ip", "0.0.0.0", "--port", "0", "--token", "", "--no-auth",
                     "--root", str(tmp_path))  # fmt: skip
    assert result.returncode != 0
    assert "Refusing to listen on '0.0.0.0' without a token" in result.stderr
