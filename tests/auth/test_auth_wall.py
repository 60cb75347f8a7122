"""The whole wall: every route by every way of (not) authenticating, cookies and XSRF, CORS.

"Refused" is a 403; "let through" is any answer that is not a 403 (a 404 for a
kernel that does not exist still proves the request passed authentication).
"""

import json
import os
import socket
import uuid

import pytest
import requests
import websocket

NO_KERNEL = "00000000-0000-0000-0000-000000000000"

# (method, path, JSON body): every route the server has, with harmless arguments.
ROUTES = [
    ("GET", "api/status", None),
    ("GET", "api/spec.yaml", None),
    ("GET", "api/me", None),
    ("GET", "api/kernelspecs", None),
    ("GET", "api/kernelspecs/python3", None),
    ("GET", "kernelspecs/python3/logo-64x64.png", None),
    ("GET", "api/kernels", None),
    ("POST", "api/kernels", {"name": "no-such-kernel"}),
    ("GET", f"api/kernels/{NO_KERNEL}", None),
    ("DELETE", f"api/kernels/{NO_KERNEL}", None),
    ("POST", f"api/kernels/{NO_KERNEL}/interrupt", None),
    ("POST", f"api/kernels/{NO_KERNEL}/restart", None),
    ("GET", "api/sessions", None),
    ("POST", "api/sessions", {"path": "x.ipynb", "type": "notebook", "kernel": {"name": "nope"}}),
    ("GET", f"api/sessions/{NO_KERNEL}", None),
    ("PATCH", f"api/sessions/{NO_KERNEL}", {"path": "y.ipynb"}),
    ("DELETE", f"api/sessions/{NO_KERNEL}", None),
    ("GET", "api/contents", None),
    ("GET", "api/contents/wall.txt", None),
    ("POST", "api/contents", {"type": "notebook"}),
    ("PUT", "api/contents/wall.txt", {"type": "file", "format": "text", "content": "x"}),
    ("PATCH", "api/contents/missing.txt", {"path": "moved.txt"}),
    ("DELETE", "api/contents/missing.txt", None),
    ("GET", "api/contents/wall.txt/checkpoints", None),
    ("POST", "api/contents/wall.txt/checkpoints", None),
    ("POST", "api/contents/wall.txt/checkpoints/nope", None),
    ("DELETE", "api/contents/wall.txt/checkpoints/nope", None),
    ("GET", "files/wall.txt", None),
    # JupyterLab's endpoints (jupyterlab is installed in the test environment)
    ("GET", "lab/api/settings/", None),
    ("GET", "lab/api/settings/@jupyterlab/apputils-extension:themes", None),
    ("PUT", "lab/api/settings/@jupyterlab/apputils-extension:themes", {"raw": "{}"}),
    ("GET", "lab/api/workspaces/", None),
    ("PUT", "lab/api/workspaces/wall", {"data": {}, "metadata": {"id": "wall"}}),
    ("DELETE", "lab/api/workspaces/no-such-space", None),
    ("GET", "lab/api/translations/", None),
    ("GET", "lab/api/listings/@jupyterlab/extensionmanager-extension/listings.json", None),
    ("GET", "lab/api/themes/@jupyterlab/theme-light-extension/index.css", None),
    ("GET", "api/config/notebook", None),
    ("PATCH", "api/config/notebook", {"wall": True}),
    ("GET", "api/nbconvert", None),
    ("GET", "lsp/status", None),
]
MUTATING = [r for r in ROUTES if r[0] != "GET"]


def call(server, method, path, body, headers=None, session=None, query=""):
    http = session or requests
    url = server.url + path + query
    return http.request(method, url, json=body, headers=headers or {}, timeout=30)


@pytest.fixture(scope="module")
def browser(server):
    """A browser-like client logged in by opening the server's URL with ?token=."""
    session = requests.Session()
    page = session.get(server.url + f"?token={server.token}", timeout=10)
    assert page.status_code == 200
    cookie_names = {c.name for c in session.cookies}
    assert any(name.startswith("jls-login-") for name in cookie_names), cookie_names
    assert "_xsrf" in cookie_names
    return session


