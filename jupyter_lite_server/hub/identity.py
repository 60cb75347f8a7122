"""Users authenticated by JupyterHub, through jupyterhub's own OAuth helpers.

Browsers log in with the hub's OAuth flow (``/login`` or any page redirects
to the hub; ``oauth_callback`` stores the access token in a cookie). API
clients send a hub API token (``Authorization: token T``). Either way the hub
says who the user is and which scopes they hold; only users whose scopes
include access to this server (``JUPYTERHUB_OAUTH_ACCESS_SCOPES``, normally
its owner and admins) get in. Answers from the hub are cached for a minute.
"""

from __future__ import annotations

import logging
from typing import Any

from tornado import web
from tornado.httputil import HTTPServerRequest, url_concat

from ..auth.identity import User
from ..web.base import ApiError

log = logging.getLogger("jls.hub")


def _hub_oauth_class():
    try:
        from jupyterhub.services.auth import HubOAuth
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "Started by JupyterHub, but the jupyterhub package is not installed: "
            "pip install 'jupyter_lite_server[hub]'"
        ) from exc

    class JlsHubOAuth(HubOAuth):
        """HubOAuth that leaves our handler classes alone: XSRF is ours (web/base.py)."""

        def _patch_xsrf(self, handler: Any) -> None:
            return

    return JlsHubOAuth


class HubIdentityProvider:
    is_hub = True
    auth_enabled = True
    token = ""
    cookie_secret = b""
    cookie_name = ""

    def __init__(self, base_url: str) -> None:
        self.hub_auth = _hub_oauth_class()(base_url=base_url, cache_max_age=60)

    def auth_method(self, request: HTTPServerRequest) -> str | None:
        """What the request carries (the hub checks it later, asynchronously)."""
        header = request.headers.get("Authorization", "")
        if header.lower().startswith(("token ", "bearer ")):
            return "token"
        if request.cookies.get(self.hub_auth.cookie_name) is not None:
            return "cookie"
        return None

    def authenticate(self, request: HTTPServerRequest) -> User | None:
        return None  # only the async path below can ask the hub

    async def user_for_handler(self, handler: web.RequestHandler) -> User | None:
        model = await self.hub_auth.get_user(handler, sync=False)
        if not model:
            return None
        scopes = self.hub_auth.access_scopes
        if scopes and not self.hub_auth.check_scopes(scopes, model):
            log.warning("Hub %s %s may not use this server (needs one of %s)",
                        model.get("kind", "user"), model.get("name"), sorted(scopes))  # fmt: skip
            raise ApiError(403, f"{model.get('name')} is not allowed on this server", "Forbidden")
        return User(model["name"])

    def redirect_to_login(self, handler: web.RequestHandler) -> None:
        """Send a browser to the hub's OAuth authorisation, coming back to this page."""
        params: dict[str, str] = {}
        verifier = None
        if self.hub_auth.pkce_enabled:
            verifier, challenge, method = self.hub_auth.generate_pkce_code_challenge()
            params.update(code_challenge=challenge, code_challenge_method=method)
        params["state"] = self.hub_auth.set_state_cookie(
            handler, next_url=handler.request.uri, code_verifier=verifier
        )
        handler.redirect(url_concat(self.hub_auth.login_url, params))

    def check_token(self, offered: str) -> bool:
        return False
