"""Log format, levels, and a request log that never shows a token."""

from __future__ import annotations

import logging
import re
import sys

from tornado.web import RequestHandler

_TOKEN_IN_QUERY = re.compile(r"(token=)[^&\s]+", re.IGNORECASE)
access_log = logging.getLogger("jls.access")


def mask_token(text: str) -> str:
    return _TOKEN_IN_QUERY.sub(r"\1[secret]", text)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_token(super().format(record))


def configure_logging(level: int | str) -> None:
    """One handler on stderr for our loggers and tornado's."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _Formatter("[%(levelname).1s %(asctime)s.%(msecs)03d %(name)s] %(message)s", "%H:%M:%S")
    )
    for name in ("jls", "tornado", "traitlets"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def log_request(handler: RequestHandler) -> None:
    """Successful requests at debug (they are the hot path), problems louder."""
    status = handler.get_status()
    # Client errors were already logged with their reason by the handler.
    level = logging.ERROR if status >= 500 else logging.DEBUG
    if not access_log.isEnabledFor(level):
        return
    request = handler.request
    access_log.log(
        level, "%d %s %s (%s) %.2fms", status, request.method, mask_token(request.uri or ""),
        request.remote_ip, 1000.0 * request.request_time(),
    )  # fmt: skip
