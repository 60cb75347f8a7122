"""Real-time collaboration against a real server: sessions, rooms, saves, limits (issue 18).

Clients are real websockets holding their own Yjs doc (room_client.py), as
JupyterLab's provider does; the file on disk is checked as a user would.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from jls_client import module_server, start_server_in, wait_until
from room_client import RoomClient

from jupyter_lite_server.collaboration import protocol

OPTIONS = ("--ServerApp.collaborative=True", "--CollaborationManager.save_delay=0.2",
           "--CollaborationManager.poll_interval=0.2", "--CollaborationManager.cleanup_delay=1")


def notebook(*sources: str) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None,
         "outputs": [], "source": source} for i, source in enumerate(sources)]}  # fmt: skip


server = module_server("rooms", *OPTIONS)


@pytest.fixture
def name(request) -> str:
    """A notebook of this test's own: the tests share one server."""
    return f"{request.node.name}.ipynb"


def write(server, name: str, content: dict | str) -> str:
    path = os.path.join(server.root, name)
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))
    return path


def sources_on_disk(server, name: str) -> list[str]:
    with open(os.path.join(server.root, name)) as f:
        return ["".join(c["source"]) for c in json.load(f)["cells"]]


def test_session_names_the_room_and_refuses_what_is_not_a_file_in_the_root(server, name):
    write(server, name, notebook("1"))
    os.mkdir(os.path.join(server.root, "folder"))
    api = server.api()
    body = {"format": "json", "type": "notebook"}
    first = api.put(f"api/collaboration/session/{name}", json=body)
    assert first.status_code == 200
    session = first.json()
    assert set(session) == {"format", "type", "fileId", "sessionId"}
    assert api.put(f"api/collaboration/session/{name}", json=body).json() == session
    assert api.put("api/collaboration/session/../etc/passwd", json=body).status_code == 404
    assert api.put("api/collaboration/session/missing.ipynb", json=body).status_code == 404
    folder = api.put("api/collaboration/session/folder", json=body)
    assert folder.status_code == 400 and "directory" in folder.json()["message"]
    wrong = api.put(f"api/collaboration/session/{name}", json={"format": "xml", "type": "notebook"})
    assert wrong.status_code == 400
    assert api.put(f"api/collaboration/session/{name}", data="{").status_code == 400
    anonymous = server.api()
    anonymous.http.headers.pop("Authorization", None)
    assert anonymous.put(f"api/collaboration/session/{name}", json=body).status_code == 403


def test_two_clients_see_each_others_edits_and_the_file_is_saved(server, name):
    write(server, name, notebook("x = 1", "y = 2"))
    one, two = RoomClient(server, name).synced(), RoomClient(server, name).synced()
    assert one.sources() == two.sources() == ["x = 1", "y = 2"]
    one.edit(0, "  # from one")
    two.wait_for(lambda: two.sources()[0] == "x = 1  # from one", what="one's edit")
    two.notebook.append_cell({"cell_type": "markdown", "source": "from two", "metadata": {}})
    one.wait_for(lambda: one.sources()[-1] == "from two", what="two's cell")
    wait_until(lambda: sources_on_disk(server, name) == ["x = 1  # from one", "y = 2",
                                                             "from two"], 10, "the save")
    # Jupyter's save request is answered once the file is written.
    one.send(bytes([protocol.Kind.RAW]) + b"\x04save\x07")
    one.wait_for(lambda: one.save_replies, what="the save reply")
    reply = json.loads(one.save_replies[0])
    assert reply["type"] == "save" and reply["responseTo"] == 7
    assert reply["status"] in ("success", "skipped")


def test_awareness_is_relayed_and_removed_when_its_client_leaves(server, name):
    write(server, name, notebook("1"))
    one, two = RoomClient(server, name).synced(), RoomClient(server, name).synced()
    one.set_awareness({"user": {"name": "Ada"}})
    two.wait_for(lambda: any(s.get("user", {}).get("name") == "Ada"
                             for s in two.awareness.states.values()), what="Ada")  # fmt: skip
    one.close()
    two.wait_for(lambda: not any(s.get("user", {}).get("name") == "Ada"
                                 for s in two.awareness.states.values()), what="Ada gone")


