"""Sockets to a kernel from its connection info, and the one request/reply helper.

A kernel is reached through its connection info (transport, ip, five ports,
key, signature scheme: what a jupyter_client connection file holds). Every
request the server itself makes (readiness probes, a pooled kernel's
adaptation, a container kernel's shutdown on control) goes through
:class:`RequestChannel`: one DEALER socket whose replies are matched to the
requests by ``parent_header.msg_id``, so a late reply to an earlier request
is never taken for the answer to a later one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from . import wire
from .ports import channel_url
from .zmqio import ZMQChannel, open_channel

#: Channels a client (and the server) sends requests on; iopub and hb are not among them.
REQUEST_SOCKET_TYPES = {"shell": zmq.DEALER, "control": zmq.DEALER, "stdin": zmq.DEALER}


@dataclass(slots=True)
class KernelConnection:
    """Connection info with its signer, and the session id the server's own messages carry."""

    info: dict[str, Any]
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    signer: wire.Signer = field(init=False)

    def __post_init__(self) -> None:
        self.signer = wire.Signer(
            self.info.get("key", b""), self.info.get("signature_scheme", "hmac-sha256")
        )

    def url(self, channel: str) -> str:
        return channel_url(self.info, channel)

    def connect(
        self,
        channel: str,
        on_message: Callable[[list[Any]], None] | None = None,
        identity: bytes | None = None,
    ) -> ZMQChannel:
        """A new DEALER socket to ``channel`` (shell, control or stdin)."""
        return open_channel(self.url(channel), REQUEST_SOCKET_TYPES[channel], on_message, identity)

    def subscribe(
        self, on_message: Callable[[list[Any]], None], url: str | None = None
    ) -> ZMQChannel:
        """A SUB socket on iopub (or on ``url``, an iopub keeper standing in for it)."""
        return open_channel(url or self.url("iopub"), zmq.SUB, on_message, subscribe=True)

    def message(self, msg_type: str, content: dict[str, Any] | None = None) -> wire.OutgoingMessage:
        """A signed request from the server itself (its header carries our session id)."""
        header = wire.new_header(msg_type, self.session_id)
        parts = wire.build_parts(header, {}, {}, content or {})
        return wire.OutgoingMessage(header=header, frames=wire.to_zmq(parts, self.signer))


class RequestChannel:
    """One socket for the server's own requests on a channel; replies found by msg_id."""

    def __init__(
        self, connection: KernelConnection, channel: str, identity: bytes | None = None
    ) -> None:
        self._connection = connection
        self._waiting: dict[str, asyncio.Future[wire.KernelMessage]] = {}
        self._socket = connection.connect(channel, self._on_reply, identity)

    def _on_reply(self, frames: list[Any]) -> None:
        try:
            msg = wire.parse_zmq(frames, self._connection.signer)
            parent_id = msg.parent_header().get("msg_id")
        except (wire.WireError, ValueError, AttributeError):
            return  # not a reply we can read: not ours to answer
        waiter = self._waiting.pop(parent_id, None) if isinstance(parent_id, str) else None
        if waiter is not None and not waiter.done():
            waiter.set_result(msg)

    def send(
        self, msg_type: str, content: dict[str, Any] | None = None
    ) -> asyncio.Future[wire.KernelMessage]:
        """Send a request now; the future resolves with its reply (never times out by itself)."""
        return self._send(msg_type, content)[1]

    def _send(
        self, msg_type: str, content: dict[str, Any] | None
    ) -> tuple[str, asyncio.Future[wire.KernelMessage]]:
        outgoing = self._connection.message(msg_type, content)
        msg_id: str = outgoing.header["msg_id"]
        reply: asyncio.Future[wire.KernelMessage] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = reply
        self._socket.send(outgoing.frames)
        return msg_id, reply

    async def request(
        self, msg_type: str, content: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> wire.KernelMessage:
        """Send a request and return its reply; TimeoutError if none comes in ``timeout``."""
        msg_id, reply = self._send(msg_type, content)
        try:
            return await asyncio.wait_for(reply, timeout)
        finally:
            self._waiting.pop(msg_id, None)

    def close(self) -> None:
        for waiter in self._waiting.values():
            waiter.cancel()
        self._waiting.clear()
        self._socket.close()

    def __enter__(self) -> RequestChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def request(
    connection: KernelConnection,
    channel: str,
    msg_type: str,
    content: dict[str, Any] | None = None,
    timeout: float = 10.0,
    identity: bytes | None = None,
) -> wire.KernelMessage:
    """One request on a fresh socket and its reply; TimeoutError if none within ``timeout``."""
    with RequestChannel(connection, channel, identity) as requests:
        return await requests.request(msg_type, content, timeout)


async def reply_content(
    connection: KernelConnection,
    channel: str,
    msg_type: str,
    content: dict[str, Any] | None = None,
    timeout: float = 10.0,
) -> dict[str, Any] | None:
    """The reply's content, or None when the kernel did not answer in time."""
    with contextlib.suppress(TimeoutError):
        reply = await request(connection, channel, msg_type, content, timeout)
        return reply.content()
    return None
