"""Kernels outliving the server: SIGKILL or --keep-kernels, then a new server reattaches.

Each test runs real `jls serve` processes on one sessions database file and
real ipykernel processes; state kept means a variable set before the restart
is read back after it from the same process.
"""

import json
import os
import signal
import socket
import sqlite3
import time

import pytest
from jls_client import (
    kernel_pid,
    pid_alive,
    run_jls,
    start_server,
    stream_text,
    wait_gone,
    wait_until,
)

# Kernels outliving killed servers take seconds each: the full suite (CI) runs them.
pytestmark = pytest.mark.slow


@pytest.fixture
def place(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "work").mkdir()
    return {"root": str(root), "base": str(tmp_path), "db": str(tmp_path / "sessions.db")}


@pytest.fixture
def pids_to_reap(place):
    """Kernel processes (and their keepers) a test left running on purpose are killed after."""
    pids: list[int] = []
    yield pids
    if os.path.exists(place["db"]):
        with sqlite3.connect(place["db"]) as db:
            keepers = db.execute("SELECT keeper FROM kernel").fetchall()
        pids += [json.loads(keeper).get("pid", 0) for (keeper,) in keepers]
    for pid in pids:
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


STARTED = []


@pytest.fixture(autouse=True)
def stop_servers_left_running():
    """A failed test must not leave its servers (and their kernels) behind."""
    yield
    while STARTED:
        server = STARTED.pop()
        if server.proc.poll() is None:
            server.stop()


def serve(place, *args):
    server = start_server(place["root"], place["base"], "--sessions-db", place["db"], *args)
    STARTED.append(server)
    return server


def serve_with_kernel(place, pids_to_reap, session_id=None):
    """A server on the place's database and one kernel with a channel (its PID reaped later)."""
    server = serve(place)
    api = server.api()
    kernel_id = api.start_kernel()["id"]
    channel = api.channels(kernel_id, session_id=session_id)
    if session_id:
        channel.session = session_id  # as JupyterLab does: one id for socket and messages
    pids_to_reap.append(kernel_pid(channel))
    return server, api, kernel_id, channel


