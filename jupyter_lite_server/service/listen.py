"""Listening sockets and their URLs: a TCP port (with retries), or a Unix socket; TLS."""

from __future__ import annotations

import errno
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import quote

from tornado import netutil

log = logging.getLogger("jls")


class ListenError(OSError):
    """The server cannot listen where it was asked to (the message says why)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the server listens, as clients reach it."""

    ip: str
    port: int
    sock: str = ""
    secure: bool = False

    @property
    def scheme(self) -> str:
        if self.sock:
            return "http+unix"
        return "https" if self.secure else "http"

    def url(self, base_url: str = "/") -> str:
        if self.sock:
            return f"http+unix://{quote(self.sock, safe='')}{base_url}"
        host = f"[{self.ip}]" if ":" in self.ip else (self.ip or "localhost")
        if self.ip in ("", "0.0.0.0", "::"):
            host = socket.gethostname()
        return f"{self.scheme}://{host}:{self.port}{base_url}"


def bind_tcp(ip: str, port: int, retries: int) -> tuple[list[socket.socket], int]:
    """Bind ``port``, or the next free ones unless ``retries`` is 0; (sockets, bound port)."""
    attempts = 1 if port == 0 else retries + 1
    for offset in range(attempts):
        candidate = port + offset if port else 0
        try:
            sockets = netutil.bind_sockets(candidate, address=ip)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES) and offset + 1 < attempts:
                log.info("Port %d is in use, trying another.", candidate)
                continue
            message = f"cannot listen on {ip}:{candidate}: {exc.strerror}"
            raise ListenError(exc.errno, message) from exc
        return sockets, sockets[0].getsockname()[1]
    raise ListenError(errno.EADDRINUSE, f"no free port from {port}")


def bind_unix(path: str) -> list[socket.socket]:
    """A Unix socket at ``path``, mode 0600 (only this user may connect)."""
    if os.path.exists(path) and not _is_stale_socket(path):
        raise ListenError(errno.EADDRINUSE, f"{path} exists and a server answers there")
    try:
        return [netutil.bind_unix_socket(path, mode=0o600)]
    except OSError as exc:
        raise ListenError(exc.errno, f"cannot listen on {path}: {exc.strerror}") from exc


def _is_stale_socket(path: str) -> bool:
    """A socket file nobody listens on any more (left by a killed server)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return True
    finally:
        probe.close()
    return False


def tls_context(certfile: str, keyfile: str = "", client_ca: str = "") -> ssl.SSLContext | None:
    """tornado's ``ssl_options`` for https/wss; None without a certificate."""
    if not certfile:
        if keyfile or client_ca:
            raise ListenError(errno.EINVAL, "--keyfile and --client-ca need --certfile")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile or None)
        if client_ca:
            context.load_verify_locations(client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ListenError(errno.EINVAL, f"cannot use the TLS certificate or key: {exc}") from exc
    return context
