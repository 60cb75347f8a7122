"""A remote kernel made to look like a local one.

A gateway exposes a kernel as a websocket; the server speaks ZMQ to every
kernel (that is what keeps culling, replay, status tracking and reattach
identical for all providers). The bridge binds the five ZMQ sockets of a
kernel with a key of its own — in-process (``inproc://``, no port on the host,
no loopback hop) unless kernels outlive the server, whose iopub keeper is
another process and needs 127.0.0.1 ports — and relays: requests arriving on
the shell, control and stdin ROUTER sockets go to the gateway's websocket;
what the gateway sends back goes out on iopub (PUB) or is routed to the
socket that asked (by the request's ``msg_id``). Messages are re-signed on
each side: the gateway never sees our key, we never need the remote one.

When the websocket drops, the bridge reconnects if the gateway still has the
kernel; when the gateway is gone or has lost the kernel, the bridge is marked
dead with the reason, which the server's liveness check turns into a
``dead`` status for every client instead of a socket that hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import OrderedDict, deque
from typing import Any
from urllib.parse import quote

import zmq
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError

from ...protocol import wire
from ...protocol.ports import channel_url, pick_ports
from ...protocol.zmqio import ZMQChannel
from .client import GatewayClient, GatewayError, acknowledge_now

log = logging.getLogger("jls.kernels.gateway")

_SOCKET_TYPES = {
    "shell": zmq.ROUTER,
    "control": zmq.ROUTER,
    "stdin": zmq.ROUTER,
    "iopub": zmq.PUB,
    "hb": zmq.REP,
}
#: Requests whose reply has not come back yet, per channel, at most this many.
MAX_OPEN_REQUESTS = 10_000
#: Messages held while the websocket reconnects, at most this many.
MAX_HELD = 1_000


def new_connection_info(ip: str = "127.0.0.1", in_process: bool = False) -> dict[str, Any]:
    """Where the bridge binds: named in-process endpoints, or free ports on ``ip``."""
    if in_process:
        transport, address, ports = "inproc", f"jls-gateway-{uuid.uuid4().hex}", [1, 2, 3, 4, 5]
    else:
        transport, address, ports = "tcp", ip, pick_ports(ip, 5)
    return {
        "transport": transport,
        "ip": address,
        **{f"{ch}_port": port for ch, port in zip(_SOCKET_TYPES, ports, strict=True)},
        "key": uuid.uuid4().hex,
        "signature_scheme": "hmac-sha256",
    }


class KernelBridge:
    """Local ZMQ ports in front of one remote kernel's websocket."""

    def __init__(
        self,
        client: GatewayClient,
        remote_id: str,
        connection_info: dict[str, Any] | None = None,
        in_process: bool = False,
    ) -> None:
        self.client = client
        self.remote_id = remote_id
        self.connection_info = connection_info or new_connection_info(in_process=in_process)
        self.signer = wire.Signer(
            self.connection_info["key"], self.connection_info.get("signature_scheme", "")
        )
        self.session_id = uuid.uuid4().hex  # ours towards the gateway, kept across reconnects
        self.failure = ""  # why the kernel is considered dead
        #: False once the gateway is known to have lost the kernel, or to be gone itself:
        #: then there is nothing left to delete there.
        self.remote_may_exist = True
        self._sockets: dict[str, ZMQChannel] = {}
        self._routes: dict[str, OrderedDict[str, bytes]] = {
            "shell": OrderedDict(),
            "control": OrderedDict(),
        }
        self._ws: WebSocketClientConnection | None = None
        self._held: deque[tuple[str | bytes, bool]] = deque(maxlen=MAX_HELD)
        self._reader: asyncio.Task | None = None
        self._closing = False

    @property
    def alive(self) -> bool:
        return not self.failure

    # --- set-up and tear-down -------------------------------------------------------

    def bind(self) -> None:
        """Bind the kernel's ports (the ones in connection_info)."""
        context: zmq.Context[Any] = zmq.Context.instance()
        info = self.connection_info
        try:
            for channel, socket_type in _SOCKET_TYPES.items():
                socket = context.socket(socket_type)
                socket.linger = 0
                socket.sndhwm = 0
                socket.rcvhwm = 0
                socket.bind(channel_url(info, channel))
                handler = self._echo if channel == "hb" else self._from_local(channel)
                self._sockets[channel] = ZMQChannel(socket, handler)
        except zmq.ZMQError:
            self.close_sockets()
            raise

    async def open(self) -> None:
        """Connect the websocket and start relaying what the gateway sends."""
        self._ws = await self.client.connect_channels(self.remote_id, self.session_id)
        self._reader = asyncio.ensure_future(self._read_loop())

    def open_in_background(self) -> None:
        """Connect while the caller goes on; what local clients send is held meanwhile.

        A gateway answers the websocket only once its kernel is up (it asks for
        kernel_info first), so waiting here would keep a start request open for
        the kernel's whole start-up. A connection that fails marks the kernel
        dead with the reason, as a lost one does.
        """
        self._reader = asyncio.ensure_future(self._connect_and_read())

    async def _connect_and_read(self) -> None:
        try:
            self._ws = await self.client.connect_channels(self.remote_id, self.session_id)
        except GatewayError as exc:
            self.failure = f"the kernel's websocket could not be opened: {exc}"
            log.error("Gateway kernel %s is dead: %s", self.remote_id, self.failure)
            return
        self._send_held()
        await self._read_loop()

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            self._ws.close()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self.close_sockets()

    def close_sockets(self) -> None:
        for socket in self._sockets.values():
            socket.close()
        self._sockets.clear()

    # --- local clients → gateway ----------------------------------------------------

    def _echo(self, frames: list) -> None:
        if self.alive:  # a dead remote kernel stops answering heartbeats, as a local one would
            self._sockets["hb"].send([bytes(f) for f in frames])

    def _from_local(self, channel: str):
        def on_message(frames: list) -> None:
            identity = bytes(frames[0])
            try:
                msg = wire.parse_zmq([bytes(f) for f in frames[1:]], self.signer)
            except wire.WireError as exc:
                log.warning("Dropped a message for remote kernel %s: %s", self.remote_id, exc)
                return
            routes = self._routes.get(channel)
            if routes is not None:
                routes[msg.header["msg_id"]] = identity
                if len(routes) > MAX_OPEN_REQUESTS:
                    routes.popitem(last=False)
            chunks, binary = wire.to_ws_json(msg, channel)
            payload = b"".join(bytes(c) for c in chunks)
            self._write(payload if binary else payload.decode(), binary)

        return on_message

    def _write(self, payload: str | bytes, binary: bool) -> None:
        if self._ws is None or self._reconnecting():
            self._held.append((payload, binary))
            return
        try:
            self._ws.write_message(payload, binary=binary)
        except WebSocketClosedError:
            self._held.append((payload, binary))

    def _send_held(self) -> None:
        """What local clients sent while the websocket was not open, in order."""
        while self._held:
            payload, binary = self._held.popleft()
            self._write(payload, binary)

    def _reconnecting(self) -> bool:
        return self._ws is not None and self._ws.protocol is None

    # --- gateway → local clients ----------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            ws = self._ws
            assert ws is not None
            data = await ws.read_message()
            if data is None:
                if self._closing or not await self._reconnect(ws):
                    return
                continue
            acknowledge_now(ws)
            self._to_local(data)

    def _to_local(self, data: str | bytes) -> None:
        try:
            msg = wire.from_ws_json(data, wire.CHANNELS)
        except wire.WireError as exc:
            log.warning("Unreadable message from gateway kernel %s: %s", self.remote_id, exc)
            return
        frames = wire.to_zmq(msg.parts, self.signer)
        if msg.channel == "iopub":
            self._sockets["iopub"].send(frames)
            return
        parent_id = json.loads(bytes(msg.parts[1])).get("msg_id", "")
        if msg.channel == "stdin":  # input_request: to whoever sent the execute_request
            identity = self._routes["shell"].get(parent_id)
        elif msg.header.get("msg_type", "").endswith("_reply"):
            identity = self._routes[msg.channel].pop(parent_id, None)
        else:
            identity = self._routes[msg.channel].get(parent_id)
        if identity is None:
            log.debug("No requester for a %s message of kernel %s", msg.channel, self.remote_id)
            return
        self._sockets[msg.channel].send([identity, *frames])

    async def _reconnect(self, lost: WebSocketClientConnection) -> bool:
        """After the websocket dropped: connect again, or record why the kernel is dead."""
        reason = lost.close_reason or (f"code {lost.close_code}" if lost.close_code else "")
        log.warning(
            "Websocket of gateway kernel %s closed%s; reconnecting",
            self.remote_id, f" ({reason})" if reason else "",
        )  # fmt: skip
        try:
            status, model = await self.client.request(
                "GET", f"/api/kernels/{quote(self.remote_id)}"
            )
            if status == 404:
                self.failure = f"the gateway {self.client.base} no longer has this kernel"
                self.remote_may_exist = False
            elif model and model.get("execution_state") == "dead":
                self.failure = f"the kernel died on the gateway {self.client.base}"
            else:
                self._ws = await self.client.connect_channels(self.remote_id, self.session_id)
        except GatewayError as exc:
            self.failure = str(exc)
            self.remote_may_exist = False
        if self.failure:
            log.error("Gateway kernel %s is dead: %s", self.remote_id, self.failure)
            return False
        log.info("Websocket of gateway kernel %s reconnected", self.remote_id)
        self._send_held()
        return True
