"""Handler base classes: authentication, JSON bodies and JSON errors, CORS.

Every error a client can cause is answered as jupyter_server answers it: a
JSON body ``{"message": ..., "reason": ...}`` with the right status. Anything
else is a bug: 500, logged with its traceback.
"""

from __future__ import annotations

import json
import logging
import re
from http.client import responses
from typing import Any

from tornado import web

from ..auth.identity import Forbidden, IdentityProvider, User
from . import jsonbody
from .hosts import host_name, is_local_host

log = logging.getLogger("jls.web")


class ApiError(web.HTTPError):
    """An error whose message is meant for the client."""

    def __init__(self, status_code: int, message: str, reason: str | None = None) -> None:
        super().__init__(status_code, reason=reason)
        self.message = message


class CorsMixin:
    """CORS and origin policy from ``allow_origin`` / ``allow_origin_pat``."""

    def allowed_origin(self, origin: str | None) -> bool:
        if not origin:
            return True  # not a browser
        settings = self.settings  # type: ignore[attr-defined]
        allow = settings.get("allow_origin", "")
        pattern: re.Pattern | None = settings.get("allow_origin_pat")
        if allow == "*" or origin == allow:
            return True
        if pattern is not None and pattern.fullmatch(origin):  # a prefix is not enough
            return True
        host = self.request.host  # type: ignore[attr-defined]
        return origin.split("://", 1)[-1] == host

    def set_cors_headers(self) -> None:
        origin = self.request.headers.get("Origin")  # type: ignore[attr-defined]
        settings = self.settings  # type: ignore[attr-defined]
        allow = settings.get("allow_origin", "")
        if allow == "*":
            self.set_header("Access-Control-Allow-Origin", "*")  # type: ignore[attr-defined]
        elif origin and (allow or settings.get("allow_origin_pat")) and self.allowed_origin(origin):
            self.set_header("Access-Control-Allow-Origin", origin)  # type: ignore[attr-defined]
            self.set_header("Vary", "Origin")  # type: ignore[attr-defined]
        if settings.get("allow_credentials"):
            self.set_header("Access-Control-Allow-Credentials", "true")  # type: ignore[attr-defined]


class JsonErrorsMixin:
    """Errors as ``{"message", "reason"}`` JSON, logged as a person can act on them.

    For every handler class, REST, static or websocket (a refused upgrade too).
    """

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = responses.get(status_code, "Unknown HTTP Error")
        if isinstance(exc, ApiError):
            message = exc.message
            reason = exc.reason or reason
        elif isinstance(exc, web.HTTPError):
            message = exc.log_message % exc.args if exc.log_message else reason
            reason = exc.reason or reason
        else:
            message = "Unhandled error"
        self.set_header("Content-Type", "application/json")  # type: ignore[attr-defined]
        self.finish(json.dumps({"message": message, "reason": reason}))  # type: ignore[attr-defined]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ApiError):
            request = self.request  # type: ignore[attr-defined]
            level = logging.WARNING if value.status_code >= 400 else logging.INFO
            log.log(
                level, "%d %s %s from %s: %s", value.status_code, request.method,
                request.path, request.remote_ip, value.message,
            )  # fmt: skip
        else:
            super().log_exception(typ, value, tb)  # type: ignore[misc]


class AuthenticatedMixin:
    """The one authentication step, shared by REST handlers and every websocket.

    It starts with the DNS-rebinding defence (web/hosts.py): a request whose Host
    is not local, to a server on loopback, is refused in JSON before anything else.
    """

    def refuse_foreign_host(self) -> None:
        settings = self.settings  # type: ignore[attr-defined]
        if settings.get("allow_remote_access", True):
            return
        request = self.request  # type: ignore[attr-defined]
        if is_local_host(request.host, settings.get("local_hostnames", ["localhost"])):
            return
        log.warning(
            "403 %s %s from %s: Host %r is not a local name (a DNS-rebinding page?); "
            "start with --allow-remote-access or add it to ServerApp.local_hostnames "
            "if it is yours", request.method, request.path, request.remote_ip, request.host,
        )  # fmt: skip
        self.set_status(403)  # type: ignore[attr-defined]
        self.set_header("Content-Type", "application/json")  # type: ignore[attr-defined]
        self.finish(  # type: ignore[attr-defined]
            json.dumps({
                "message": f"Host {host_name(request.host)!r} is not allowed: this server "
                "only answers to local names",
                "reason": "Forbidden",
            })
        )  # fmt: skip
        raise web.Finish()

    @property
    def identity_provider(self) -> IdentityProvider:
        return self.settings["identity_provider"]  # type: ignore[attr-defined]

    async def authenticate(self) -> User | None:
        """Who sent this request (None: nobody we accept); 403 for a refused user."""
        provider = self.identity_provider
        for name, value in provider.response_headers().items():
            self.set_header(name, value)  # type: ignore[attr-defined]
        try:
            user = await provider.authenticate(self)  # type: ignore[arg-type]
        except Forbidden as exc:
            raise ApiError(403, str(exc), "Forbidden") from None
        self.current_user = user
        return user


