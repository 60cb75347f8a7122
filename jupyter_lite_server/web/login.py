"""Browser login: ``/login`` asks for the token (or the password) and sets the login cookie.

Wrong answers are throttled per client and overall (``auth/password.py``):
while a client is locked out it gets a 429 with ``Retry-After``, even for
the right answer, so guessing costs time whatever the guesser learns.
"""

from __future__ import annotations

import html
import logging
import math
from urllib.parse import urlparse

from tornado import web

from ..auth.password import LoginThrottle
from .base import BaseHandler

log = logging.getLogger("jls.auth")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>jls: log in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28em;margin:4em auto}}
input{{font-size:1em;padding:.3em}} .error{{color:#b00}}</style></head>
<body><h1>Log in to jls</h1>{message}
<form method="post" action="{action}">
<input type="hidden" name="_xsrf" value="{xsrf}">
<input type="hidden" name="next" value="{next}">
<label>{label} <input type="password" name="password" autofocus autocomplete="off"></label>
<button type="submit">Log in</button></form>
<p>The token is printed by <code>jls serve</code> when it starts.</p></body></html>
"""


class LoginHandler(BaseHandler):
    auth_required = False
    login_redirect = True  # under JupyterHub: the hub's login

    def check_xsrf_cookie(self) -> None:
        """Always for the login form (no login forced on a browser by a foreign page)."""
        web.RequestHandler.check_xsrf_cookie(self)

    def _next_url(self) -> str:
        """Where to go after logging in: only a path on this server (no open redirect)."""
        base = self.settings.get("base_url", "/")
        target = self.get_argument("next", base)
        parsed = urlparse(target)
        if (
            parsed.scheme
            or parsed.netloc
            or not target.startswith(base)
            or target.startswith("//")
            or "\\" in target  # browsers read /\\host as //host
        ):
            return base
        return target

    def _page(self, message: str = "", status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            PAGE.format(
                message=f'<p class="error">{html.escape(message)}</p>' if message else "",
                label=html.escape(self.identity_provider.login_prompt),
                action=html.escape(self.request.path),
                xsrf=html.escape(self.xsrf_token.decode("ascii")),
                next=html.escape(self._next_url()),
            )
        )

    def get(self) -> None:
        if self.current_user is not None and self.identity_provider.auth_enabled:
            self.redirect(self._next_url())
            return
        self._page()

    @property
    def throttle(self) -> LoginThrottle:
        return self.settings["login_throttle"]

    async def post(self) -> None:
        client = self.request.remote_ip or "?"
        wait = self.throttle.retry_after(client)
        if wait > 0:
            log.warning("Login from %s refused: too many failed attempts (%.0f s left)",
                        client, wait)  # fmt: skip
            self.set_header("Retry-After", str(math.ceil(wait)))
            self._page(f"Too many failed attempts: try again in {math.ceil(wait)} s.", 429)
            return
        offered = self.get_body_argument("password", "") or self.get_body_argument("token", "")
        if not await self.identity_provider.login(self, offered):
            self.throttle.failed(client)
            log.warning("Failed login from %s", client)
            what = self.identity_provider.login_prompt.lower()
            self._page(f"That {what} is not valid.", status=401)
            return
        self.throttle.succeeded(client)
        self.redirect(self._next_url())


class LogoutHandler(BaseHandler):
    auth_required = False

    def get(self) -> None:
        self.identity_provider.logout(self)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish("<!doctype html><p>Logged out. <a href='login'>Log in again</a></p>")


def routes() -> list[tuple[str, type]]:
    return [("login", LoginHandler), ("logout", LogoutHandler)]
