"""Who is calling: the one interface every way of authenticating implements.

The server asks an :class:`IdentityProvider` who sent a request, through one
authentication step shared by REST handlers and every websocket
(``web/base.py``). Implementations: the server token and its login cookie
(``auth/token.py``), JupyterHub's OAuth (``hub/identity.py``). A password
login plugs in here too. Providers know tornado requests and handlers, never
this server's handler classes (``auth`` imports nothing from ``web``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from tornado.httputil import HTTPServerRequest
from tornado.web import RequestHandler

#: How a request proves who it is: a token, a login cookie, or nothing needed (no auth).
Credentials = Literal["token", "cookie", "open"]


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


class Forbidden(Exception):
    """Authenticated, but not allowed here (the message says why, for the client)."""


class IdentityProvider(Protocol):
    """Authentication, login and logout for one server."""

    @property
    def auth_enabled(self) -> bool:
        """False only when the server runs with no authentication at all (--no-auth)."""
        ...

    def credentials(self, request: HTTPServerRequest) -> Credentials | None:
        """What the request carries, judged from its headers alone (no I/O).

        Used before a body is read (to bound what an unauthenticated client may
        send) and for XSRF: cookie-authenticated changes must carry ``_xsrf``.
        """
        ...

    async def authenticate(self, handler: RequestHandler) -> User | None:
        """The user behind the request, or None. Raises Forbidden for a known user
        who may not use this server."""
        ...

    def remember_login(self, handler: RequestHandler) -> None:
        """A page was opened with credentials in its URL: keep the browser logged in."""
        ...

    @property
    def login_prompt(self) -> str:
        """What the login form asks for ("Token", "Password or token")."""
        ...

    async def login(self, handler: RequestHandler, secret: str) -> bool:
        """The login form's secret: True (and the browser logged in) if it is right."""
        ...

    def logout(self, handler: RequestHandler) -> None:
        """Forget the browser's login."""
        ...

    def redirect_to_login(self, handler: RequestHandler) -> bool:
        """Send a browser that is not logged in to an outside login (True if it did);
        False when this server's own /login page is the way in."""
        ...

    def response_headers(self) -> dict[str, str]:
        """Headers every response carries (e.g. the hub version a hub expects)."""
        ...
