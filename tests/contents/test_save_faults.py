"""Saving under stress: a full disk, and two clients saving one notebook at once."""

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from jls_client import start_server

pytestmark = pytest.mark.slow


def notebook(text: str, cells: int = 1) -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": text}
            for i in range(cells)
        ],
    }


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs as the server's root (this needs root, as CI runs)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs to fill (needs root): {result.stderr}")
    yield str(mount)
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_save_on_a_full_disk_fails_clearly_and_keeps_the_old_notebook(tiny_disk, tmp_path):
    server = start_server(tiny_disk, str(tmp_path))
    try:
        api = server.api()
        path = os.path.join(tiny_disk, "work.ipynb")
        saved = api.put("api/contents/work.ipynb", json={"type": "notebook", "content":
                                                           notebook("version one")})  # fmt: skip
        assert saved.status_code == 201
        before = Path(path).read_bytes()
        with open(os.path.join(tiny_disk, "filler"), "wb") as filler:  # leave ~20 KiB free
            free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
            filler.write(b"\0" * max(0, free - 20 * 1024))
        big = notebook("x" * 2000, cells=100)  # ~200 KiB: does not fit
        response = api.put("api/contents/work.ipynb", json={"type": "notebook", "content": big})
        assert response.status_code == 507, response.text
        assert "space" in response.json()["message"]
        assert Path(path).read_bytes() == before, "the notebook on disk changed"
        leftovers = [n for n in os.listdir(tiny_disk) if n not in ("work.ipynb", "filler")]
        assert [n for n in leftovers if n != ".ipynb_checkpoints"] == []
        again = api.get("api/contents/work.ipynb").json()
        assert again["content"]["cells"][0]["source"] == "version one"
        os.remove(os.path.join(tiny_disk, "filler"))
        assert api.put("api/contents/work.ipynb", json={"type": "notebook", "content": big}
                       ).status_code == 200  # fmt: skip
    finally:
        server.stop()


def test_two_clients_saving_one_notebook_never_interleave(server, api):
    versions = {name: notebook(name * 5000, cells=40) for name in ("A", "B")}
    path = os.path.join(server.root, "shared.ipynb")
    errors = []

    def save(name):
        client = server.api()
        for _ in range(15):
            response = client.put(
                "api/contents/shared.ipynb", json={"type": "notebook", "content": versions[name]}
            )
            if response.status_code not in (200, 201):
                errors.append(response.text)

    threads = [threading.Thread(target=save, args=(name,)) for name in versions]
    for thread in threads:
        thread.start()
    seen = set()
    while any(t.is_alive() for t in threads):
        if os.path.exists(path):
            with open(path) as f:
                on_disk = json.load(f)  # always a whole, valid notebook
            seen.add("".join(on_disk["cells"][0]["source"])[0])
    for thread in threads:
        thread.join()
    assert errors == []
    with open(path) as f:
        final = json.load(f)
    sources = ["".join(cell["source"]) for cell in final["cells"]]
    assert sources in ([c["source"] for c in v["cells"]] for v in versions.values())
    assert seen <= {"A", "B"}