@pytest.mark.parametrize("method,path,body", ROUTES)
@pytest.mark.parametrize("credentials", ["none", "wrong header", "wrong query", "forged cookie"])
def test_every_route_refuses_missing_or_wrong_credentials(server, method, path, body, credentials):
    headers, query, session = {}, "", requests.Session()
    if credentials == "wrong header":
        headers["Authorization"] = "token not-the-token"
    elif credentials == "wrong query":
        query = "?token=not-the-token"
    elif credentials == "forged cookie":
        port = server.url.rsplit(":", 1)[1].strip("/")
        session.cookies.set(f"jls-login-{port}", "root|forged|signature")
    response = call(server, method, path, body, headers, session, query)
    assert response.status_code == 403, (method, path, response.status_code)
    assert response.json()["message"]


@pytest.mark.parametrize("method,path,body", ROUTES)
@pytest.mark.parametrize("how", ["header", "query"])
def test_every_route_lets_the_token_through(server, method, path, body, how):
    headers, query = {}, ""
    if how == "header":
        headers["Authorization"] = f"token {server.token}"
    else:
        query = f"?token={server.token}"
    response = call(server, method, path, body, headers, query=query)
    assert response.status_code != 403, (method, path, response.text)
    assert response.status_code < 500, (method, path, response.text)


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_lets_a_logged_in_browser_through_with_xsrf(
    server, browser, method, path, body
):
    headers = {"X-XSRFToken": browser.cookies["_xsrf"]} if method != "GET" else {}
    response = call(server, method, path, body, headers, browser)
    assert response.status_code != 403, (method, path, response.text)
    assert response.status_code < 500, (method, path, response.text)


@pytest.mark.parametrize("method,path,body", MUTATING)
def test_cookie_authenticated_changes_without_xsrf_are_refused(server, browser, method, path, body):
    response = call(server, method, path, body, session=browser)
    assert response.status_code == 403, (method, path, response.status_code)
    assert "_xsrf" in response.json()["message"]
    wrong = call(server, method, path, body, {"X-XSRFToken": "2|00|11|22"}, browser)
    assert wrong.status_code == 403


def _raw_request(conn, server, method, path, body=b"", headers=""):
    """One HTTP/1.1 request on an open connection; the status line of its answer."""
    host = server.url.split("//")[1].strip("/")
    conn.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n{headers}\r\n".encode() + body)
    answer = b""
    while b"\r\n\r\n" not in answer:
        received = conn.recv(65536)
        assert received, f"connection closed after {answer!r}"
        answer += received
    head, rest = answer.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(rest) < length:
        rest += conn.recv(65536)
    return head.split(b"\r\n")[0].decode()


@pytest.mark.parametrize("who", ["no credentials", "cookie without _xsrf"])
def test_a_refused_save_leaves_the_connection_usable(server, browser, who):
    """Refused before its body was read, a request used to end its keep-alive
    connection: a client reusing it at once (requests' pool does) got "connection
    reset" or "closed without response". The server reads the body, then refuses."""
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    headers = f"Cookie: {cookie}\r\n" if who.startswith("cookie") else ""
    body = json.dumps({"type": "file", "format": "text", "content": "x" * 1000}).encode()
    host, port = server.url.split("//")[1].strip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        for _ in range(3):
            status = _raw_request(conn, server, "PUT", "/api/contents/refused.txt", body, headers)
            assert status.startswith("HTTP/1.1 403 "), status
            # and one without a body (refused while tornado still read its empty body)
            status = _raw_request(conn, server, "DELETE", "/api/contents/refused.txt", b"", headers)
            assert status.startswith("HTTP/1.1 403 "), status
        status = _raw_request(conn, server, "GET", f"/api/status?token={server.token}")
        assert status.startswith("HTTP/1.1 200 "), status
    assert not os.path.exists(os.path.join(server.root, "refused.txt"))


