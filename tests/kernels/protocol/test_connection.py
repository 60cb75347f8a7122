"""Unit tier: the one request/reply helper, against a real ipykernel."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from jupyter_client.manager import AsyncKernelManager

from jupyter_lite_server.kernels.protocol.connection import (
    KernelConnection,
    RequestChannel,
    reply_content,
    request,
)
from jupyter_lite_server.kernels.protocol.ports import pick_ports


@pytest.fixture
async def kernel():
    manager = AsyncKernelManager(kernel_name="python3")
    manager.kernel_spec.argv[0] = sys.executable  # this environment's ipykernel
    await manager.start_kernel(env={**os.environ})
    try:
        yield KernelConnection(manager.get_connection_info(session=False))
    finally:
        await manager.shutdown_kernel(now=True)


async def test_a_request_gets_its_own_reply(kernel):
    reply = await request(kernel, "shell", "kernel_info_request", timeout=30)
    assert reply.msg_type == "kernel_info_reply"
    assert reply.content()["status"] == "ok"
    assert reply.parent_header()["session"] == kernel.session_id


async def test_replies_on_one_socket_are_matched_to_their_requests(kernel):
    await request(kernel, "shell", "kernel_info_request", timeout=30)  # the kernel is up
    code = {"silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    with RequestChannel(kernel, "shell") as requests:
        slow = requests.send("execute_request", {**code, "code": "import time; time.sleep(0.3)"})
        fast = requests.send("kernel_info_request")
        slow_reply, fast_reply = await asyncio.wait_for(asyncio.gather(slow, fast), 30)
    assert slow_reply.msg_type == "execute_reply"
    assert fast_reply.msg_type == "kernel_info_reply"
    content = await reply_content(kernel, "control", "kernel_info_request", timeout=30)
    assert content is not None and content["status"] == "ok"


async def test_no_reply_is_a_timeout_and_reply_content_says_none():
    silent = KernelConnection(
        {"ip": "127.0.0.1", "transport": "tcp", "key": b"k", "signature_scheme": "hmac-sha256",
         **dict(zip(("shell_port", "control_port"), pick_ports("127.0.0.1", 2), strict=True))}
    )  # fmt: skip
    with pytest.raises(TimeoutError):
        await request(silent, "shell", "kernel_info_request", timeout=0.2)
    assert await reply_content(silent, "control", "kernel_info_request", timeout=0.2) is None
