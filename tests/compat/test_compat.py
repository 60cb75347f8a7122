"""The private parts of dependencies that jupyter_lite_server.compat relies on.

Each test fails loudly, naming what changed, when a new version of tornado,
jupyter_client or jupyterhub moves what we reach into. Unit tier: no server.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest
from tornado import web, websocket
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from jupyter_lite_server.compat.jupyter_client import (
    FastShutdownKernelManager,
    set_relaunch_arguments,
)
from jupyter_lite_server.compat.jupyterhub import hub_oauth_class
from jupyter_lite_server.compat.tornado_ws import open_stream, unsent_bytes


def test_jupyter_client_still_has_the_shutdown_poll_we_shorten():
    from jupyter_client.manager import AsyncKernelManager

    signature = inspect.signature(AsyncKernelManager._async_finish_shutdown)
    assert list(signature.parameters) == ["self", "waittime", "pollinterval", "restart"], (
        "jupyter_client changed _async_finish_shutdown; update compat/jupyter_client.py"
    )
    ours = inspect.signature(FastShutdownKernelManager._async_finish_shutdown)
    assert ours.parameters["pollinterval"].default == 0.01


def test_jupyter_client_restarts_with_the_launch_arguments_we_set():
    from jupyter_client import manager

    source = inspect.getsource(manager.KernelManager)
    assert "self._attempted_start = True" in source
    assert "await self._async_start_kernel(**self._launch_args)" in source, (
        "jupyter_client no longer relaunches from _launch_args; adopted kernels could not "
        "be restarted (compat/jupyter_client.py)"
    )
    km = FastShutdownKernelManager()
    set_relaunch_arguments(km, {"cwd": "/", "env": {}})
    assert km._attempted_start is True
    assert km._launch_args == {"cwd": "/", "env": {}}


async def test_a_started_kernel_holds_no_control_connection_and_still_shuts_down_by_request():
    km = FastShutdownKernelManager(kernel_name="python3")
    await km.start_kernel()
    process = km.provisioner.process  # type: ignore[union-attr]
    try:
        assert km._control_socket is None, "an idle kernel would keep a control connection"
        client = km.client()
        client.start_channels()
        try:  # ready: a kernel still starting dies of jupyter_client's pre-shutdown SIGINT
            await client.wait_for_ready(timeout=60)
        finally:
            client.stop_channels()
    finally:
        await km.shutdown_kernel(now=False)
    # jupyter_client connects the socket again for the shutdown_request: a kernel that
    # read it exits by itself (0); one that never got it is terminated (-SIGTERM).
    assert process.returncode == 0


def test_jupyterhub_still_patches_xsrf_through_the_method_we_disable():
    from jupyterhub.services import auth

    assert "self._patch_xsrf(handler)" in inspect.getsource(auth.HubAuth), (
        "jupyterhub no longer patches handlers through _patch_xsrf; check compat/jupyterhub.py"
    )
    ours = hub_oauth_class()
    assert issubclass(ours, auth.HubOAuth)
    assert ours._patch_xsrf(object.__new__(ours), object()) is None


class _RawFrameHandler(websocket.WebSocketHandler):
    def open(self) -> None:
        stream = open_stream(self)
        assert stream is not None
        payload = b"raw frame"
        stream.write(bytes((0x81, len(payload))) + payload)  # one text frame, written directly


async def test_tornado_websocket_stream_takes_raw_frames():
    sock, port = bind_unused_port()
    server = HTTPServer(web.Application([(r"/ws", _RawFrameHandler)]))
    server.add_sockets([sock])
    try:
        connection = await websocket.websocket_connect(f"ws://127.0.0.1:{port}/ws")
        message = await asyncio.wait_for(connection.read_message(), 5)
        assert message == "raw frame"
        connection.close()
    finally:
        server.stop()


class _UnreadHandler(websocket.WebSocketHandler):
    pending: list[int] = []

    def open(self) -> None:
        stream = open_stream(self)
        assert stream is not None
        before = unsent_bytes(stream)
        payload = b"x" * (8 << 20)  # more than any socket buffer takes at once
        stream.write(bytes((0x82, 127)) + len(payload).to_bytes(8, "big") + payload)
        _UnreadHandler.pending = [before, unsent_bytes(stream)]


async def test_tornado_stream_tells_how_much_it_has_not_sent():
    sock, port = bind_unused_port()
    server = HTTPServer(web.Application([(r"/ws", _UnreadHandler)]))
    server.add_sockets([sock])
    try:
        connection = await websocket.websocket_connect(f"ws://127.0.0.1:{port}/ws")
        message = await asyncio.wait_for(connection.read_message(), 10)
        assert len(message) == 8 << 20
        before, after = _UnreadHandler.pending
        assert before == 0 and 0 < after <= (8 << 20) + 10, _UnreadHandler.pending
        connection.close()
    finally:
        server.stop()


def test_no_stream_once_the_websocket_is_gone():
    handler = object.__new__(_RawFrameHandler)
    handler.ws_connection = None
    assert open_stream(handler) is None


@pytest.mark.parametrize("dependency", ["tornado", "jupyter_client", "jupyterhub"])
def test_dependencies_we_reach_into_are_capped_at_their_major(dependency):
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    project = pyproject["project"]
    specs = [*project["dependencies"], *project["optional-dependencies"]["hub"]]
    spec = next(s for s in specs if s.startswith(dependency))
    assert "<" in spec, f"{dependency} needs an upper bound: jls reaches into its private parts"
