"""Faults: a kernel that ignores every polite request, a server stopped with busy kernels."""

import os
import signal
import time

import pytest
from jls_client import kernel_pid, pid_alive, start_server_in, wait_gone

pytestmark = pytest.mark.slow

STUBBORN = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
kernel = get_ipython().kernel

async def ignore_shutdown(*args, **kwargs):
    pass

kernel.control_handlers["shutdown_request"] = ignore_shutdown
kernel.shell_handlers["shutdown_request"] = ignore_shutdown
"""


def test_a_kernel_ignoring_sigint_sigterm_and_shutdown_request_is_killed(api):
    model = api.start_kernel()
    channel = api.channels(model["id"])
    pid = kernel_pid(channel)
    reply, _ = channel.execute(STUBBORN)
    assert reply["status"] == "ok"
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.5)
    assert pid_alive(pid), "the kernel should now ignore SIGTERM"
    started = time.monotonic()
    response = api.delete(f"api/kernels/{model['id']}")
    took = time.monotonic() - started
    assert response.status_code == 204
    assert api.get(f"api/kernels/{model['id']}").status_code == 404  # at once
    assert wait_gone(pid, 20), "the escalation (to SIGKILL) did not stop it"
    assert took < 15, f"DELETE took {took:.1f} s"
    assert api.get(f"api/kernels/{model['id']}").status_code == 404


def test_sigterm_with_ten_busy_kernels_stops_every_one(tmp_path, request):
    server = start_server_in(tmp_path)
    api = server.api()
    pids = []
    request.addfinalizer(lambda: server.proc.poll() is None and server.stop(signal.SIGKILL))
    for _ in range(10):
        channel = api.channels(api.start_kernel()["id"])
        pids.append(kernel_pid(channel))
        channel.send(channel.message("execute_request", {"code": "import time; time.sleep(600)"}))
        channel.wait_for(lambda m: m["header"]["msg_type"] == "execute_input")
    busy = [k["execution_state"] for k in api.get("api/kernels").json()]
    assert busy == ["busy"] * 10
    started = time.monotonic()
    assert server.stop(signal.SIGTERM, timeout=60) == 0
    took = time.monotonic() - started
    left = [pid for pid in pids if not wait_gone(pid, 5)]
    assert left == [], f"kernels left running after SIGTERM: {left}"
    assert took < 30, f"shutdown took {took:.1f} s"
