"""Reconnect churn: many websockets, each with a fresh session id, never exhaust the server."""

from __future__ import annotations

import os

import pytest
from jls_client import kernel_pid, start_server_in, wait_gone

pytestmark = pytest.mark.slow

PER_KERNEL = 8


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_400_reconnects_with_fresh_sessions_keep_descriptors_bounded(tmp_path):
    server = start_server_in(
        tmp_path, f"--MappingKernelManager.replay_sessions_per_kernel={PER_KERNEL}"
    )
    api = server.api()
    kernel_id = api.start_kernel()["id"]
    first = api.channels(kernel_id)
    pid = kernel_pid(first)
    first.close()
    before = open_fds(server.proc.pid)
    for _ in range(400):
        api.channels(kernel_id).close()  # a fresh session_id each time, as a reload makes
    grown = open_fds(server.proc.pid) - before
    # Each parked session holds 3 ZMQ sockets (and their signalling descriptors); the
    # 400 sessions are not all kept: at most PER_KERNEL are.
    assert grown <= PER_KERNEL * 6 + 8, f"{grown} descriptors more after 400 reconnects"
    assert "forgetting the output kept for session" in server.log_text()
    second = api.start_kernel()  # no descriptor shortage
    channel = api.channels(second["id"])
    reply, _ = channel.execute("1 + 1")
    assert reply["status"] == "ok"
    other_pid = kernel_pid(channel)
    channel.close()
    server.stop()
    assert wait_gone(pid) and wait_gone(other_pid)
