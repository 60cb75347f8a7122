"""When the server stops: ``POST /api/shutdown``, or no activity for a while.

Both set the same stop event as SIGTERM, so every way out stops the kernels
the same way (``ServerApp._serve``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from tornado.web import RequestHandler

from ..web.base import APIHandler
from ..web.logging import log_request

log = logging.getLogger("jls")


class ShutdownHandler(APIHandler):
    """``POST /api/shutdown``: answer, then stop kernels and exit (as SIGTERM does)."""

    def post(self) -> None:
        log.info("Shutting down on a /api/shutdown request from %s", self.request.remote_ip)
        self.finish_json({"message": "Shutting down"})
        self.settings["request_shutdown"]()


class RequestActivity:
    """Logs each finished request, notes when it happened, and hands it to observers."""

    def __init__(self) -> None:
        self.last_request = time.monotonic()
        self.observers: list[Callable[[RequestHandler], None]] = []

    def __call__(self, handler: RequestHandler) -> None:
        log_request(handler)
        self.last_request = time.monotonic()
        for observe in self.observers:
            observe(handler)


class NoActivityShutdown:
    """Stops the server after ``timeout`` seconds with no request and no kernel.

    Kernels (and, later, terminals) keep a server alive, as in jupyter_server:
    an idle kernel is the culler's business, not this watch's.
    """

    def __init__(
        self,
        timeout: float,
        activity: RequestActivity,
        kernels_running: Callable[[], int],
        stop: Callable[[], Any],
    ) -> None:
        self.timeout = timeout
        self.activity = activity
        self.kernels_running = kernels_running
        self.stop = stop
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.timeout > 0:
            self._task = asyncio.ensure_future(self._watch())

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        interval = min(max(self.timeout / 4, 0.25), 60.0)
        idle_since = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            if self.kernels_running():
                idle_since = now
                continue
            idle_since = max(idle_since, self.activity.last_request)
            if now - idle_since >= self.timeout:
                log.info("No requests and no kernels for %.0f s: shutting down "
                         "(ServerApp.shutdown_no_activity_timeout)", now - idle_since)  # fmt: skip
                self.stop()
                return