def test_xsrf_is_also_accepted_as_a_form_field(server, browser):
    response = browser.post(
        server.url + f"api/kernels/{NO_KERNEL}/interrupt",
        data={"_xsrf": browser.cookies["_xsrf"]},
        timeout=10,
    )
    assert response.status_code == 404  # through the wall; the kernel just does not exist


def test_token_authenticated_changes_need_no_xsrf(api):
    assert api.post(f"api/kernels/{NO_KERNEL}/interrupt").status_code == 404


def test_api_responses_set_no_cookie(server):
    response = requests.get(server.url + f"api/status?token={server.token}", timeout=10)
    assert response.status_code == 200 and not response.cookies


def test_websocket_wall(server, browser, kernel):
    url = server.url.replace("http", "ws") + f"api/kernels/{kernel['id']}/channels"
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    refused = [
        {},
        {"header": ["Authorization: token wrong"]},
        {"header": [f"Cookie: {cookie}"], "origin": "http://evil.example"},
    ]
    for kwargs in refused:
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            websocket.create_connection(url + f"?session_id={uuid.uuid4().hex}", timeout=10,
                                        **kwargs)  # fmt: skip
        assert info.value.status_code == 403, kwargs
    accepted = [
        {"header": [f"Authorization: token {server.token}"]},
        {"query": f"&token={server.token}"},
        {"header": [f"Cookie: {cookie}"], "origin": server.url.rstrip("/")},
    ]
    for kwargs in accepted:
        query = kwargs.pop("query", "")
        ws = websocket.create_connection(
            url + f"?session_id={uuid.uuid4().hex}{query}", timeout=10, **kwargs
        )
        ws.close()


def test_a_foreign_page_cannot_use_the_cookie(server, browser):
    evil = {"Origin": "http://evil.example"}
    read = browser.get(server.url + "api/contents", headers=evil, timeout=10)
    assert read.status_code == 403
    assert "Access-Control-Allow-Origin" not in read.headers
    xsrf = {**evil, "X-XSRFToken": browser.cookies["_xsrf"]}
    write = browser.put(server.url + "api/contents/evil.txt", headers=xsrf, timeout=10,
                        json={"type": "file", "format": "text", "content": "pwned"})  # fmt: skip
    assert write.status_code == 403
    assert not os.path.exists(os.path.join(server.root, "evil.txt"))


def test_login_page_logs_in_with_the_token_and_refuses_a_wrong_one(server):
    session = requests.Session()
    page = session.get(server.url + "login?next=/api/status", timeout=10)
    assert page.status_code == 200 and 'name="_xsrf"' in page.text
    xsrf = session.cookies["_xsrf"]
    wrong = session.post(server.url + "login", data={"_xsrf": xsrf, "password": "guess"},
                         allow_redirects=False, timeout=10)  # fmt: skip
    assert wrong.status_code == 401
    assert session.get(server.url + "api/status", timeout=10).status_code == 403
    right = session.post(
        server.url + "login",
        data={"_xsrf": xsrf, "password": server.token, "next": "/api/status"},
        allow_redirects=False,
        timeout=10,
    )
    assert right.status_code == 302 and right.headers["Location"] == "/api/status"
    assert session.get(server.url + "api/status", timeout=10).status_code == 200
    session.get(server.url + "logout", timeout=10)
    assert session.get(server.url + "api/status", timeout=10).status_code == 403


@pytest.mark.parametrize("target", ["//evil.example/", "http://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_the_server(server, target):
    session = requests.Session()
    session.get(server.url + "login", timeout=10)
    response = session.post(
        server.url + "login",
        data={"_xsrf": session.cookies["_xsrf"], "password": server.token, "next": target},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_login_post_without_xsrf_is_refused(server):
    response = requests.post(server.url + "login", data={"password": server.token}, timeout=10)
    assert response.status_code == 403
