"""/api, /api/status and /api/me."""

from __future__ import annotations

import json

from .. import __version__
from ..timeutil import isoformat
from .base import ApiError, APIHandler


class APIVersionHandler(APIHandler):
    """The one endpoint open without a token, as in jupyter_server."""

    auth_required = False

    def get(self) -> None:
        self.finish_json({"version": __version__})


class StatusHandler(APIHandler):
    def get(self) -> None:
        km = self.settings["kernel_manager"]
        started = self.settings["started"]
        last_activity = max(started, km.last_activity)
        self.finish_json(
            {
                "started": isoformat(started),
                "last_activity": isoformat(last_activity),
                "kernels": len(km),
                "connections": km.total_connections(),
            }
        )


class IdentityHandler(APIHandler):
    """Who the caller is, and which of the asked-for permissions they have (all)."""

    def get(self) -> None:
        raw = self.get_query_argument("permissions", "")
        permissions: dict[str, list[str]] = {}
        if raw:
            try:
                asked = json.loads(raw)
            except ValueError:
                raise ApiError(400, f"permissions should be a JSON dict, got {raw!r}") from None
            if not isinstance(asked, dict) or not all(
                isinstance(v, list) and all(isinstance(a, str) for a in v) for v in asked.values()
            ):
                raise ApiError(400, "permissions should be a JSON dict of lists of actions")
            permissions = asked  # a token holder may do everything
        self.finish_json({"identity": self.current_user.identity(), "permissions": permissions})


def routes() -> list[tuple[str, type]]:
    return [
        (r"api/?", APIVersionHandler),
        (r"api/status/?", StatusHandler),
        (r"api/me/?", IdentityHandler),
    ]
