"""Request size limits, enforced before a body is buffered.

Tornado buffers a whole request body before any handler runs, and answers an
over-long ``Content-Length`` with a bare 400. We look at the headers first:

* a body larger than ``max_body_size`` gets a JSON **413** naming the limit;
* a body larger than ``UNAUTHENTICATED_BODY_LIMIT`` from a client with no valid
  token or login cookie gets a JSON **403** — nobody without credentials can
  make the server hold more than that in memory. A chunked body (no
  ``Content-Length``) is counted as it arrives and answered the moment it
  passes the limit.

A rejected body is read and discarded (up to ``DISCARD_LIMIT``, so the client
sees the answer instead of a reset connection), never stored; beyond that the
connection is closed after the answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tornado import httputil, web

log = logging.getLogger("jls.web")

UNAUTHENTICATED_BODY_LIMIT = 64 * 1024
DISCARD_LIMIT = 64 * 1024 * 1024


def _content_length(headers: httputil.HTTPHeaders) -> int | None:
    try:
        return int(headers.get("Content-Length", ""))
    except ValueError:
        return None  # absent or malformed: tornado's own checks apply


class _BodyLimit(httputil.HTTPMessageDelegate):
    def __init__(
        self,
        inner: httputil.HTTPMessageDelegate,
        connection: httputil.HTTPConnection,
        settings: dict[str, Any],
    ) -> None:
        self._inner = inner
        self._connection = connection
        self._settings = settings
        self._rejection: tuple[int, str, str] | None = None
        #: For a chunked body from a client without credentials: the answer once it
        #: passes the unauthenticated limit, and how much of it has come so far.
        self._chunked_rejection: tuple[int, str, str] | None = None
        self._chunked_received = 0

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Any:
        length = _content_length(headers)
        if isinstance(start_line, httputil.RequestStartLine):
            if length is not None:
                self._rejection = self._check(start_line, headers, length)
            elif "chunked" in headers.get("Transfer-Encoding", "").lower():
                self._chunked_rejection = self._unauthenticated(start_line, headers)
        if self._rejection is None:
            return self._inner.headers_received(start_line, headers)
        status, _, message = self._rejection
        assert isinstance(start_line, httputil.RequestStartLine)  # a rejection needs a request
        log.warning("%d %s %s: %s", status, start_line.method, start_line.path, message)
        if length is not None and length <= DISCARD_LIMIT:
            self._connection.set_max_body_size(length)  # type: ignore[attr-defined]  # read it, to answer cleanly
        else:
            self._answer()
        return None

    def _check(
        self, start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders, length: int
    ) -> tuple[int, str, str] | None:
        limit = self._settings.get("max_body_size", 0)
        if limit and length > limit:
            message = f"Request body of {length} bytes exceeds the limit of {limit} bytes"
            return (413, "Payload Too Large", message)
        if length > UNAUTHENTICATED_BODY_LIMIT:
            return self._unauthenticated(start_line, headers)
        return None

    def _unauthenticated(
        self, start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders
    ) -> tuple[int, str, str] | None:
        """The 403 for a body over the unauthenticated limit, None if credentials came."""
        request = httputil.HTTPServerRequest(
            method=start_line.method, uri=start_line.path, headers=headers
        )
        if self._settings["identity_provider"].credentials(request) is not None:
            return None
        return (403, "Forbidden",
                "Forbidden: a valid token is required to send a request body of "
                f"more than {UNAUTHENTICATED_BODY_LIMIT} bytes")  # fmt: skip

    def _answer(self) -> None:
        status, reason, message = self._rejection  # type: ignore[misc]
        body = json.dumps({"message": message, "reason": reason}).encode()
        headers = httputil.HTTPHeaders(
            {"Content-Type": "application/json", "Content-Length": str(len(body)),
             "Connection": "close"}
        )  # fmt: skip
        self._connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", status, reason), headers, body
        )
        self._connection.finish()
        self._rejection = (0, "", "")  # answered

    def data_received(self, chunk: bytes) -> Any:
        if self._rejection is None and self._chunked_rejection is not None:
            # A chunked body announces no length: count it, and answer as soon as an
            # unauthenticated one passes the limit (tornado then discards the rest
            # and closes the connection once the answer is sent).
            self._chunked_received += len(chunk)
            if self._chunked_received > UNAUTHENTICATED_BODY_LIMIT:
                self._rejection = self._chunked_rejection
                log.warning("%d chunked request body: %s", *self._rejection[::2])
                self._answer()
        if self._rejection is None:
            return self._inner.data_received(chunk)
        return None  # discarded

    def finish(self) -> None:
        if self._rejection is None:
            self._inner.finish()
        elif self._rejection[0]:
            self._answer()

    def on_connection_close(self) -> None:
        if self._rejection is None:
            self._inner.on_connection_close()


class LimitedApplication(web.Application):
    """A tornado Application whose requests pass the size checks above first."""

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        inner = super().start_request(server_conn, request_conn)
        return _BodyLimit(inner, request_conn, self.settings)
