"""Large files and save requests go through a worker process (contents/worker.py).

The server runs with a threshold of 2,000 bytes, so these small notebooks take
the path a 50 MB one takes: the body spooled to a file as it arrives, parsed,
signed, validated and written by a worker; a large file read and serialized by
a worker and streamed back. Each answer must be exactly what the in-server
path gives (tests/contents/test_contents_api.py), errors included.
"""

from __future__ import annotations

import json
import os
import socket
import time
from urllib.parse import urlparse

import nbformat
import pytest
from jls_client import isolated_env, start_server

THRESHOLD = 2000


def notebook(cells: int) -> dict:
    return {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": i,
                   "source": f"print({i})\nprint('second line')",
                   "outputs": [{"output_type": "stream", "name": "stdout",
                                "text": f"{i}\nsecond line\n"}]}
                  for i in range(cells)],
    }  # fmt: skip


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    base = tmp_path_factory.mktemp("large")
    env = isolated_env(str(base))
    env["TMPDIR"] = str(base / "tmp")  # where spooled bodies go: checked to be left empty
    os.makedirs(base / "tmp")
    os.makedirs(base / "root")
    server = start_server(str(base / "root"), str(base),
                          f"--ContentsManager.offload_bytes={THRESHOLD}", env=env)  # fmt: skip
    yield server, str(base / "tmp")
    server.stop()


@pytest.fixture
def api(place):
    return place[0].api()


def spool_files(place) -> list[str]:
    return [n for n in os.listdir(place[1]) if n.startswith("jls-body-")]


def test_a_large_notebook_saves_and_reads_back_as_the_server_itself_would(place, api):
    content = notebook(40)
    body = json.dumps({"type": "notebook", "content": content})
    assert len(body) > THRESHOLD
    r = api.put("api/contents/big.ipynb", data=body)
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "notebook" and r.json()["content"] is None
    with open(os.path.join(place[0].root, "big.ipynb")) as f:
        on_disk = f.read()
    assert on_disk == nbformat.writes(nbformat.from_dict(content)) + "\n"  # nbformat's bytes
    got = api.get("api/contents/big.ipynb", params={"hash": "1"})
    assert got.status_code == 200
    assert int(got.headers["Content-Length"]) == len(got.content)
    model = got.json()
    assert model["content"]["cells"][3]["source"] == "print(3)\nprint('second line')"
    assert model["content"]["cells"][3]["outputs"][0]["text"] == "3\nsecond line\n"
    assert model["content"]["cells"][3]["metadata"]["trusted"] is True  # signed at save
    assert model["hash_algorithm"] == "sha256" and len(model["hash"]) == 64
    assert spool_files(place) == []


def test_a_large_text_file_round_trips(place, api):
    text = "línea\n" * 1000
    r = api.put("api/contents/big.txt", json={"type": "file", "format": "text", "content": text})
    assert r.status_code == 201, r.text
    model = api.get("api/contents/big.txt").json()
    assert model["content"] == text and model["format"] == "text"
    assert spool_files(place) == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{" + b" " * THRESHOLD, 400, "Invalid JSON in body of request"),
        (b"[" + b"1," * THRESHOLD + b"1]", 400, "must be a JSON object"),
        (json.dumps({"copy_from": "x.ipynb", "pad": "x" * THRESHOLD}).encode(), 400,
         "Cannot copy with PUT"),
        (json.dumps({"type": "notebook", "content": {"cells": "x" * THRESHOLD}}).encode(), 400,
         "Notebook validation failed"),
        (json.dumps({"type": "nonsense", "content": "x" * THRESHOLD}).encode(), 400,
         "No file type provided"),
    ],
)  # fmt: skip
def test_a_bad_large_body_is_refused_as_a_small_one_is(place, api, body, status, message):
    r = api.put("api/contents/bad.ipynb", data=body)
    assert r.status_code == status, r.text
    assert message in r.json()["message"]
    assert not os.path.exists(os.path.join(place[0].root, "bad.ipynb"))
    assert spool_files(place) == []


def test_a_large_save_into_a_missing_folder_is_a_404(place, api):
    r = api.put("api/contents/nowhere/big.ipynb", json={"type": "notebook",
                                                         "content": notebook(40)})  # fmt: skip
    assert r.status_code == 404, r.text
    assert spool_files(place) == []


def test_a_large_listing_is_complete_json(place, api):
    folder = os.path.join(place[0].root, "many")
    os.makedirs(folder)
    for i in range(300):
        open(os.path.join(folder, f"f{i:03d}.txt"), "w").close()
    model = api.get("api/contents/many").json()
    assert sorted(e["name"] for e in model["content"]) == [f"f{i:03d}.txt" for i in range(300)]
    assert model["type"] == "directory" and model["format"] == "json"


def test_a_client_that_leaves_mid_upload_leaves_nothing_behind(place, api):
    server = place[0]
    url = urlparse(server.url)
    with socket.create_connection((url.hostname, url.port)) as s:
        s.sendall(
            f"PUT {url.path}api/contents/cut.ipynb HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: token {server.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10 * THRESHOLD}\r\n\r\n".encode()
            + b'{"type": "notebook", "content": "' + b"x" * (3 * THRESHOLD)
        )
        deadline = time.monotonic() + 10
        while not spool_files(place):  # the body is being spooled...
            assert time.monotonic() < deadline, "the large body was never spooled"
            time.sleep(0.02)
    deadline = time.monotonic() + 10
    while spool_files(place):  # ...and removed when the client goes
        assert time.monotonic() < deadline, f"left behind: {spool_files(place)}"
        time.sleep(0.05)
    assert not os.path.exists(os.path.join(server.root, "cut.ipynb"))
    assert api.get("api/status").status_code == 200