def test_a_malformed_update_closes_its_socket_and_the_document_is_intact(server, name):
    write(server, name, notebook("kept"))
    good, other = RoomClient(server, name).synced(), RoomClient(server, name).synced()
    for garbage in (bytes([0, 2, 5, 1, 2, 3, 4, 5]), bytes([0, 9]), bytes([1, 200]), b""):
        bad = RoomClient(server, name).synced()
        bad.send(garbage)
        bad.pump(1)
        assert bad.close_code in (1007, 1003), (garbage, bad.close_code)
    text = RoomClient(server, name)
    text.ws.send("a text frame")
    text.pump(1)
    assert text.close_code == 1003
    good.edit(0, " and edited")
    other.wait_for(lambda: other.sources() == ["kept and edited"], what="the edit after")
    wait_until(lambda: sources_on_disk(server, name) == ["kept and edited"], 10, "saved")


def test_the_room_follows_a_rename_and_picks_up_changes_made_outside(server, name):
    write(server, name, notebook("before"))
    client = RoomClient(server, name).synced()
    api = server.api()
    assert api.patch(f"api/contents/{name}", json={"path": "b.ipynb"}).status_code == 200
    again = api.put("api/collaboration/session/b.ipynb",
                    json={"format": "json", "type": "notebook"}).json()  # fmt: skip
    assert again["fileId"] == client.session["fileId"]
    client.edit(0, " renamed")
    wait_until(lambda: sources_on_disk(server, "b.ipynb") == ["before renamed"], 10, "saved")
    assert not os.path.exists(os.path.join(server.root, name))
    time.sleep(0.3)  # another program writes the file (mtime moves on)
    write(server, "b.ipynb", notebook("from vim", "second"))
    client.wait_for(lambda: client.sources() == ["from vim", "second"], what="the outside change")


def test_a_client_of_an_unloaded_document_is_asked_to_reload(server, name):
    write(server, name, notebook("1"))
    first = RoomClient(server, name).synced()
    stale = first.session
    first.close()
    time.sleep(2)  # cleanup_delay=1: the document is unloaded
    comeback = RoomClient(server, name, session=stale)
    comeback.pump(2)
    assert comeback.close_code == 1003
    reason = json.loads(comeback.close_reason)
    assert reason["reloadable"] is True
    fresh = RoomClient(server, name).synced()  # a reload asks for a new session
    assert fresh.session["sessionId"] != stale["sessionId"]
    assert fresh.sources() == ["1"]


def test_documents_larger_than_the_limit_are_refused(tmp_path):
    server = start_server_in(tmp_path, *OPTIONS, "--CollaborationManager.max_document_bytes=20000")
    try:
        write(server, "big.ipynb", notebook("x" * 30000))
        big = RoomClient(server, "big.ipynb")
        big.pump(2)
        assert big.close_code == 4400 and "limit" in big.close_reason
        write(server, "small.ipynb", notebook("small"))
        small, watcher = (RoomClient(server, "small.ipynb").synced(),
                          RoomClient(server, "small.ipynb").synced())  # fmt: skip
        small.edit(0, "y" * 30000)
        small.pump(2)
        assert small.close_code == 1009
        watcher.pump(0.5)
        assert watcher.sources() == ["small"]
        assert sources_on_disk(server, "small.ipynb") == ["small"]
    finally:
        server.stop()


def test_a_room_without_a_file_only_relays_awareness(server):
    one, two = (RoomClient(server, "", room_id="JupyterLab:globalAwareness") for _ in range(2))
    one.pump(0.3)
    one.set_awareness({"user": {"name": "Grace"}})
    two.wait_for(lambda: any(s.get("user", {}).get("name") == "Grace"
                             for s in two.awareness.states.values()), what="Grace")  # fmt: skip


def test_edits_not_saved_yet_are_saved_when_the_server_stops(tmp_path):
    server = start_server_in(tmp_path, "--ServerApp.collaborative=True",
                             "--CollaborationManager.save_delay=60")  # fmt: skip
    try:
        write(server, "a.ipynb", notebook("typed"))
        client = RoomClient(server, "a.ipynb").synced()
        client.edit(0, " just before the end")
        client.pump(0.5)  # the server has it; its save is a minute away
        assert sources_on_disk(server, "a.ipynb") == ["typed"]
    finally:
        assert server.stop() == 0
    assert sources_on_disk(server, "a.ipynb") == ["typed just before the end"]
