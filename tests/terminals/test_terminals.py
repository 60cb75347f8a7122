"""Terminals: a real pty running a real shell, over REST and terminado's websocket."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest
import requests
import websocket
from jls_client import module_server, pid_alive, rss_kib, start_server_in, wait_gone, wait_until

server = module_server("terms")


class Terminal:
    """A websocket on /terminals/websocket/<name>, reading until a pattern appears."""

    def __init__(self, server, name: str, token: bool = True) -> None:
        url = server.url.replace("http", "ws", 1) + f"terminals/websocket/{name}"
        headers = [f"Authorization: token {server.token}"] if token else []
        self.ws = websocket.create_connection(url, header=headers, timeout=20)
        self.output = ""

    def send(self, *command) -> None:
        self.ws.send(json.dumps(list(command)))

    def run(self, line: str) -> None:
        self.send("stdin", line + "\r")

    def read_until(self, pattern: str, timeout: float = 20) -> re.Match:
        deadline = time.monotonic() + timeout
        while (match := re.search(pattern, self.output)) is None:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            kind, *rest = json.loads(self.ws.recv())
            if kind == "stdout":
                self.output += rest[0]
            elif kind == "disconnect":
                raise EOFError(f"terminal closed; output so far: {self.output!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} not in {self.output!r}")
        return match

    def shell_pid(self) -> int:
        self.run("echo PID=$$")
        return int(self.read_until(r"PID=(\d+)").group(1))

    def close(self) -> None:
        self.ws.close()


def test_start_type_read_list_and_close_a_terminal(server):
    api = server.api()
    created = api.post("api/terminals")
    assert created.status_code == 200, created.text
    name = created.json()["name"]
    assert set(created.json()) == {"name", "last_activity"}
    assert name in [t["name"] for t in api.get("api/terminals").json()]
    term = Terminal(server, name)
    term.send("set_size", 30, 100, 600, 800)
    term.run("echo $((6*7)) $TERM $COLUMNS")
    term.read_until(r"42 xterm-256color 100")
    term.run("pwd")
    term.read_until(re.escape(os.path.realpath(server.root)))
    pid = term.shell_pid()
    term.ws.send("not json")  # garbage is dropped, the terminal lives on
    term.send("stdin")
    term.run("echo still here")
    term.read_until("still here")
    assert api.delete(f"api/terminals/{name}").status_code == 204
    assert wait_gone(pid), "the shell survived its terminal"
    with pytest.raises((EOFError, websocket.WebSocketConnectionClosedException)):
        term.read_until("never")
    assert api.get(f"api/terminals/{name}").status_code == 404
    assert api.delete(f"api/terminals/{name}").json()["message"].startswith("Terminal not found")


def test_a_terminal_starts_in_a_folder_inside_the_root(server):
    os.makedirs(os.path.join(server.root, "sub dir"), exist_ok=True)
    api = server.api()
    name = api.post("api/terminals", json={"cwd": "sub dir"}).json()["name"]
    term = Terminal(server, name)
    term.run("pwd")
    term.read_until(re.escape(os.path.join(os.path.realpath(server.root), "sub dir")))
    term.close()
    api.delete(f"api/terminals/{name}")
    outside = api.post("api/terminals", json={"cwd": "../.."})
    assert outside.status_code == 400 and "outside" in outside.json()["message"]
    assert api.post("api/terminals", json={"cwd": 3}).status_code == 400


def test_terminals_need_credentials_like_every_route(server):
    name = server.api().post("api/terminals").json()["name"]
    anonymous = requests.get(server.url + "api/terminals", timeout=10)
    assert anonymous.status_code == 403 and "message" in anonymous.json()
    assert requests.post(server.url + "api/terminals", timeout=10).status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        Terminal(server, name, token=False)
    assert refused.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as missing:
        Terminal(server, "no-such-terminal")
    assert missing.value.status_code == 404
    assert name in [t["name"] for t in server.api().get("api/terminals").json()]  # not created
    assert "no-such-terminal" not in [t["name"] for t in server.api().get("api/terminals").json()]
    server.api().delete(f"api/terminals/{name}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_server_leaves_no_shell(tmp_path, sig):
    srv = start_server_in(tmp_path)
    api = srv.api()
    pids = []
    for _ in range(2):
        term = Terminal(srv, api.post("api/terminals").json()["name"])
        pids.append(term.shell_pid())
        term.run("sleep 600 &")  # a job of the shell too
    assert all(pid_alive(p) for p in pids)
    assert srv.stop(sig) == 0
    assert all(wait_gone(p) for p in pids)


def test_no_terminals_turns_the_feature_off(tmp_path):
    srv = start_server_in(tmp_path, "--no-terminals")
    try:
        api = srv.api()
        assert api.get("api/terminals").status_code == 404
        assert api.post("api/terminals").status_code == 404
        page = api.get("lab")
        assert page.status_code == 200
        assert '"terminalsAvailable": false' in page.text
    finally:
        srv.stop()


def test_the_lab_page_offers_terminals_by_default(server):
    assert '"terminalsAvailable": true' in server.api().get("lab").text


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, culled",
    [
        (["--cull-idle-timeout=2", "--cull-interval=1"], True),
        (["--cull-idle-timeout=2", "--cull-interval=1",
          "--TerminalManager.cull_inactive_timeout=0"], False),
    ],
)
def test_idle_terminals_are_culled_with_the_culler_options(tmp_path, args, culled):
    srv = start_server_in(tmp_path, *args)
    try:
        api = srv.api()
        name = api.post("api/terminals").json()["name"]
        term = Terminal(srv, name)
        pid = term.shell_pid()
        if culled:
            wait_until(lambda: not api.get("api/terminals").json(), 15, "the idle terminal culled")
            assert wait_gone(pid)
            assert "Culling terminal" in srv.log_text()
        else:
            time.sleep(5)
            assert [t["name"] for t in api.get("api/terminals").json()] == [name]
            assert pid_alive(pid)
    finally:
        srv.stop()


@pytest.mark.slow
def test_a_terminal_client_that_stops_reading_is_disconnected_not_buffered(tmp_path):
    import socket

    srv = start_server_in(tmp_path, "--MappingKernelManager.client_send_buffer=4194304")
    try:
        api = srv.api()
        name = api.post("api/terminals").json()["name"]
        url = srv.url.replace("http", "ws", 1) + f"terminals/websocket/{name}"
        stalled = websocket.create_connection(
            url, header=[f"Authorization: token {srv.token}"], timeout=20,
            sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)],
        )  # fmt: skip
        before = rss_kib(srv.proc.pid)
        stalled.send(json.dumps(["stdin", "head -c 150000000 /dev/zero | tr '\\\\0' x\r"]))
        wait_until(lambda: "reads too slowly" in srv.log_text(), 60, "the stalled client dropped")
        grown = rss_kib(srv.proc.pid) - before
        assert grown < 32 * 1024, f"the server grew by {grown} KiB"
        assert [t["name"] for t in api.get("api/terminals").json()] == [name]  # still there
        stalled.close()
        assert api.delete(f"api/terminals/{name}").status_code == 204
    finally:
        srv.stop()
