"""Who is calling: the token check and the identity reported by /api/me.

A request is authenticated by the server token in ``Authorization: token T``,
``Authorization: Bearer T`` or ``?token=T`` (websockets too). Tokens are
compared in constant time. With no token configured (only allowed together
with ``--no-auth``) every request is accepted.
"""

from __future__ import annotations

import getpass
import hmac
from dataclasses import dataclass

from tornado.httputil import HTTPServerRequest


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

    def __init__(self, token: str, username: str | None = None) -> None:
        self.token = token
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

    def authenticate(self, request: HTTPServerRequest) -> User | None:
        if not self.auth_enabled:
            return self.user
        offered = self.token_from(request)
        if offered is not None and hmac.compare_digest(
            offered.encode("utf-8"), self.token.encode("utf-8")
        ):
            return self.user
        return None


def _local_username() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "anonymous"
