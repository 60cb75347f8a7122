"""A save killed half-way leaves the previous file whole."""

import json
import os
import signal
import subprocess
import sys
import time

import nbformat

WRITER = """
import sys
from jupyter_lite_server.contents.fileio import atomic_write
payload = b'{"cells": [' + b'0,' * (300 * 1024 * 1024 // 2) + b'1]}'
print("ready", flush=True)
atomic_write(sys.argv[1], payload)
print("done", flush=True)
"""


def test_sigkill_mid_save_keeps_old_notebook(tmp_path):
    target = tmp_path / "work.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("precious = 1"))
    nbformat.write(nb, str(target))
    before = target.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the temporary file is being written
        temps = [p for p in os.listdir(tmp_path) if p.startswith(".~jls-")]
        if temps and os.path.getsize(tmp_path / temps[0]) > 1024 * 1024:
            break
        time.sleep(0.005)
    else:
        raise AssertionError("the writer never started writing")
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert target.read_bytes() == before
    assert nbformat.read(str(target), as_version=4).cells[0].source == "precious = 1"


def test_completed_atomic_write_replaces_and_keeps_mode(tmp_path):
    from jupyter_lite_server.contents.fileio import atomic_write

    target = tmp_path / "f.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write(str(target), json.dumps({"new": True}).encode())
    assert json.loads(target.read_text()) == {"new": True}
    assert oct(os.stat(target).st_mode & 0o777) == "0o640"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
