"""/api/contents and /files on real files."""

import base64
import json
import os

import nbformat
import pytest


def write(root, rel, data: bytes | str):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def read(root, rel) -> bytes:
    with open(os.path.join(root, rel) if rel else root, "rb") as f:
        return f.read()


def notebook_json(source="print(1)"):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(source))
    return json.loads(nbformat.writes(nb))


MODEL_KEYS = {
    "name",
    "path",
    "type",
    "format",
    "mimetype",
    "content",
    "writable",
    "created",
    "last_modified",
    "size",
    "hash",
    "hash_algorithm",
}


def test_directory_listing(api, server):
    write(server.root, "listing/a.txt", "hello")
    write(server.root, "listing/b.ipynb", json.dumps(notebook_json()))
    os.makedirs(os.path.join(server.root, "listing/sub"), exist_ok=True)
    write(server.root, "listing/.hidden", "secret")
    body = api.get("api/contents/listing").json()
    assert body["type"] == "directory" and body["format"] == "json"
    assert set(body) >= MODEL_KEYS - {"hash", "hash_algorithm"}
    by_name = {m["name"]: m for m in body["content"]}
    assert set(by_name) == {"a.txt", "b.ipynb", "sub"}
    assert by_name["a.txt"]["type"] == "file" and by_name["a.txt"]["size"] == 5
    assert by_name["a.txt"]["path"] == "listing/a.txt"
    assert by_name["b.ipynb"]["type"] == "notebook"
    assert by_name["sub"]["type"] == "directory"
    assert all(m["content"] is None for m in body["content"])
    bare = api.get("api/contents/listing?content=0").json()
    assert bare["content"] is None
    assert api.get("api/contents/listing/.hidden").status_code == 404
    root = api.get("api/contents").json()
    assert root["path"] == "" and root["type"] == "directory"


def test_file_text_base64_and_hash(api, server):
    write(server.root, "files/t.txt", "héllo\n")
    write(server.root, "files/bin.dat", bytes(range(256)))
    text = api.get("api/contents/files/t.txt").json()
    assert (text["type"], text["format"], text["content"]) == ("file", "text", "héllo\n")
    assert text["mimetype"] == "text/plain"
    b64 = api.get("api/contents/files/t.txt?format=base64").json()
    assert base64.b64decode(b64["content"]) == "héllo\n".encode()
    binary = api.get("api/contents/files/bin.dat").json()
    assert binary["format"] == "base64"
    assert base64.b64decode(binary["content"]) == bytes(range(256))
    assert api.get("api/contents/files/bin.dat?format=text").status_code == 400
    hashed = api.get("api/contents/files/t.txt?hash=1").json()
    assert hashed["hash_algorithm"] == "sha256" and len(hashed["hash"]) == 64
    assert api.get("api/contents/files/t.txt?format=weird").status_code == 400
    assert api.get("api/contents/files/t.txt?type=directory").status_code == 400


def test_notebook_get_and_save_round_trip(api, server):
    nb = notebook_json("x = 1")
    r = api.put("api/contents/nbs/new.ipynb", json={"type": "notebook", "content": nb})
    assert r.status_code == 404  # parent directory missing
    os.makedirs(os.path.join(server.root, "nbs"), exist_ok=True)
    r = api.put("api/contents/nbs/new.ipynb", json={"type": "notebook", "content": nb})
    assert r.status_code == 201 and r.json()["type"] == "notebook"
    assert r.json()["content"] is None
    got = api.get("api/contents/nbs/new.ipynb").json()
    assert got["format"] == "json" and got["content"]["cells"][0]["source"] == "x = 1"
    nb["cells"][0]["source"] = "x = 2"
    r = api.put("api/contents/nbs/new.ipynb", json={"type": "notebook", "content": nb})
    assert r.status_code == 200
    on_disk = nbformat.read(os.path.join(server.root, "nbs/new.ipynb"), as_version=4)
    assert on_disk.cells[0].source == "x = 2"


def test_old_notebook_format_is_converted(api, server):
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "input": "1+1",
                        "language": "python",
                        "outputs": [],
                        "metadata": {},
                    }
                ],
                "metadata": {},
            }
        ],
    }
    write(server.root, "old.ipynb", json.dumps(v3))
    got = api.get("api/contents/old.ipynb").json()
    assert got["content"]["nbformat"] == 4
    assert got["content"]["cells"][0]["source"] == "1+1"


