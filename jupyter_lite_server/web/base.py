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

from ..auth.identity import User

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


class BaseHandler(CorsMixin, web.RequestHandler):
    """Authenticated handler; subclasses set ``auth_required = False`` to opt out."""

    auth_required = True
    #: Pages (not API endpoints) opened with ?token=T log the browser in with a cookie.
    sets_login_cookie = False

    @property
    def identity_provider(self):
        return self.settings["identity_provider"]

    def get_current_user(self) -> User | None:
        provider = self.identity_provider
        if getattr(provider, "is_hub", False):
            return None  # set by prepare() once the hub has answered
        method = provider.auth_method(self.request)
        if (
            method == "token"
            and self.sets_login_cookie
            and self.request.method == "GET"
            and provider.token_in_query(self.request)
        ):
            self.set_login_cookie()
        return provider.user if method is not None else None

    def set_login_cookie(self) -> None:
        provider = self.identity_provider
        if not provider.cookie_secret:
            return
        self.set_cookie(
            provider.cookie_name,
            provider.login_cookie_value(),
            path=self.settings.get("base_url", "/"),
            httponly=True,
            samesite="Lax",
            expires_days=30,
        )
        self.xsrf_token  # noqa: B018 - sets the _xsrf cookie pages send back with mutations

    #: Pages send a browser that is not logged in to the hub's login (hub mode only).
    login_redirect = False

    async def prepare(self) -> None:
        self.set_cors_headers()
        origin = self.request.headers.get("Origin")
        if origin and not self.allowed_origin(origin):
            raise ApiError(403, f"Cross-origin request from {origin} is not allowed", "Forbidden")
        if self.request.method == "OPTIONS":
            return
        provider = self.identity_provider
        if getattr(provider, "is_hub", False):
            self.set_header("X-JupyterHub-Version", self.settings.get("hub_version", ""))
            self.current_user = await provider.user_for_handler(self)
            if self.current_user is None and self.login_redirect:
                provider.redirect_to_login(self)
                raise web.Finish()
        if self.auth_required and self.current_user is None:
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
        if self.identity_provider.auth_method(self.request) == "cookie":
            super().check_xsrf_cookie()


class APIHandler(BaseHandler):
    """JSON in, JSON out."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")

    def get_json_body(self, required: bool = False) -> dict[str, Any]:
        """The request body as a JSON object; 400 if it is not one."""
        raw = self.request.body
        if not raw or not raw.strip():
            if required:
                raise ApiError(400, "A JSON body is required", "Bad Request")
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"Invalid JSON in body of request: {exc}", "Bad Request") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object", "Bad Request")
        return body

    def finish_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(obj, separators=(",", ":")))

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
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": reason}))

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[override]
        if isinstance(value, ApiError):
            level = logging.WARNING if value.status_code >= 400 else logging.INFO
            log.log(
                level, "%d %s %s from %s: %s", value.status_code, self.request.method,
                self.request.path, self.request.remote_ip, value.message,
            )  # fmt: skip
        else:
            super().log_exception(typ, value, tb)


class NotFoundHandler(APIHandler):
    """JSON 404 for any unknown path under the API."""

    auth_required = False

    async def prepare(self) -> None:
        await super().prepare()
        raise ApiError(404, f"No such endpoint: {self.request.path}", "Not Found")
