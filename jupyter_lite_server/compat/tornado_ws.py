"""The byte stream under a tornado websocket, for writing frames without a Future each.

``WebSocketHandler.ws_connection`` is public, but the ``stream`` of the
protocol object it holds is not documented. Writing frames to it directly is
what lets a burst of kernel messages go out in one ``send()`` with no
per-message Future (kernels/websocket.py).
"""

from __future__ import annotations

from tornado.iostream import IOStream
from tornado.websocket import WebSocketHandler


def open_stream(handler: WebSocketHandler) -> IOStream | None:
    """The connection's stream while the websocket is open; None once it is closing."""
    connection = handler.ws_connection
    if connection is None or connection.is_closing():
        return None
    stream = getattr(connection, "stream", None)
    return stream if isinstance(stream, IOStream) else None