class BaseHandler(AuthenticatedMixin, CorsMixin, web.RequestHandler):
    """Authenticated handler; subclasses set ``auth_required = False`` to opt out."""

    auth_required = True
    #: Pages (not API endpoints) opened with ?token=T log the browser in with a cookie.
    sets_login_cookie = False
    #: Pages send a browser that is not logged in to an outside login (JupyterHub's).
    login_redirect = False

    def get_current_user(self) -> User | None:
        return None  # set by prepare(), once the identity provider has answered

    async def prepare(self) -> None:
        self.refuse_foreign_host()
        self.set_cors_headers()
        origin = self.request.headers.get("Origin")
        if origin and not self.allowed_origin(origin):
            raise ApiError(403, f"Cross-origin request from {origin} is not allowed", "Forbidden")
        if self.request.method == "OPTIONS":
            return
        user = await self.authenticate()
        if user is not None and self.sets_login_cookie:
            self.identity_provider.remember_login(self)
        if user is None and self.login_redirect and self.identity_provider.redirect_to_login(self):
            raise web.Finish()
        if self.auth_required and user is None:
            raise ApiError(403, "Forbidden: a valid token is required", "Forbidden")

    def options(self, *args: Any, **kwargs: Any) -> None:
        """CORS preflight."""
        self.set_header(
            "Access-Control-Allow-Headers",
            "accept, content-type, authorization, x-xsrftoken, x-requested-with",
        )
        self.set_header("Access-Control-Allow-Methods", "GET, PUT, POST, PATCH, DELETE, OPTIONS")
        self.set_status(204)
        self.finish()

    def check_xsrf_cookie(self) -> None:
        """Cookie-authenticated changes need the ``_xsrf`` token; token-authenticated ones not.

        A browser sends the login cookie with any request, even one a foreign page
        makes it send; only pages of this server can read the ``_xsrf`` cookie.
        """
        if self.identity_provider.credentials(self.request) == "cookie":
            super().check_xsrf_cookie()


class AuthenticatedWebSocketMixin(JsonErrorsMixin, AuthenticatedMixin, CorsMixin):
    """For websocket handlers: authenticate before the upgrade, refuse it in JSON.

    Origins are checked by tornado (``check_origin``) with the same rules as REST.
    """

    async def refuse_unless_authenticated(self) -> None:
        self.refuse_foreign_host()
        if await self.authenticate() is None:
            request = self.request  # type: ignore[attr-defined]
            log.warning("403 websocket %s from %s: missing or wrong credentials",
                        request.path, request.remote_ip)  # fmt: skip
            raise ApiError(403, "Forbidden: a valid token is required", "Forbidden")

    def check_origin(self, origin: str) -> bool:
        if self.allowed_origin(origin):
            return True
        log.warning("Refused websocket from origin %s (host %s)", origin,
                    self.request.host)  # type: ignore[attr-defined]  # fmt: skip
        return False


class APIHandler(JsonErrorsMixin, BaseHandler):
    """JSON in, JSON out."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")

    def get_json_body(self, required: bool = False) -> dict[str, Any]:
        """The request body as a JSON object; 400 if it is not one."""
        try:
            return jsonbody.parse_object(self.request.body, required)
        except jsonbody.BodyError as exc:
            raise ApiError(400, str(exc), "Bad Request") from None

    def finish_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(obj, separators=(",", ":")))


class NotFoundHandler(APIHandler):
    """JSON 404 for any unknown path under the API."""

    auth_required = False

    async def prepare(self) -> None:
        await super().prepare()
        raise ApiError(404, f"No such endpoint: {self.request.path}", "Not Found")
