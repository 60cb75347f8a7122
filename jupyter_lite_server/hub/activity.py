"""Telling the hub when this server was last used, so its culler sees real activity."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime

from ..timeutil import isoformat

log = logging.getLogger("jls.hub")


class ActivityReporter:
    """POSTs last activity to ``JUPYTERHUB_ACTIVITY_URL`` when it changed.

    Checked every ``check_interval`` seconds (so kernel activity reaches the
    hub within that time) and sent at least every ``JUPYTERHUB_ACTIVITY_INTERVAL``
    seconds (default 300) even when nothing changed.
    """

    def __init__(self, last_activity: Callable[[], datetime], check_interval: float = 10.0):
        self.url = os.environ.get("JUPYTERHUB_ACTIVITY_URL", "")
        self.token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        self.server_name = os.environ.get("JUPYTERHUB_SERVER_NAME", "")
        self.interval = float(os.environ.get("JUPYTERHUB_ACTIVITY_INTERVAL", "300"))
        self.check_interval = check_interval
        self._last_activity = last_activity
        self._sent: datetime | None = None
        self._sent_at = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.url and self.token:
            self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            current = self._last_activity()
            due = loop.time() - self._sent_at >= self.interval
            if (current != self._sent or due) and await self.report(current):
                self._sent, self._sent_at = current, loop.time()
            await asyncio.sleep(self.check_interval)

    async def report(self, when: datetime) -> bool:
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        stamp = isoformat(when)
        body = {"servers": {self.server_name: {"last_activity": stamp}}, "last_activity": stamp}
        try:
            await AsyncHTTPClient().fetch(
                self.url, method="POST", body=json.dumps(body), request_timeout=10,
                headers={"Authorization": f"token {self.token}",
                         "Content-Type": "application/json"},
            )  # fmt: skip
        except (HTTPClientError, OSError) as exc:
            log.warning("Could not report activity to the hub at %s: %s", self.url, exc)
            return False
        log.debug("Reported activity %s to the hub", stamp)
        return True
