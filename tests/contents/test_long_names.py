"""A name the file system accepts is never refused because of our temporary names."""

from __future__ import annotations

import base64
import os

import pytest
from jls_client import start_server_in

NAMES = {
    "243 bytes": "n" * 237 + ".ipynb",
    "80 CJK characters": "\u6f22" * 80 + ".txt",  # 244 bytes in UTF-8
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server_in(tmp_path_factory.mktemp("long"))
    yield srv
    srv.stop()


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_saving_and_uploading_a_long_name_works(server, name):
    assert len(os.fsencode(name)) <= 255  # the file system's own limit
    api = server.api()
    if name.endswith(".ipynb"):
        model = {"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4,
                                                 "nbformat_minor": 5}}  # fmt: skip
    else:
        model = {"type": "file", "format": "text", "content": "first"}
    answer = api.put(f"api/contents/{name}", json=model)
    assert answer.status_code == 201, answer.text
    assert api.put(f"api/contents/{name}", json=model).status_code == 200  # saved over
    upload = name + ".bin" if len(os.fsencode(name)) < 251 else name[:-4] + ".bin"
    for chunk, data in ((1, b"part one, "), (-1, b"part two")):
        body = {"type": "file", "format": "base64", "chunk": chunk,
                "content": base64.b64encode(data).decode()}  # fmt: skip
        assert api.put(f"api/contents/{upload}", json=body).status_code in (200, 201)
    with open(os.path.join(server.root, upload), "rb") as f:
        assert f.read() == b"part one, part two"
    listed = [e["name"] for e in api.get("api/contents").json()["content"]]
    assert name in listed and upload in listed
    assert not [n for n in os.listdir(server.root) if n.startswith(".~")]  # nothing left over
