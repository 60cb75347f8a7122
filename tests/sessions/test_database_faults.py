"""The sessions database failing under a running server never leaks a kernel.

Real `jls serve` processes on a real SQLite file that is deleted, or whose disk
fills, while they run; kernel processes are found by what a user would see in
`ps e`: every kernel launched with a database carries the database's path.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess

import pytest
from jls_client import kernel_pid, pid_alive, start_server, wait_gone, wait_until

pytestmark = pytest.mark.slow


def kernels_of(db: str) -> set[int]:
    """PIDs of live processes launched for the sessions database ``db``."""
    marker = f"\0JLS_KERNEL_STORE={os.path.realpath(db)}\0".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker in b"\0" + f.read():
                        found.add(int(entry))
            except OSError:
                continue
    return {pid for pid in found if pid_alive(pid)}


@pytest.fixture
def place(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    servers = []
    yield {"root": str(root), "base": str(tmp_path), "db": str(tmp_path / "sessions.db"),
           "servers": servers}  # fmt: skip
    for server in servers:
        if server.proc.poll() is None:
            server.stop()
    for pid in kernels_of(str(tmp_path / "sessions.db")):
        os.kill(pid, signal.SIGKILL)


def serve(place, *args):
    server = start_server(place["root"], place["base"], "--sessions-db", place["db"], *args)
    place["servers"].append(server)
    return server


def open_notebook(api, path="nb.ipynb"):
    return api.post("api/sessions", json={"path": path, "type": "notebook",
                                          "kernel": {"name": "python3"}})  # fmt: skip


def test_a_deleted_database_is_a_503_and_leaves_no_kernel(place):
    server = serve(place)
    api = server.api()
    assert open_notebook(api, "before.ipynb").status_code == 201
    os.unlink(place["db"])
    for attempt in (lambda: open_notebook(api), lambda: api.post("api/kernels", json={})):
        answer = attempt()
        assert answer.status_code == 503, answer.text
        assert "deleted" in answer.json()["message"]
    assert len(api.get("api/kernels").json()) == 1  # the one from before, nothing new
    assert len(kernels_of(place["db"])) == 1
    assert "deleted or moved" in server.log_text()
    server.stop()
    assert wait_until(lambda: not kernels_of(place["db"]), 20, "kernels stopped")


def test_a_full_disk_is_a_507_and_leaves_no_kernel(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr}")
    try:
        root = tmp_path / "root"
        root.mkdir()
        db = str(disk / "sessions.db")
        server = start_server(str(root), str(tmp_path), "--sessions-db", db)
        try:
            api = server.api()
            with open(disk / "filler", "wb", buffering=0) as filler:
                try:
                    while True:
                        filler.write(b"\0" * 4096)
                except OSError:
                    pass
            answer = open_notebook(api)
            assert answer.status_code == 507, answer.text
            assert "full" in answer.json()["message"]
            assert api.get("api/kernels").json() == []
            assert wait_until(lambda: not kernels_of(db), 20, "the new kernel stopped")
            os.unlink(disk / "filler")
            assert open_notebook(api).status_code == 201  # space again: works again
        finally:
            server.stop()
        assert wait_until(lambda: not kernels_of(db), 20, "kernels stopped")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_kernel_launched_but_never_recorded_is_stopped_by_the_next_server(place):
    first = serve(place)
    api = first.api()
    kept = api.start_kernel()["id"]
    lost = api.start_kernel()["id"]
    kept_pid = kernel_pid(api.channels(kept))
    lost_pid = kernel_pid(api.channels(lost))
    with sqlite3.connect(place["db"]) as db:  # as if the server died before writing it
        db.execute("DELETE FROM kernel WHERE kernel_id = ?", (lost,))
    first.stop(signal.SIGKILL)
    assert pid_alive(lost_pid)

    second = serve(place)
    assert wait_gone(lost_pid), "the kernel nobody can reach still runs"
    assert "never recorded" in second.log_text()
    assert [k["id"] for k in second.api().get("api/kernels").json()] == [kept]
    assert pid_alive(kept_pid)  # a recorded kernel is reattached, never stopped
    second.stop()
    assert wait_gone(kept_pid)


def test_keep_kernels_stops_a_kernel_whose_record_could_not_be_updated(place):
    server = serve(place, "--keep-kernels")
    api = server.api()
    kernel_id = api.start_kernel()["id"]
    channel = api.channels(kernel_id)
    os.unlink(place["db"])
    assert api.post(f"api/kernels/{kernel_id}/restart").status_code == 200
    new_pid = kernel_pid(channel)  # its new PID could not be recorded
    channel.close()
    server.stop()
    assert wait_gone(new_pid), "left running although no next server could find it"
