"""A cell's output lands in the notebook file when its browser went away (issue 18, part 1).

Real kernels, a real notebook file, the websocket as JupyterLab uses it (the
cell id in ``metadata.cellId``), closed while the cell runs.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from jls_client import start_server_in, wait_until

CODE = ("import time\nfor i in range(6):\n    print('line', i, flush=True)\n"
        "    time.sleep(0.4)\n6 * 7")


def notebook() -> dict:
    code = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": "# Notes"},
        {**code, "id": "c1", "source": CODE},
        {**code, "id": "c2", "source": "'second'"},
    ]}  # fmt: skip


@pytest.fixture
def server(tmp_path):
    srv = start_server_in(tmp_path, "--OutputKeeper.flush_interval=1")
    yield srv
    srv.stop()


def open_notebook(server, name: str = "nb.ipynb"):
    with open(os.path.join(server.root, name), "w") as f:
        json.dump(notebook(), f)
    api = server.api()
    session = api.post("api/sessions", json={"path": name, "type": "notebook",
                                             "kernel": {"name": "python3"}}).json()  # fmt: skip
    return api, session["kernel"]["id"]


def run_cell(channel, cell_id: str, code: str = CODE) -> str:
    msg = channel.message("execute_request", {
        "code": code, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True})  # fmt: skip
    msg["metadata"] = {"cellId": cell_id}
    msg_id = channel.send(msg)
    channel.wait_for(lambda m: m["msg_type"] == "stream")  # it runs
    return msg_id


def cell(server, cell_id: str, name: str = "nb.ipynb") -> dict:
    with open(os.path.join(server.root, name)) as f:
        return next(c for c in json.load(f)["cells"] if c["id"] == cell_id)


def finished(server, cell_id: str):
    current = cell(server, cell_id)
    done = any(o["output_type"] == "execute_result" for o in current["outputs"])
    return current if done else None


def text(output: dict) -> str:
    """A stream's text (nbformat writes it as a list of lines)."""
    value = output["text"]
    return "".join(value) if isinstance(value, list) else value


def test_the_output_of_a_cell_whose_page_closed_is_written_into_the_notebook(server):
    api, kernel_id = open_notebook(server)
    channel = api.channels(kernel_id)
    run_cell(channel, "c1")
    channel.close()  # the tab is closed while the cell runs
    partial = wait_until(lambda: cell(server, "c1")["outputs"], 10, "output written while running")
    assert text(partial[0]).startswith("line 0\n")
    # Meanwhile the user edits another cell from another page: the edit is kept.
    model = api.get("api/contents/nb.ipynb").json()["content"]
    model["cells"][2]["source"] = "'edited elsewhere'"
    assert api.put("api/contents/nb.ipynb", json={"type": "notebook", "content": model}).ok
    done = wait_until(lambda: finished(server, "c1"), 20, "the cell's end written")
    assert done["outputs"][0]["name"] == "stdout"
    assert text(done["outputs"][0]) == "".join(f"line {i}\n" for i in range(6))
    result = done["outputs"][1]
    assert "".join(result["data"]["text/plain"]) == "42" and result["execution_count"] == 1
    assert done["execution_count"] == 1
    assert "".join(cell(server, "c2")["source"]) == "'edited elsewhere'"
    # A new page opens the notebook: the output is there, and trusted.
    reopened = api.get("api/contents/nb.ipynb").json()["content"]["cells"][1]
    assert reopened["metadata"]["trusted"] is True and len(reopened["outputs"]) == 2


@pytest.mark.slow
def test_a_cell_deleted_meanwhile_is_skipped_not_clobbered(server):
    api, kernel_id = open_notebook(server)
    channel = api.channels(kernel_id)
    # The cell runs until the test has deleted it: a fixed duration raced the first read
    # of a notebook (nbformat's first validation, seconds on a busy machine).
    go_on = os.path.join(server.root, "..", "cell-deleted")
    run_cell(channel, "c1", f"import os, time\nprint('running', flush=True)\n"
                            f"while not os.path.exists({go_on!r}):\n    time.sleep(0.1)\n"
                            f"print('done', flush=True)")
    channel.close()
    model = api.get("api/contents/nb.ipynb").json()["content"]
    model["cells"] = [c for c in model["cells"] if c["id"] != "c1"]
    assert api.put("api/contents/nb.ipynb", json={"type": "notebook", "content": model}).ok
    open(go_on, "w").close()
    wait_until(lambda: "no longer has it" in server.log_text(), 20, "the skip logged")
    with open(os.path.join(server.root, "nb.ipynb")) as f:
        assert [c["id"] for c in json.load(f)["cells"]] == ["m1", "c2"]


