"""Saves reach the user's file as the user's file; no kind of file wedges the server.

Real files of every kind: symlinks, hard links, files owned by another user,
FIFOs, names that are not UTF-8.
"""

from __future__ import annotations

import base64
import os
import time
from urllib.parse import quote

import pytest
from jls_client import module_server

NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


server = module_server("kinds")


def save_text(api, path: str, text: str):
    return api.put(f"api/contents/{path}", json={"type": "file", "format": "text",
                                                   "content": text})  # fmt: skip


def upload(api, path: str, parts: list[bytes]):
    answers = []
    for i, data in enumerate(parts, start=1):
        chunk = -1 if i == len(parts) else i
        body = {"type": "file", "format": "base64", "chunk": chunk,
                "content": base64.b64encode(data).decode()}  # fmt: skip
        answers.append(api.put(f"api/contents/{path}", json=body))
    return answers


# --- saves reach the user's file ------------------------------------------------


def test_saving_a_symlink_writes_its_target_and_keeps_the_link(server):
    root, api = server.root, server.api()
    os.makedirs(os.path.join(root, "real"), exist_ok=True)
    with open(os.path.join(root, "real", "data.txt"), "w") as f:
        f.write("old")
    os.symlink("real/data.txt", os.path.join(root, "link.txt"))
    assert api.get("api/contents/link.txt").json()["content"] == "old"
    assert save_text(api, "link.txt", "edited through the link").status_code == 200
    assert os.path.islink(os.path.join(root, "link.txt"))
    with open(os.path.join(root, "real", "data.txt")) as f:
        assert f.read() == "edited through the link"
    assert all(a.status_code in (200, 201) for a in upload(api, "link.txt", [b"up", b"load"]))
    assert os.path.islink(os.path.join(root, "link.txt"))
    with open(os.path.join(root, "real", "data.txt"), "rb") as f:
        assert f.read() == b"upload"
    leftovers = [n for n in os.listdir(os.path.join(root, "real")) if n.startswith(".~")]
    assert leftovers == [] and not [n for n in os.listdir(root) if n.startswith(".~")]


def test_saving_a_hard_linked_file_keeps_the_link(server):
    root, api = server.root, server.api()
    first, second = os.path.join(root, "hard-a.txt"), os.path.join(root, "hard-b.txt")
    with open(first, "w") as f:
        f.write("old")
    os.link(first, second)
    assert save_text(api, "hard-a.txt", "new for both names").status_code == 200
    assert os.stat(first).st_ino == os.stat(second).st_ino and os.stat(first).st_nlink == 2
    with open(second) as f:
        assert f.read() == "new for both names"
    assert all(a.status_code in (200, 201) for a in upload(api, "hard-b.txt", [b"1", b"2"]))
    with open(first, "rb") as f:
        assert f.read() == b"12"
    assert not [n for n in os.listdir(root) if n.startswith(".~")]


def test_saving_a_notebook_owned_by_another_user_keeps_owner_group_and_mode(server):
    if os.geteuid() != 0:
        pytest.fail("giving a file to another user needs root (CI runs as root)")
    root, api = server.root, server.api()
    path = os.path.join(root, "theirs.ipynb")
    with open(path, "w") as f:
        f.write('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    os.chown(path, 4321, 4322)
    os.chmod(path, 0o640)
    answer = api.put("api/contents/theirs.ipynb", json={"type": "notebook", "content": NOTEBOOK})
    assert answer.status_code == 200, answer.text
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (4321, 4322, 0o640)
    with open(path) as f:
        assert '"nbformat": 4' in f.read()


def test_a_symlink_out_of_the_root_is_never_written(server, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    os.symlink(outside, os.path.join(server.root, "escape.txt"))
    assert save_text(server.api(), "escape.txt", "overwrite?").status_code == 404
    assert outside.read_text() == "keep"


# --- no file wedges the server --------------------------------------------------


@pytest.fixture
def fifo(server):
    path = os.path.join(server.root, "pipe.txt")
    os.mkfifo(path)
    yield "pipe.txt"
    os.unlink(path)


def test_every_operation_on_a_fifo_answers_400_at_once(server, fifo):
    api = server.api()
    attempts = {
        "read": lambda: api.get(f"api/contents/{fifo}"),
        "read as file": lambda: api.get(f"api/contents/{fifo}?type=file&format=text"),
        "hash": lambda: api.get(f"api/contents/{fifo}?content=0&hash=1"),
        "copy": lambda: api.post("api/contents/", json={"copy_from": fifo}),
        "checkpoint": lambda: api.post(f"api/contents/{fifo}/checkpoints"),
        "download": lambda: api.get(f"files/{fifo}"),
        "save over": lambda: save_text(api, fifo, "x"),
        "upload over": lambda: upload(api, fifo, [b"a", b"b"])[0],
        "rename": lambda: api.patch(f"api/contents/{fifo}", json={"path": "renamed.txt"}),
    }
    for _round in range(6):  # more than the executor has threads
        for what, attempt in attempts.items():
            started = time.monotonic()
            answer = attempt()
            assert answer.status_code == 400, (what, answer.status_code, answer.text)
            assert "FIFO" in answer.json()["message"], what
            assert time.monotonic() - started < 1, what
    for path in ("api/contents", "api/kernelspecs"):
        started = time.monotonic()
        assert api.get(path).status_code == 200
        assert time.monotonic() - started < 1
    listed = [e["name"] for e in api.get("api/contents").json()["content"]]
    assert fifo not in listed  # nothing JupyterLab could open
    assert os.path.exists(os.path.join(server.root, fifo))  # nothing replaced it


def test_a_fifo_can_be_deleted(server):
    os.mkfifo(os.path.join(server.root, "gone.fifo"))
    assert server.api().delete("api/contents/gone.fifo").status_code == 204
    assert not os.path.lexists(os.path.join(server.root, "gone.fifo"))


# --- names that are not UTF-8 ---------------------------------------------------


def test_a_name_that_is_not_utf8_is_listed_opened_renamed_and_deleted(server):
    api = server.api()
    root = os.fsencode(server.root)
    os.makedirs(os.path.join(root, b"latin1-\xe9t\xe9"))
    with open(os.path.join(root, b"latin1-\xe9t\xe9", b"caf\xe9.txt"), "wb") as f:
        f.write(b"bonjour")
    listing = api.get("api/contents")
    assert listing.status_code == 200, listing.text
    folder = next(e for e in listing.json()["content"] if e["name"].startswith("latin1-"))
    inside = api.get(f"api/contents/{quote(folder['path'])}")
    assert inside.status_code == 200, inside.text
    [entry] = inside.json()["content"]
    path = entry["path"]
    assert entry["name"].encode("utf-8")  # valid Unicode, carried by JSON and URLs
    assert api.get(f"api/contents/{quote(path)}").json()["content"] == "bonjour"
    assert api.get(f"files/{quote(path)}").content == b"bonjour"
    renamed = api.patch(f"api/contents/{quote(path)}", json={"path": f"{folder['path']}/cafe.txt"})
    assert renamed.status_code == 200, renamed.text
    assert os.listdir(os.path.join(root, b"latin1-\xe9t\xe9")) == [b"cafe.txt"]
    assert api.delete(f"api/contents/{quote(folder['path'])}/cafe.txt").status_code == 204
    assert api.delete(f"api/contents/{quote(folder['path'])}").status_code == 204
    assert not os.path.exists(os.path.join(root, b"latin1-\xe9t\xe9"))