def open_notebook(api, path="work/analysis.ipynb"):
    response = api.post(
        "api/sessions", json={"path": path, "type": "notebook", "kernel": {"name": "python3"}}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_sigkilled_server_restarts_with_kernel_state_and_session_kept(place, pids_to_reap):
    first = serve(place)
    api = first.api()
    session = open_notebook(api)
    kernel_id = session["kernel"]["id"]
    channel = api.channels(kernel_id)
    channel.execute("answer = 41")
    pid = kernel_pid(channel)
    pids_to_reap.append(pid)
    channel.close()
    first.stop(signal.SIGKILL)
    assert pid_alive(pid), "the kernel died with the server"

    second = serve(place)
    api = second.api()
    assert [k["id"] for k in api.get("api/kernels").json()] == [kernel_id]
    sessions = api.get("api/sessions").json()
    assert [(s["id"], s["path"], s["kernel"]["id"]) for s in sessions] == [
        (session["id"], "work/analysis.ipynb", kernel_id)
    ]
    channel = api.channels(kernel_id)
    reply, iopub = channel.execute("import os; print(answer + 1, os.getcwd(), os.getpid())")
    assert reply["status"] == "ok"
    value, cwd, same_pid = stream_text(iopub).split()
    assert (value, cwd, int(same_pid)) == ("42", os.path.join(place["root"], "work"), pid)
    assert "Kernel reattached" in second.log_text()
    sleep = channel.message("execute_request", {"code": "import time; time.sleep(60)"})
    msg_id = channel.send(sleep)
    time.sleep(0.5)
    assert api.post(f"api/kernels/{kernel_id}/interrupt").status_code == 204
    reply, _ = channel.collect(msg_id, timeout=10)
    assert reply["ename"] == "KeyboardInterrupt"

    # A reattached kernel is controlled like any other: restart gives a new process...
    restarted = api.post(f"api/kernels/{kernel_id}/restart")
    assert restarted.status_code == 200, restarted.text
    assert wait_gone(pid)
    new_pid = kernel_pid(channel)
    pids_to_reap.append(new_pid)
    assert new_pid != pid
    # ...and deleting the session stops it for good.
    assert api.delete(f"api/sessions/{session['id']}").status_code == 204
    assert wait_gone(new_pid)
    second.stop()


def test_sigterm_stops_kernels_unless_keep_kernels(place, pids_to_reap):
    server = serve(place)
    api = server.api()
    channel = api.channels(api.start_kernel()["id"])
    pid = kernel_pid(channel)
    pids_to_reap.append(pid)
    channel.close()
    assert server.stop(signal.SIGTERM) == 0
    assert wait_gone(pid), "SIGTERM without --keep-kernels left the kernel running"

    server = serve(place, "--keep-kernels")
    api = server.api()
    assert api.get("api/kernels").json() == [], "a stopped kernel was remembered"
    kernel_id = api.start_kernel()["id"]
    channel = api.channels(kernel_id)
    channel.execute("kept = 'yes'")
    pid = kernel_pid(channel)
    pids_to_reap.append(pid)
    channel.close()
    assert server.stop(signal.SIGINT) == 0
    time.sleep(0.5)
    assert pid_alive(pid), "--keep-kernels stopped the kernel"
    assert "Leaving 1 kernel(s) running" in server.log_text()

    server = serve(place)
    api = server.api()
    channel = api.channels(kernel_id)
    _, iopub = channel.execute("print(kept)")
    assert stream_text(iopub) == "yes\n"
    channel.close()
    server.stop()
    assert wait_gone(pid)


def test_kernels_gone_while_the_server_was_down_are_cleaned_up(place, pids_to_reap):
    server = serve(place)
    api = server.api()
    session = open_notebook(api)
    channel = api.channels(session["kernel"]["id"])
    pid = kernel_pid(channel)
    channel.close()
    server.stop(signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)

    server = serve(place)
    api = server.api()
    assert api.get("api/kernels").json() == []
    assert api.get("api/sessions").json() == []
    assert "is no longer running; forgetting it" in server.log_text()
    server.stop()
    with sqlite3.connect(place["db"]) as db:
        assert db.execute("SELECT count(*) FROM kernel").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM session").fetchone() == (0,)


def test_a_kernel_whose_key_no_longer_matches_is_skipped_and_the_others_reattach(
    place, pids_to_reap
):
    server = serve(place)
    api = server.api()
    good, bad = (open_notebook(api, f"work/{n}.ipynb")["kernel"]["id"] for n in ("good", "bad"))
    pids = {}
    for kernel_id in (good, bad):
        channel = api.channels(kernel_id)
        channel.execute(f"me = {kernel_id!r}")
        pids[kernel_id] = kernel_pid(channel)
        pids_to_reap.append(pids[kernel_id])
        channel.close()
    server.stop(signal.SIGKILL)
    with sqlite3.connect(place["db"]) as db:
        (connection,) = db.execute(
            "SELECT connection_info FROM kernel WHERE kernel_id = ?", (bad,)
        ).fetchone()
        info = json.loads(connection)
        info["key"] = "0" * 36
        db.execute(
            "UPDATE kernel SET connection_info = ? WHERE kernel_id = ?", (json.dumps(info), bad)
        )

    server = serve(place, "--MappingKernelManager.reattach_timeout=3")
    api = server.api()
    assert [k["id"] for k in api.get("api/kernels").json()] == [good]
    assert [s["path"] for s in api.get("api/sessions").json()] == ["work/good.ipynb"]
    log = server.log_text()
    assert f"Kernel {bad}" in log and "the key no longer matches" in log
    assert pid_alive(pids[bad]), "a kernel we could not authenticate was killed"
    channel = api.channels(good)
    _, iopub = channel.execute("print(me)")
    assert stream_text(iopub).strip() == good
    channel.close()
    server.stop()
    assert wait_gone(pids[good])


def test_a_computation_running_across_the_restart_completes_with_its_state(place, pids_to_reap):
    server, api, kernel_id, channel = serve_with_kernel(place, pids_to_reap)
    channel.send(channel.message("execute_request", {"code": "import time; time.sleep(4); y = 7"}))
    time.sleep(1)
    server.stop(signal.SIGKILL)

    server = serve(place)
    api = server.api()
    model = api.get(f"api/kernels/{kernel_id}").json()
    assert model["execution_state"] == "busy"
    channel = api.channels(kernel_id)
    _, iopub = channel.execute("print(y)", timeout=30)
    assert stream_text(iopub) == "7\n"
    assert api.get(f"api/kernels/{kernel_id}").json()["execution_state"] == "idle"
    channel.close()
    server.stop()


def test_a_second_server_on_the_same_database_is_refused(place):
    server = serve(place)
    try:
        result = run_jls(
            "serve", "--port", "0", "--root", place["root"], "--sessions-db", place["db"]
        )
        assert result.returncode == 1
        assert "in use by another jls server" in result.stderr
        assert place["db"] in result.stderr
    finally:
        server.stop()


def test_keep_kernels_needs_a_database_file(place):
    result = run_jls("serve", "--port", "0", "--root", place["root"], "--keep-kernels")
    assert result.returncode != 0
    assert "--keep-kernels needs --sessions-db" in result.stderr


def test_output_produced_while_the_server_was_down_is_replayed_to_its_client(place, pids_to_reap):
    server, api, kernel_id, channel = serve_with_kernel(place, pids_to_reap, "laptop")
    msg_id = channel.send(
        channel.message(
            "execute_request",
            {"code": "import time; time.sleep(1.5); print('while you were away'); 6 * 7"},
        )
    )
    channel.wait_for(lambda m: m["header"]["msg_type"] == "execute_input")
    server.stop(signal.SIGKILL)
    time.sleep(3)  # the output is produced now, with no server running

    server = serve(place)
    api = server.api()
    back = api.channels(kernel_id, session_id="laptop")
    replayed = []
    while not (
        replayed
        and replayed[-1]["header"]["msg_type"] == "status"
        and replayed[-1]["content"]["execution_state"] == "idle"
    ):
        message = back.recv(10)
        if message["parent_header"].get("msg_id") == msg_id:
            replayed.append(message)
    assert stream_text(replayed) == "while you were away\n"
    results = [m for m in replayed if m["header"]["msg_type"] == "execute_result"]
    assert results[0]["content"]["data"]["text/plain"] == "42"
    stranger = api.channels(kernel_id, session_id="someone-else")
    _, iopub = stranger.execute("print('fresh')")
    assert stream_text(iopub) == "fresh\n", "another session received the replayed output"
    back.close()
    stranger.close()
    server.stop()


def _listening(url: str) -> bool:
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) == 0