@pytest.mark.slow
def test_a_client_that_comes_back_gets_the_replay_and_nothing_is_written(server):
    api, kernel_id = open_notebook(server)
    session_id = "same-tab-session"
    channel = api.channels(kernel_id, session_id=session_id)
    channel.session = session_id
    msg_id = run_cell(channel, "c1")
    channel.close()
    time.sleep(0.5)
    back = api.channels(kernel_id, session_id=session_id)  # the same tab reconnects
    reply, _ = back.collect(msg_id, timeout=20)
    assert reply["status"] == "ok"
    time.sleep(1.5)  # more than a flush interval
    assert cell(server, "c1")["outputs"] == []  # the tab shows it; the file is the tab's to save


@pytest.mark.slow
def test_requests_without_a_cell_id_are_only_replayed(server):
    api, kernel_id = open_notebook(server)
    channel = api.channels(kernel_id)
    channel.start_execute("import time; print('no cell'); time.sleep(1)")
    channel.wait_for(lambda m: m["msg_type"] == "stream")
    channel.close()
    time.sleep(2.5)
    assert cell(server, "c1")["outputs"] == [] and cell(server, "c2")["outputs"] == []


@pytest.mark.slow
def test_output_goes_on_landing_in_the_notebook_across_a_server_crash(tmp_path):
    """--sessions-db: the page closes, the server is SIGKILLed and restarted while the
    cell runs; what the kernel printed meanwhile (kept by its iopub keeper) and after
    is added to what was already written, in order, once."""
    import signal

    from jls_client import start_server

    root = tmp_path / "root"
    root.mkdir()
    db = str(tmp_path / "sessions.db")
    args = ("--sessions-db", db, "--OutputKeeper.flush_interval=1")
    first = start_server(str(root), str(tmp_path), *args)
    second = None
    try:
        api, kernel_id = open_notebook(first)
        # Each burst after the first waits for the test's go-ahead (a file), so that burst 1
        # is printed while no server runs and burst 2 once the next one does, however long
        # the first server takes to write burst 0 (its first notebook write can take seconds).
        go = tmp_path / "go"
        code = (f"import os, time\nfor burst in range(3):\n"
                f"    while burst and not os.path.exists({str(go)!r} + str(burst)):\n"
                f"        time.sleep(0.05)\n    for i in range(4):\n"
                f"        print('burst', burst, 'line', i, flush=True)\n6 * 7")
        channel = api.channels(kernel_id)
        run_cell(channel, "c1", code)
        channel.close()
        wait_until(lambda: "burst 0 line 3" in text_of_cell(first, "c1"), 20, "burst 0 written")
        first.stop(signal.SIGKILL)
        (tmp_path / "go1").touch()  # burst 1 while no server runs
        time.sleep(1.5)
        second = start_server(str(root), str(tmp_path), *args)
        (tmp_path / "go2").touch()  # burst 2 once the next server runs
        done = wait_until(lambda: finished(second, "c1"), 30, "the cell's end written")
        expected = "".join(f"burst {b} line {i}\n" for b in range(3) for i in range(4))
        assert text(done["outputs"][0]) == expected, repr(text(done["outputs"][0]))
        assert "".join(done["outputs"][1]["data"]["text/plain"]) == "42"
        assert done["execution_count"] == 1
        assert "Going on writing the output of 1 cell" in second.log_text()
    finally:
        for server in (first, second):
            if server is not None and server.proc.poll() is None:
                server.stop()


def text_of_cell(server, cell_id: str) -> str:
    return "".join(text(o) for o in cell(server, cell_id)["outputs"] if "text" in o)
