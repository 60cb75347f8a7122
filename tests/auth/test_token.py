"""Token authentication on every route, REST and websocket."""

import json

import pytest
import requests
import websocket

PROTECTED = [
    ("GET", "api/status"),
    ("GET", "api/me"),
    ("GET", "api/kernelspecs"),
    ("GET", "api/kernelspecs/python3"),
    ("GET", "kernelspecs/python3/logo-64x64.png"),
    ("GET", "api/kernels"),
    ("POST", "api/kernels"),
    ("GET", "api/kernels/00000000-0000-0000-0000-000000000000"),
    ("DELETE", "api/kernels/00000000-0000-0000-0000-000000000000"),
    ("POST", "api/kernels/00000000-0000-0000-0000-000000000000/interrupt"),
    ("POST", "api/kernels/00000000-0000-0000-0000-000000000000/restart"),
]


@pytest.mark.parametrize("method,path", PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "token wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "token "},
    ],
)
def test_missing_or_wrong_token_is_403_json(server, method, path, headers):
    r = requests.request(method, server.url + path, headers=headers, timeout=10)
    assert r.status_code == 403
    assert r.json()["message"]


@pytest.mark.parametrize("how", ["header", "bearer", "query"])
def test_token_accepted_in_header_bearer_or_query(server, how):
    url, headers = server.url + "api/status", {}
    if how == "header":
        headers["Authorization"] = f"token {server.token}"
    elif how == "bearer":
        headers["Authorization"] = f"Bearer {server.token}"
    else:
        url += f"?token={server.token}"
    assert requests.get(url, headers=headers, timeout=10).status_code == 200


def test_api_version_needs_no_token(server):
    r = requests.get(server.url + "api", timeout=10)
    assert r.status_code == 200 and "version" in r.json()


def test_me_reports_identity_and_requested_permissions(api):
    body = api.get('api/me?permissions={"contents":["read","write"]}').json()
    assert body["identity"]["username"]
    assert body["permissions"] == {"contents": ["read", "write"]}
    assert api.get("api/me").json()["permissions"] == {}
    assert api.get("api/me?permissions=notjson").status_code == 400


def test_websocket_refused_without_token_and_accepted_with_query_token(server, api):
    model = api.start_kernel()
    ws_url = server.url.replace("http", "ws") + f"api/kernels/{model['id']}/channels"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(ws_url, timeout=10)
    assert info.value.status_code == 403
    assert json.loads(info.value.resp_body)["message"]
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(ws_url + "?token=wrong", timeout=10)
    ok = websocket.create_connection(f"{ws_url}?token={server.token}", timeout=10)
    ok.close()
    api.delete(f"api/kernels/{model['id']}")


def test_token_never_appears_in_the_log(server):
    requests.get(server.url + f"api/nothing?token={server.token}", timeout=10)
    requests.get(server.url + "api/status?token=wrong-guess", timeout=10)
    assert server.token not in server.log_text()


def test_websocket_from_foreign_origin_is_refused(server, api):
    model = api.start_kernel()
    ws_url = server.url.replace("http", "ws") + f"api/kernels/{model['id']}/channels"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(
            ws_url,
            header=[f"Authorization: token {server.token}"],
            origin="http://evil.example",
            timeout=10,
        )
    assert info.value.status_code == 403
    api.delete(f"api/kernels/{model['id']}")
