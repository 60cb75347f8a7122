"""POST /api/shutdown, and stopping after a time with no activity."""

from __future__ import annotations

import time

import pytest
import requests
from jls_client import kernel_pid, start_server_in, wait_gone, wait_until


def test_api_shutdown_needs_the_token_then_stops_kernels_and_exits(tmp_path):
    srv = start_server_in(tmp_path)
    try:
        api = srv.api()
        channel = api.channels(api.start_kernel()["id"])
        pid = kernel_pid(channel)
        assert requests.post(srv.url + "api/shutdown", timeout=10).status_code == 403
        assert srv.proc.poll() is None
        answer = api.post("api/shutdown")
        assert answer.status_code == 200 and answer.json()["message"] == "Shutting down"
        assert srv.proc.wait(30) == 0
        assert wait_gone(pid, 10)
        channel.close()
    finally:
        srv.stop()


@pytest.mark.slow  # waits out a timeout
def test_no_activity_stops_an_idle_server_but_not_one_with_a_kernel(tmp_path):
    launched = time.monotonic()
    idle = start_server_in(tmp_path / "idle", "--ServerApp.shutdown_no_activity_timeout=1")
    busy = start_server_in(tmp_path / "busy", "--ServerApp.shutdown_no_activity_timeout=1")
    try:
        kernel = busy.api().start_kernel()
        assert idle.proc.wait(30) == 0
        assert time.monotonic() - launched >= 1.0  # not before its timeout
        assert "No requests and no kernels" in idle.log_text()
        # The busy server has had more than its timeout without a request: the kernel
        # keeps it alive. Once the kernel is gone, it stops too.
        assert busy.proc.poll() is None
        busy.api().delete(f"api/kernels/{kernel['id']}")
        wait_until(lambda: busy.proc.poll() is not None, what="the server to stop")
        assert busy.proc.returncode == 0
    finally:
        idle.stop()
        busy.stop()
