"""Who is calling: the token check, the login cookie, and the identity of /api/me.

A request is authenticated by the server token in ``Authorization: token T``,
``Authorization: Bearer T`` or ``?token=T`` (websockets too), or by the login
cookie a browser receives after presenting the token once (``/login``, or a
page opened with ``?token=T``). Tokens are compared in constant time; the
cookie is signed with the server's cookie secret. Cookie-authenticated
requests that change something must also carry the ``_xsrf`` token (see
``web/base.py``). With no token configured (only allowed together with
``--no-auth`` on a loopback address) every request is accepted.
"""

from __future__ import annotations

import getpass
import hmac
from dataclasses import dataclass

from tornado.httputil import HTTPServerRequest
from tornado.web import create_signed_value, decode_signed_value

#: Days a login cookie stays valid.
COOKIE_MAX_AGE_DAYS = 30


@dataclass(frozen=True, slots=True)
class User:
    username: str

    def identity(self) -> dict[str, str | None]:
        """The identity model jupyter_server returns from /api/me."""
        return {
            "username": self.username,
            "name": self.username,
            "display_name": self.username,
            "initials": None,
            "avatar_url": None,
            "color": None,
        }


class TokenIdentityProvider:
    """Accepts requests that carry the server's token."""

    def __init__(
        self,
        token: str,
        cookie_secret: bytes = b"",
        cookie_name: str = "jls-login",
        username: str | None = None,
    ) -> None:
        self.token = token
        self.cookie_secret = cookie_secret
        self.cookie_name = cookie_name
        self.user = User(username or _local_username())

    @property
    def auth_enabled(self) -> bool:
        return bool(self.token)

    def token_from(self, request: HTTPServerRequest) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("token", "bearer") and value.strip():
            return value.strip()
        values = request.query_arguments.get("token")
        if values:
            return values[-1].decode("utf-8", "replace")
        return None

    def auth_method(self, request: HTTPServerRequest) -> str | None:
        """How ``request`` proves who it is: "token", "cookie", "open" (no auth), or None.

        A token that is offered but wrong is refused even if a cookie is valid.
        """
        if not self.auth_enabled:
            return "open"
        offered = self.token_from(request)
        if offered is not None:
            good = hmac.compare_digest(offered.encode("utf-8"), self.token.encode("utf-8"))
            return "token" if good else None
        if self.cookie_secret and self._cookie_user(request) == self.user.username:
            return "cookie"
        return None

    def authenticate(self, request: HTTPServerRequest) -> User | None:
        return self.user if self.auth_method(request) is not None else None

    def token_in_query(self, request: HTTPServerRequest) -> bool:
        return "token" in request.query_arguments

    def _cookie_user(self, request: HTTPServerRequest) -> str | None:
        morsel = request.cookies.get(self.cookie_name)
        if morsel is None:
            return None
        value = decode_signed_value(
            self.cookie_secret, self.cookie_name, morsel.value, max_age_days=COOKIE_MAX_AGE_DAYS
        )
        return value.decode("utf-8", "replace") if value else None

    def login_cookie_value(self) -> bytes:
        return create_signed_value(self.cookie_secret, self.cookie_name, self.user.username)

    def check_token(self, offered: str) -> bool:
        return bool(self.token) and hmac.compare_digest(
            offered.encode("utf-8"), self.token.encode("utf-8")
        )


def _local_username() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "anonymous"
