"""HTTP and websocket access to a Jupyter Kernel Gateway or Enterprise Gateway.

Every request carries the configured auth token and extra headers, has a
connect and a request timeout, and is retried (with a doubling pause) when
the gateway cannot be reached; what finally fails is a :class:`GatewayError`
whose message names the gateway and the cause, ready for a client to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

from ....compat.tornado_ws import client_socket
from ..base import KernelStartError

log = logging.getLogger("jls.kernels.gateway")

_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class GatewayError(KernelStartError):
    """The gateway could not be reached, or refused a request."""

    http_status = 502

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the gateway's HTTP status; None when it was not reached


@dataclass(slots=True)
class GatewaySettings:
    """Where the gateway is and how to talk to it (from GatewayProvider's options)."""

    url: str
    ws_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    auth_token: str = ""
    auth_scheme: str = "token"
    connect_timeout: float = 10.0
    request_timeout: float = 60.0
    retries: int = 3
    retry_interval: float = 0.5
    validate_cert: bool = True
    ca_certs: str | None = None
    ping_interval: float = 30.0
    max_message_size: int = 128 * 1024 * 1024


class GatewayClient:
    """Requests to one gateway; knows nothing of kernels beyond URLs."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self.ws_base = (settings.ws_url or _http_to_ws(settings.url)).rstrip("/")

    def _headers(self) -> dict[str, str]:
        headers = dict(self.settings.headers)
        if self.settings.auth_token:
            headers["Authorization"] = f"{self.settings.auth_scheme} {self.settings.auth_token}"
        return headers

    def _request(self, url: str, method: str, body: Any, timeout: float | None) -> HTTPRequest:
        headers = self._headers()
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        elif method in ("POST", "PUT", "PATCH"):
            payload = ""
        return HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=payload,
            connect_timeout=self.settings.connect_timeout,
            request_timeout=timeout or self.settings.request_timeout,
            validate_cert=self.settings.validate_cert,
            ca_certs=self.settings.ca_certs,
        )

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        timeout: float | None = None,
        retry: bool = True,
    ) -> tuple[int, Any]:
        """(status, decoded JSON body or None); 404 is returned, other errors raise."""
        response = await self._fetch(method, path, body, timeout, retry)
        if response is None:
            return 404, None
        text = response.body.decode() if response.body else ""
        return response.code, json.loads(text) if text.strip() else None

    async def fetch_bytes(self, path: str) -> bytes | None:
        """The raw body of ``GET path`` (a kernelspec logo); None for a 404."""
        response = await self._fetch("GET", path, None, None, True)
        return None if response is None else response.body

    async def _fetch(
        self, method: str, path: str, body: Any, timeout: float | None, retry: bool
    ) -> HTTPResponse | None:
        """The gateway's response, None for a 404; other failures raise GatewayError.

        A request the gateway never received (refused, unreachable, DNS) is retried;
        a timeout is retried only when ``retry`` says the request is safe to repeat.
        """
        url = self.base + path
        attempts = 1 + max(0, self.settings.retries)
        pause = self.settings.retry_interval
        client = AsyncHTTPClient()
        for attempt in range(1, attempts + 1):
            try:
                return await client.fetch(self._request(url, method, body, timeout))
            except HTTPClientError as exc:
                if exc.code == 404:
                    return None
                if exc.code == 599:  # tornado's code for a timeout or a broken connection
                    problem = f"no answer within {timeout or self.settings.request_timeout:g} s"
                    if retry and attempt < attempts:
                        await asyncio.sleep(pause)
                        pause *= 2
                        continue
                    raise GatewayError(f"Gateway {self.base}: {method} {path}: {problem}") from None
                raise GatewayError(
                    f"Gateway {self.base} refused {method} {path}: {exc.code} {_reason(exc)}",
                    exc.code,
                ) from None
            except OSError as exc:  # refused, unreachable, name not resolved
                if attempt < attempts:
                    log.debug("Gateway %s unreachable (%s); retrying", self.base, exc)
                    await asyncio.sleep(pause)
                    pause *= 2
                    continue
                raise GatewayError(
                    f"Gateway {self.base} is unreachable after {attempts} attempts: "
                    f"{exc.strerror or exc}"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def connect_channels(self, remote_id: str, session_id: str) -> WebSocketClientConnection:
        """The websocket of a remote kernel; connection errors are retried like requests."""
        url = f"{self.ws_base}/api/kernels/{quote(remote_id)}/channels?session_id={session_id}"
        attempts = 1 + max(0, self.settings.retries)
        pause = self.settings.retry_interval
        for attempt in range(1, attempts + 1):
            request = HTTPRequest(
                url,
                headers=self._headers(),
                connect_timeout=self.settings.connect_timeout,
                # A gateway completes the handshake once the kernel answers kernel_info:
                # as long as a start may take, not just a connection.
                request_timeout=self.settings.request_timeout,
                validate_cert=self.settings.validate_cert,
                ca_certs=self.settings.ca_certs,
            )
            try:
                connection = await websocket_connect(
                    request,
                    ping_interval=self.settings.ping_interval or None,
                    ping_timeout=2 * self.settings.ping_interval or None,
                    max_message_size=self.settings.max_message_size,
                )
                sock = client_socket(connection)
                if sock is not None:  # requests go out at once
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return connection
            except HTTPClientError as exc:
                if exc.code != 599 or attempt == attempts:
                    raise GatewayError(
                        f"Gateway {self.ws_base} refused the websocket of kernel {remote_id}: "
                        f"{exc.code} {_reason(exc)}",
                        exc.code,
                    ) from None
            except OSError as exc:
                if attempt == attempts:
                    raise GatewayError(
                        f"Gateway {self.ws_base} is unreachable for the websocket of kernel "
                        f"{remote_id}: {exc.strerror or exc}"
                    ) from None
            await asyncio.sleep(pause)
            pause *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def acknowledge_now(connection: WebSocketClientConnection) -> None:
    """ACK what was just read at once rather than up to 40 ms later (Linux).

    Gateways write their websockets without TCP_NODELAY, so each small message
    after the first waits for the ACK of the one before, and Linux holds that
    ACK back hoping to send it with a reply: about 40 ms per execute round
    trip. Quick-ack mode does not stick, hence a call after every message.
    """
    sock = client_socket(connection)
    if _TCP_QUICKACK is None or sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)


def _http_to_ws(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def _reason(exc: HTTPClientError) -> str:
    """The gateway's own message from a JSON error body, else the HTTP reason."""
    body = exc.response.body if exc.response is not None else b""
    try:
        message = json.loads(body or b"{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return message or exc.message or ""
