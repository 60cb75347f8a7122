"""The room with the clients people use: Datalayer's jupyter-nbmodel-client, a kernel
whose browser left while a page still shows the notebook, and a flooding client."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest
from jls_client import module_server, wait_until
from room_client import RoomClient
from test_rooms import OPTIONS, notebook, sources_on_disk, write

from jupyter_lite_server.collaboration import protocol

server = module_server("clients", *OPTIONS, "--OutputKeeper.flush_interval=5")


@pytest.mark.slow
def test_jupyter_nbmodel_client_reads_and_adds_cells_that_pages_see(server):
    from jupyter_nbmodel_client import NbModelClient, get_jupyter_notebook_websocket_url

    write(server, "a.ipynb", notebook("first"))
    page = RoomClient(server, "a.ipynb").synced()

    async def agent() -> list[str]:
        url = get_jupyter_notebook_websocket_url(server_url=server.url, token=server.token,
                                                 path="a.ipynb")  # fmt: skip
        async with NbModelClient(url) as model:
            await asyncio.wait_for(model.wait_until_synced(), 10)
            seen = ["".join(cell["source"]) for cell in model.as_dict()["cells"]]
            model.add_code_cell("print('from the agent')")
            await asyncio.sleep(0.5)
        return seen

    assert asyncio.run(agent()) == ["first"]
    page.wait_for(lambda: page.sources() == ["first", "print('from the agent')"],
                  what="the agent's cell")  # fmt: skip
    wait_until(lambda: sources_on_disk(server, "a.ipynb")[-1:] == ["print('from the agent')"],
               10, "saved")  # fmt: skip


CODE = "import time\nfor i in range(8):\n    print('line', i, flush=True)\n    time.sleep(0.3)"


@pytest.mark.slow
def test_output_of_a_cell_whose_page_closed_reaches_the_page_still_open_live(server):
    """Page A runs the cell and closes; page B has the notebook open: the rest of the
    output arrives in B's document while it runs (not at the keeper's 5 s file flush)."""
    write(server, "nb.ipynb", notebook(CODE))
    page_b = RoomClient(server, "nb.ipynb").synced()
    api = server.api()
    session = api.post("api/sessions", json={"path": "nb.ipynb", "type": "notebook",
                                             "kernel": {"name": "python3"}}).json()  # fmt: skip
    channel = api.channels(session["kernel"]["id"])  # page A's kernel connection
    msg = channel.message("execute_request", {
        "code": CODE, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True})  # fmt: skip
    msg["metadata"] = {"cellId": "c0"}
    channel.send(msg)
    channel.wait_for(lambda m: m["msg_type"] == "stream")
    channel.close()  # page A is closed while the cell runs
    started = time.monotonic()

    def outputs() -> str:
        cell = page_b.notebook.get()["cells"][0]
        return "".join("".join(o.get("text", "")) for o in cell["outputs"])

    page_b.wait_for(lambda: "line 3" in outputs(), what="output while running")
    assert time.monotonic() - started < 4  # live, not at the 5 s file flush
    page_b.wait_for(lambda: "line 7" in outputs(), what="the last line")
    text = outputs()
    assert all(text.count(f"line {i}\n") == 1 for i in range(8)), text
    page_b.wait_for(lambda: page_b.notebook.get()["cells"][0]["execution_count"] == 1,
                    what="the execution count")  # fmt: skip
    def on_disk() -> str:
        with open(os.path.join(server.root, "nb.ipynb")) as f:
            return f.read()

    wait_until(lambda: "line 7" in on_disk(), 10, "the room's save")


@pytest.mark.slow
def test_a_client_sending_a_thousand_updates_a_second_does_not_starve_the_others(server):
    write(server, "flood.ipynb", notebook("x"))
    flooder = RoomClient(server, "flood.ipynb").synced()
    writer = RoomClient(server, "flood.ipynb").synced()
    reader = RoomClient(server, "flood.ipynb").synced()
    stop = threading.Event()
    sent = [0]

    def flood() -> None:  # a thousand small valid updates a second, from its own socket
        update = protocol.update_message(b"\x00\x00")
        while not stop.is_set():
            for _ in range(100):
                flooder.send(update)
            sent[0] += 100
            time.sleep(0.1)

    thread = threading.Thread(target=flood)
    thread.start()
    delays = []
    try:
        for i in range(10):
            started = time.monotonic()
            writer.edit(0, str(i))
            reader.wait_for(lambda i=i: reader.sources()[0].endswith(str(i)), what=f"edit {i}")
            delays.append(time.monotonic() - started)
            writer.pump(0.1)
    finally:
        stop.set()
        thread.join()
    assert sent[0] >= 1000
    assert max(delays) < 0.5, delays
