"""A kernel killed from outside: restarted and reported, then declared dead."""

import os
import signal
import time

import pytest
from jls_client import kernel_pid, start_server_in, wait_gone


@pytest.fixture(scope="module")
def fast_watch_server(tmp_path_factory):
    srv = start_server_in(
        tmp_path_factory.mktemp("death"),
        "--MappingKernelManager.watch_interval=0.2",
        "--MappingKernelManager.restart_limit=2",
    )
    yield srv
    srv.stop()


def srv_log_count(server, text):
    return server.log_text().count(text)


def statuses_until(ch, wanted, timeout=30):
    seen = []
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        m = ch.recv(max(0.1, deadline - time.monotonic()))
        if m["header"]["msg_type"] == "status":
            seen.append(m["content"]["execution_state"])
    return seen


def kill_kernel_process(ch, until="restarting"):
    """SIGKILL the kernel behind ``ch``; return its pid and the statuses seen until ``until``."""
    pid = kernel_pid(ch)
    os.kill(pid, signal.SIGKILL)
    return pid, statuses_until(ch, until)


@pytest.mark.slow  # watches for a second restart
def test_sigkilled_kernel_is_restarted_and_clients_told(fast_watch_server):
    api = fast_watch_server.api()
    model = api.start_kernel()
    ch = api.channels(model["id"])
    pid, statuses = kill_kernel_process(ch)
    assert "restarting" in statuses
    deadline = time.monotonic() + 30
    while api.get(f"api/kernels/{model['id']}").json()["execution_state"] != "idle":
        assert time.monotonic() < deadline, (
            "kernel never reported idle after its restart; server log:\n"
            + fast_watch_server.log_text()[-6000:]
        )
        time.sleep(0.1)
    new_pid = kernel_pid(ch)  # same websocket, same kernel id, a new process
    assert new_pid != pid
    time.sleep(3.5)  # longer than jupyter_client's own restarter interval (3 s)
    assert kernel_pid(ch) == new_pid, "the kernel was restarted a second time"
    assert srv_log_count(fast_watch_server, "died unexpectedly") == 1
    ch.close()
    api.delete(f"api/kernels/{model['id']}")
    assert wait_gone(new_pid)


def test_kernel_dying_too_often_is_declared_dead_and_removed(fast_watch_server):
    api = fast_watch_server.api()
    model = api.start_kernel()
    ch = api.channels(model["id"])
    kill_kernel_process(ch)
    # The execute inside is sent while the kernel restarts: held by the server, then answered.
    _, statuses = kill_kernel_process(ch, until="dead")  # second death: the limit is 2
    assert "dead" in statuses
    deadline = time.monotonic() + 10
    while api.get(f"api/kernels/{model['id']}").status_code != 404:
        assert time.monotonic() < deadline, "dead kernel still listed"
        time.sleep(0.1)
    ch.close()


def messages_until_status(ch, wanted, timeout=30):
    """Every iopub message up to (and including) the status ``wanted``."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        m = ch.recv(max(0.1, deadline - time.monotonic()))
        seen.append(m)
        if m["header"]["msg_type"] == "status" and m["content"]["execution_state"] == wanted:
            return seen


@pytest.mark.parametrize(
    "code, said",
    [
        ("import os; os._exit(3)", "Kernel died: exited with code 3"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
         "Kernel died: killed by signal 9 (SIGKILL)"),
    ],
)  # fmt: skip
def test_why_a_kernel_died_is_told_to_clients_the_log_and_the_model(fast_watch_server, code, said):
    api = fast_watch_server.api()
    model = api.start_kernel()
    ch = api.channels(model["id"])
    kernel_pid(ch)  # it runs
    msg_id = ch.send(ch.message("execute_request", {"code": code, "silent": False}))
    seen = messages_until_status(ch, "restarting")
    notices = [
        m
        for m in seen
        if m["header"]["msg_type"] == "stream" and m["content"]["text"].startswith(said)
    ]
    assert len(notices) == 1, seen
    assert notices[0]["content"]["name"] == "stderr"
    # addressed to the cell that was running, which is where JupyterLab shows it
    assert notices[0]["parent_header"].get("msg_id") == msg_id, (msg_id, notices)
    assert said in api.get(f"api/kernels/{model['id']}").json()["reason"]
    assert said in fast_watch_server.log_text()
    ch.close()
    api.delete(f"api/kernels/{model['id']}")