def test_invalid_notebook_is_400_and_nothing_written(api, server):
    nb = notebook_json()
    api.put("api/contents/valid.ipynb", json={"type": "notebook", "content": nb})
    before = read(server.root, "valid.ipynb")
    bad = {"cells": "not a list", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}
    r = api.put("api/contents/valid.ipynb", json={"type": "notebook", "content": bad})
    assert r.status_code == 400 and "validation" in r.json()["message"].lower()
    assert read(server.root, "valid.ipynb") == before
    r = api.put("api/contents/other.ipynb", json={"type": "notebook", "content": bad})
    assert r.status_code == 400
    assert not os.path.exists(os.path.join(server.root, "other.ipynb"))


def test_unreadable_notebook_is_400(api, server):
    write(server.root, "broken.ipynb", "{this is not json")
    assert api.get("api/contents/broken.ipynb").status_code == 400


def test_save_text_and_base64_files(api, server):
    r = api.put("api/contents/up/t.txt", json={"type": "file", "format": "text", "content": "a"})
    assert r.status_code == 404
    os.makedirs(os.path.join(server.root, "up"), exist_ok=True)
    r = api.put("api/contents/up/t.txt", json={"type": "file", "format": "text", "content": "a"})
    assert r.status_code == 201
    data = os.urandom(1000)
    r = api.put(
        "api/contents/up/b.bin",
        json={"type": "file", "format": "base64", "content": base64.b64encode(data).decode()},
    )
    assert r.status_code == 201
    assert read(server.root, "up/b.bin") == data
    r = api.put(
        "api/contents/up/b.bin",
        json={"type": "file", "format": "base64", "content": "!!not base64!!"},
    )
    assert r.status_code == 400
    assert read(server.root, "up/b.bin") == data
    assert api.put("api/contents/up/x", json={"type": "file"}).status_code == 400
    assert api.put("api/contents/up/x", json={"content": "x"}).status_code == 400
    assert api.put("api/contents/up/x", data=b"nope").status_code == 400


def test_create_directory_with_put(api, server):
    r = api.put("api/contents/made-dir", json={"type": "directory"})
    assert r.status_code == 201 and r.json()["type"] == "directory"
    assert os.path.isdir(os.path.join(server.root, "made-dir"))


def test_new_untitled_and_copy(api, server):
    os.makedirs(os.path.join(server.root, "new"), exist_ok=True)
    r1 = api.post("api/contents/new", json={"type": "notebook"})
    r2 = api.post("api/contents/new", json={"type": "notebook"})
    assert (r1.status_code, r2.status_code) == (201, 201)
    assert (r1.json()["name"], r2.json()["name"]) == ("Untitled.ipynb", "Untitled1.ipynb")
    nb = nbformat.read(os.path.join(server.root, "new/Untitled.ipynb"), as_version=4)
    assert nb.nbformat == 4
    assert (
        api.post("api/contents/new", json={"type": "file", "ext": ".txt"}).json()["name"]
        == "untitled.txt"
    )
    d1 = api.post("api/contents/new", json={"type": "directory"}).json()["name"]
    d2 = api.post("api/contents/new", json={"type": "directory"}).json()["name"]
    assert (d1, d2) == ("Untitled Folder", "Untitled Folder 1")
    copy = api.post("api/contents/new", json={"copy_from": "new/Untitled.ipynb"})
    assert copy.status_code == 201 and copy.json()["name"] == "Untitled-Copy1.ipynb"
    assert api.post("api/contents/new/Untitled.ipynb", json={}).status_code == 400
    assert api.post("api/contents/missing-dir", json={}).status_code == 404
    assert api.post("api/contents/new", json={"type": "weird"}).status_code == 400


def test_rename_move_and_conflict(api, server):
    write(server.root, "mv/a.txt", "a")
    write(server.root, "mv/b.txt", "b")
    os.makedirs(os.path.join(server.root, "mv/dest"), exist_ok=True)
    r = api.patch("api/contents/mv/a.txt", json={"path": "mv/dest/a2.txt"})
    assert r.status_code == 200 and r.json()["path"] == "mv/dest/a2.txt"
    assert read(server.root, "mv/dest/a2.txt").decode() == "a"
    r = api.patch("api/contents/mv/b.txt", json={"path": "mv/dest/a2.txt"})
    assert r.status_code == 409
    assert read(server.root, "mv/b.txt").decode() == "b"
    assert api.patch("api/contents/mv/nope.txt", json={"path": "mv/x.txt"}).status_code == 404
    assert api.patch("api/contents/mv/b.txt", json={"path": "../escape.txt"}).status_code == 404
    assert api.patch("api/contents/mv/b.txt", json={}).status_code == 400


