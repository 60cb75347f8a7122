"""The byte stream under a tornado websocket, and the socket under a client websocket.

``WebSocketHandler.ws_connection`` is public, but the ``stream`` of the
protocol object it holds is not documented. Writing frames to it directly is
what lets a burst of kernel messages go out in one ``send()`` with no
per-message Future (kernels/websocket.py). A client websocket's TCP socket
(``connection.protocol.stream.socket``, likewise undocumented) is where the
gateway bridge sets TCP_NODELAY and quick ACKs. How much a stream still has
to send (``unsent_bytes``) is read from its private write buffer: it is what
bounds the memory one slow websocket reader can hold.
"""

from __future__ import annotations

import socket

from tornado.iostream import IOStream
from tornado.websocket import WebSocketClientConnection, WebSocketHandler


def open_stream(handler: WebSocketHandler) -> IOStream | None:
    """The connection's stream while the websocket is open; None once it is closing."""
    connection = handler.ws_connection
    if connection is None or connection.is_closing():
        return None
    stream = getattr(connection, "stream", None)
    return stream if isinstance(stream, IOStream) else None


def unsent_bytes(stream: IOStream) -> int:
    """Bytes handed to ``stream.write`` that the peer has not taken yet (tornado keeps
    them in the stream's private write buffer)."""
    return len(stream._write_buffer)


def client_socket(connection: WebSocketClientConnection) -> socket.socket | None:
    """The TCP socket of a websocket this server opened (to set TCP options on it)."""
    stream = getattr(connection.protocol, "stream", None)
    sock = getattr(stream, "socket", None)
    return sock if isinstance(sock, socket.socket) else None
