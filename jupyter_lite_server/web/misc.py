"""/, /api, /api/status and /api/me."""

from __future__ import annotations

import json

from .. import __version__
from ..auth.identity import User
from ..timeutil import isoformat
from .base import ApiError, APIHandler, BaseHandler

ROOT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>jls</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40em;margin:3em auto">
<h1>jls {version} is running</h1>
<p>This server speaks the Jupyter Server REST and websocket API: point JupyterLab,
VS Code, nbclient or <code>@jupyterlab/services</code> at this URL with its token.</p>
<ul><li><a href="api">api</a> (version, open) &middot; <a href="api/status">api/status</a>
&middot; <a href="api/kernelspecs">api/kernelspecs</a> &middot;
<a href="api/kernels">api/kernels</a> &middot; <a href="api/sessions">api/sessions</a>
&middot; <a href="api/contents">api/contents</a></li>
<li>The API description: <a href="api/spec.yaml">api/spec.yaml</a></li></ul>
<p>No notebook UI is installed. For JupyterLab:
<code>pip install 'jupyter_lite_server[lab]'</code> and restart; it is then served at
<a href="lab">lab</a>.</p></body></html>
"""


class RootHandler(BaseHandler):
    """A page saying what runs here; opened with ?token=T it logs the browser in."""

    auth_required = False
    sets_login_cookie = True
    login_redirect = True

    def get(self) -> None:
        self.xsrf_token  # noqa: B018 - sets the _xsrf cookie scripts send with changes
        if self.settings.get("lab") is not None:
            self.redirect(self.settings["base_url"] + "lab")
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(ROOT_PAGE.format(version=__version__))


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
        user = self.current_user
        assert isinstance(user, User)  # prepare() refused the request otherwise
        self.finish_json({"identity": user.identity(), "permissions": permissions})


class APISpecHandler(APIHandler):
    """The OpenAPI description of this API (jupyter_lite_server/api.yaml)."""

    _spec: bytes | None = None

    def get(self) -> None:
        if APISpecHandler._spec is None:
            from importlib.resources import files

            APISpecHandler._spec = files("jupyter_lite_server").joinpath("api.yaml").read_bytes()
        self.set_header("Content-Type", "text/x-yaml; charset=utf-8")
        self.finish(APISpecHandler._spec)


def routes() -> list[tuple[str, type]]:
    from .favicon import FaviconHandler

    return [
        (r"", RootHandler),
        (r"favicon\.ico", FaviconHandler),  # browsers ask for it on every page, /login too
        (r"api/?", APIVersionHandler),
        (r"api/spec.yaml", APISpecHandler),
        (r"api/status/?", StatusHandler),
        (r"api/me/?", IdentityHandler),
    ]