def test_delete_files_and_directories(api, server):
    write(server.root, "del/f.txt", "x")
    write(server.root, "del/full/g.txt", "x")
    os.makedirs(os.path.join(server.root, "del/empty"), exist_ok=True)
    assert api.delete("api/contents/del/f.txt").status_code == 204
    assert not os.path.exists(os.path.join(server.root, "del/f.txt"))
    assert api.delete("api/contents/del/empty").status_code == 204
    assert api.delete("api/contents/del/full").status_code == 204  # to the trash, as a whole
    assert not os.path.exists(os.path.join(server.root, "del/full"))
    assert api.delete("api/contents/del/f.txt").status_code == 404


def test_checkpoints(api, server):
    write(server.root, "cp.txt", "version 1")
    assert api.get("api/contents/cp.txt/checkpoints").json() == []
    r = api.post("api/contents/cp.txt/checkpoints")
    assert r.status_code == 201 and r.json()["id"] == "checkpoint"
    write(server.root, "cp.txt", "version 2")
    listed = api.get("api/contents/cp.txt/checkpoints").json()
    assert [c["id"] for c in listed] == ["checkpoint"] and listed[0]["last_modified"]
    assert api.post("api/contents/cp.txt/checkpoints/checkpoint").status_code == 204
    assert read(server.root, "cp.txt").decode() == "version 1"
    assert api.post("api/contents/cp.txt/checkpoints/other").status_code == 404
    assert api.delete("api/contents/cp.txt/checkpoints/checkpoint").status_code == 204
    assert api.get("api/contents/cp.txt/checkpoints").json() == []
    assert api.delete("api/contents/cp.txt/checkpoints/checkpoint").status_code == 404
    # a file not saved yet has no checkpoints (jupyter_server: 200 []); JupyterLab asks
    # while it renames a new notebook on its first save
    missing = api.get("api/contents/missing.txt/checkpoints")
    assert missing.status_code == 200 and missing.json() == []
    assert api.post("api/contents/missing.txt/checkpoints").status_code == 404


def test_files_download(api, server):
    write(server.root, "dl/pic.png", b"\x89PNG\r\n\x1a\nrest")
    write(server.root, "dl/nb.ipynb", json.dumps(notebook_json()))
    r = api.get("files/dl/pic.png")
    assert r.status_code == 200 and r.content == b"\x89PNG\r\n\x1a\nrest"
    assert r.headers["Content-Type"] == "image/png"
    r = api.get("files/dl/pic.png?download=1")
    assert "attachment" in r.headers["Content-Disposition"]
    assert api.get("files/dl/nb.ipynb").json()["nbformat"] == 4
    assert api.get("files/dl/missing.png").status_code == 404
    assert api.get("files/dl").status_code == 404


def test_chunked_upload_of_20_mb(api, server):
    data = os.urandom(20 * 1024 * 1024)
    chunk_size = 4 * 1024 * 1024
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    target = os.path.join(server.root, "big.bin")
    write(server.root, "big.bin", b"old content")
    for n, piece in enumerate(pieces, start=1):
        number = -1 if n == len(pieces) else n
        r = api.put(
            "api/contents/big.bin",
            json={
                "type": "file",
                "format": "base64",
                "chunk": number,
                "content": base64.b64encode(piece).decode(),
            },
        )
        assert r.status_code in (200, 201), r.text
        if number != -1:  # until the last chunk, the old file is untouched
            assert read(target, "") == b"old content"
    with open(target, "rb") as f:
        assert f.read() == data
    assert r.json()["size"] == len(data)
    names = os.listdir(server.root)
    assert not [n for n in names if n.startswith(".~jls-upload-")]
    r = api.put(
        "api/contents/none.bin",
        json={"type": "file", "format": "base64", "chunk": 3, "content": ""},
    )
    assert r.status_code == 400


@pytest.mark.parametrize("bad", [0, -2, "x", True])
def test_bad_chunk_number_is_400(api, bad):
    r = api.put(
        "api/contents/c.bin", json={"type": "file", "format": "base64", "chunk": bad, "content": ""}
    )
    assert r.status_code == 400
