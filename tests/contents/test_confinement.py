"""No path a client can send reaches outside the root."""

import http.client
import json
import os
from urllib.parse import urlsplit

import pytest

SECRET = "TOP-SECRET-OUTSIDE-ROOT"


@pytest.fixture(scope="module")
def outside(server):
    """A file and a directory next to the root, plus links to them from inside it."""
    parent = os.path.dirname(server.root)
    secret_dir = os.path.join(parent, "outside")
    os.makedirs(secret_dir, exist_ok=True)
    secret = os.path.join(secret_dir, "secret.txt")
    with open(secret, "w") as f:
        f.write(SECRET)
    os.symlink(secret, os.path.join(server.root, "link-to-secret.txt"))
    os.symlink(secret_dir, os.path.join(server.root, "link-to-outside"))
    return secret


def raw(server, method, path, body=None):
    """Send the path exactly as written: no client-side normalisation."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"token {server.token}"}
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, parts.path + path, body=data, headers=headers)
    response = conn.getresponse()
    return response.status, response.read().decode("utf-8", "replace")


ATTEMPTS = [
    "../outside/secret.txt",
    "..%2Foutside%2Fsecret.txt",
    "%2e%2e/outside/secret.txt",
    "%2E%2E%2Foutside%2Fsecret.txt",
    "sub/../../outside/secret.txt",
    "/..//outside/secret.txt",
    "%2Ftmp",
    "%2Fetc%2Fpasswd",
    "..%5Coutside%5Csecret.txt",
    "link-to-secret.txt",
    "link-to-outside/secret.txt",
    "link-to-outside",
    "a%00b",
    "x" * 5000,
    "..\\outside\\secret.txt",
    "....//outside/secret.txt",
    "%252e%252e%252foutside%252fsecret.txt",
    "C:%5CWindows%5Cwin.ini",
    "sub/%2e%2e/%2e%2e/outside/secret.txt",
    "..;/outside/secret.txt",
]


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda a: a[:24])
def test_reads_are_refused(server, outside, attempt):
    for prefix in ("api/contents/", "files/", "api/contents/"):
        status, text = raw(server, "GET", prefix + attempt)
        assert status in (400, 404), (prefix, attempt, status)
        assert SECRET not in text
    status, text = raw(server, "GET", f"api/contents/{attempt}/checkpoints")
    # 200 [] is jupyter_server's answer for a path with no file (yet) inside the root
    assert status in (400, 404) or (status == 200 and json.loads(text) == []), status
    assert SECRET not in text


def snapshot(directory):
    """Every path below ``directory`` (links not followed), with size and mtime."""
    found = {}
    for base, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            found[path] = (st.st_size, st.st_mtime_ns)
    return found


def refused(status):
    return status in (400, 404)


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda a: a[:24])
def test_writes_renames_and_deletes_are_refused(server, outside, attempt):
    """Root-relative paths like %2Ftmp land inside the root; traversals are refused."""
    traversal = any(t in attempt for t in ("..", "%2e", "%2E", "link-to", "%00", "%5C"))
    outside_dir = os.path.dirname(outside)
    before = snapshot(outside_dir)
    body = {"type": "file", "format": "text", "content": "overwritten"}
    statuses = [
        raw(server, "PUT", "api/contents/" + attempt, body)[0],
        raw(server, "DELETE", "api/contents/" + attempt)[0],
        raw(server, "POST", "api/contents/" + attempt, {"type": "file"})[0],
        raw(server, "POST", f"api/contents/{attempt}/checkpoints")[0],
    ]
    if traversal:
        assert all(refused(s) for s in statuses), statuses
    assert snapshot(outside_dir) == before
    # moving a file from inside the root to outside, and from outside in
    with open(os.path.join(server.root, "inside.txt"), "w") as f:
        f.write("inside")
    if "%" not in attempt:  # in a JSON body, %2E is a literal name, not a traversal
        status, _ = raw(server, "PATCH", "api/contents/inside.txt", {"path": attempt})
        assert status in (400, 404, 409)
    assert raw(server, "PATCH", "api/contents/" + attempt, {"path": "stolen.txt"})[0] in (400, 404)
    assert raw(server, "POST", "api/contents/", {"copy_from": attempt})[0] in (400, 404)
    with open(outside) as f:
        assert f.read() == SECRET
    assert os.path.exists(outside)
    assert not os.path.exists(os.path.join(server.root, "stolen.txt"))


def test_links_out_of_root_are_not_listed(server, outside):
    _, text = raw(server, "GET", "api/contents/")
    names = [m["name"] for m in json.loads(text)["content"]]
    assert "link-to-secret.txt" not in names and "link-to-outside" not in names


def test_hard_link_is_only_the_file_inside(server, outside):
    """A hard link is a file of the root: serving it is serving the root, by design."""
    inside = os.path.join(server.root, "hard.txt")
    try:
        os.link(outside, inside)
    except OSError:
        pytest.skip("hard links across these directories are not possible here")
    status, _ = raw(server, "DELETE", "api/contents/hard.txt")
    assert status == 204
    assert os.path.exists(outside)


def test_sessions_for_paths_outside_root_are_refused(server):
    for path in ("../outside/x.ipynb", "a/../../x.ipynb", "link-to-outside/x.ipynb"):
        status, _ = raw(
            server,
            "POST",
            "api/sessions",
            {"path": path, "type": "notebook", "kernel": {"name": "python3"}},
        )
        assert status == 400, path
    status, text = raw(server, "GET", "api/sessions")
    assert json.loads(text) == []
