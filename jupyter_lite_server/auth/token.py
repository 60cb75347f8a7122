"""The server token (or a password), and the login cookie a browser gets for it.

A request is authenticated by the token in ``Authorization: token T``,
``Authorization: Bearer T`` or ``?token=T`` (websockets too), or by the login
cookie a browser receives after presenting the token once (``/login``, or a
page opened with ``?token=T``). Tokens are compared in constant time; the
cookie is signed with the server's cookie secret. With a hashed password
configured (``jls password``) the login page also accepts the password; the
token may then be empty. With neither (only allowed together with
``--no-auth`` on a loopback address) every request is accepted.
"""

from __future__ import annotations

import asyncio
import getpass
import hmac

from tornado.httputil import HTTPServerRequest
from tornado.web import RequestHandler, create_signed_value, decode_signed_value

from .identity import Credentials, User
from .password import check_password

#: Days a login cookie stays valid.
COOKIE_MAX_AGE_DAYS = 30


class TokenIdentityProvider:
    """Accepts requests that carry the server's token, or its login cookie."""

    def __init__(
        self,
        token: str,
        cookie_secret: bytes = b"",
        cookie_name: str = "jls-login",
        username: str | None = None,
        cookie_path: str = "/",
        hashed_password: str = "",
    ) -> None:
        self.token = token
        self.hashed_password = hashed_password
        self.cookie_secret = cookie_secret
        #: Browsers do not separate cookies by port: the server names it after its own.
        self.cookie_name = cookie_name
        self.cookie_path = cookie_path
        self.user = User(username or _local_username())

    @property
    def auth_enabled(self) -> bool:
        return bool(self.token or self.hashed_password)

    def token_from(self, request: HTTPServerRequest) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("token", "bearer") and value.strip():
            return value.strip()
        values = request.query_arguments.get("token")
        if values:
            return values[-1].decode("utf-8", "replace")
        return None

    def credentials(self, request: HTTPServerRequest) -> Credentials | None:
        """A token that is offered but wrong is refused even if a cookie is valid."""
        if not self.auth_enabled:
            return "open"
        offered = self.token_from(request)
        if offered is not None:
            return "token" if self.check_token(offered) else None
        if self.cookie_secret and self._cookie_user(request) == self.user.username:
            return "cookie"
        return None

    async def authenticate(self, handler: RequestHandler) -> User | None:
        return self.user if self.credentials(handler.request) is not None else None

    def remember_login(self, handler: RequestHandler) -> None:
        request = handler.request
        if (
            request.method == "GET"
            and "token" in request.query_arguments
            and self.credentials(request) == "token"
        ):
            self._set_cookie(handler)

    @property
    def login_prompt(self) -> str:
        return "Password or token" if self.hashed_password else "Token"

    async def login(self, handler: RequestHandler, secret: str) -> bool:
        """The token, or the password (argon2 runs off the event loop: ~0.1 s of CPU)."""
        good = self.check_token(secret)
        if not good and self.hashed_password and secret:
            loop = asyncio.get_running_loop()
            good = await loop.run_in_executor(None, check_password, self.hashed_password, secret)
        if good:
            self._set_cookie(handler)
        return good

    def logout(self, handler: RequestHandler) -> None:
        handler.clear_cookie(self.cookie_name, path=self.cookie_path)

    def redirect_to_login(self, handler: RequestHandler) -> bool:
        return False  # our own /login page

    def response_headers(self) -> dict[str, str]:
        return {}

    def check_token(self, offered: str) -> bool:
        return bool(self.token) and hmac.compare_digest(
            offered.encode("utf-8"), self.token.encode("utf-8")
        )

    def _set_cookie(self, handler: RequestHandler) -> None:
        if not self.cookie_secret:
            return
        value = create_signed_value(self.cookie_secret, self.cookie_name, self.user.username)
        handler.set_cookie(
            self.cookie_name,
            value,
            path=self.cookie_path,
            httponly=True,
            samesite="Lax",
            expires_days=COOKIE_MAX_AGE_DAYS,
        )
        handler.xsrf_token  # noqa: B018 - sets the _xsrf cookie pages send back with changes

    def _cookie_user(self, request: HTTPServerRequest) -> str | None:
        morsel = request.cookies.get(self.cookie_name)
        if morsel is None:
            return None
        value = decode_signed_value(
            self.cookie_secret, self.cookie_name, morsel.value, max_age_days=COOKIE_MAX_AGE_DAYS
        )
        return value.decode("utf-8", "replace") if value else None


def _local_username() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "anonymous"