def test_one_keeper_relays_every_kernel_and_relays_end_with_their_kernels(
    place, pids_to_reap
):
    server, api, kernel_id, channel = serve_with_kernel(place, pids_to_reap)
    channel.close()
    second = api.start_kernel()["id"]
    with sqlite3.connect(place["db"]) as db:
        keepers = {k: json.loads(v) for k, v in db.execute("SELECT kernel_id, keeper FROM kernel")}
    assert keepers[kernel_id]["pid"] == keepers[second]["pid"], "one keeper process per server"
    keeper_pid = keepers[kernel_id]["pid"]
    assert pid_alive(keeper_pid) and _listening(keepers[kernel_id]["url"])
    assert api.delete(f"api/kernels/{kernel_id}").status_code == 204
    wait_until(lambda: not _listening(keepers[kernel_id]["url"]), 10, "the relay to end")
    assert _listening(keepers[second]["url"]), "another kernel's relay ended too"
    assert pid_alive(keeper_pid)  # it stays for this server's other and next kernels
    server.stop()  # stops the second kernel too: nothing is left for the keeper to relay
    assert wait_gone(keeper_pid, 10), "the iopub keeper outlived its server and kernels"


def test_warm_pool_kernels_of_a_killed_server_are_stopped_not_adopted(place, pids_to_reap):
    server = serve(place, "--pool-size", "1")
    deadline = time.monotonic() + 30
    while (
        "Keeping 1 python3" not in server.log_text()
        or not sqlite3.connect(place["db"])
        .execute("SELECT count(*) FROM kernel WHERE pooled = 1")
        .fetchone()[0]
    ):
        assert time.monotonic() < deadline, "the pool never filled"
        time.sleep(0.2)
    with sqlite3.connect(place["db"]) as db:
        info = json.loads(db.execute("SELECT info FROM kernel").fetchone()[0])
    pids_to_reap.append(info["pid"])
    server.stop(signal.SIGKILL)

    server = serve(place)
    assert server.api().get("api/kernels").json() == []
    assert wait_gone(info["pid"]), "a pooled kernel of the old server was left running"
    assert "had it in its warm pool" in server.log_text()
    server.stop()


def test_a_kernel_whose_shutdown_a_crash_interrupted_is_stopped_not_reattached(
    place, pids_to_reap
):
    """DELETE answers once the shutdown is committed; the process stops afterwards. A
    server killed in between must not hand the deleted kernel back at the next start."""
    server, api, kernel_id, channel = serve_with_kernel(place, pids_to_reap)
    pid = pids_to_reap[-1]
    # The kernel takes its time to exit (and shrugs off SIGTERM): the stop escalates
    # for seconds, long after the DELETE answered.
    reply, _ = channel.execute(
        "import atexit, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "atexit.register(time.sleep, 60)"
    )
    assert reply["status"] == "ok"
    assert api.delete(f"api/kernels/{kernel_id}").status_code == 204
    assert api.get(f"api/kernels/{kernel_id}").status_code == 404
    assert api.get("api/kernels").json() == []
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    assert pid_alive(pid), "the kernel stopped too soon for this test to mean anything"
    restarted = serve(place)
    assert restarted.api().get("api/kernels").json() == []
    assert wait_gone(pid, 15), "the deleted kernel is still running after the next start"
    assert "was shutting it down" in restarted.log_text()
    restarted.stop()
