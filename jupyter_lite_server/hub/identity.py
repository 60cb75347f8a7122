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

from tornado.httputil import HTTPServerRequest, url_concat
from tornado.web import RequestHandler

from ..auth.identity import Credentials, Forbidden, User
from ..compat.jupyterhub import hub_oauth_class

log = logging.getLogger("jls.hub")


class HubIdentityProvider:
    """Users as JupyterHub knows them; implements auth.identity.IdentityProvider."""

    auth_enabled = True

    def __init__(self, base_url: str, hub_version: str) -> None:
        self.hub_auth: Any = hub_oauth_class()(base_url=base_url, cache_max_age=60)
        self._headers = {"X-JupyterHub-Version": hub_version}

    def credentials(self, request: HTTPServerRequest) -> Credentials | None:
        """What the request carries (the hub checks it in ``authenticate``)."""
        header = request.headers.get("Authorization", "")
        if header.lower().startswith(("token ", "bearer ")):
            return "token"
        if request.cookies.get(self.hub_auth.cookie_name) is not None:
            return "cookie"
        return None

    async def authenticate(self, handler: RequestHandler) -> User | None:
        model = await self.hub_auth.get_user(handler, sync=False)
        if not model:
            return None
        scopes = self.hub_auth.access_scopes
        if scopes and not self.hub_auth.check_scopes(scopes, model):
            log.warning("Hub %s %s may not use this server (needs one of %s)",
                        model.get("kind", "user"), model.get("name"), sorted(scopes))  # fmt: skip
            raise Forbidden(f"{model.get('name')} is not allowed on this server")
        return User(model["name"])

    def remember_login(self, handler: RequestHandler) -> None:
        return  # the hub's OAuth cookie is the login

    login_prompt = "JupyterHub login"

    async def login(self, handler: RequestHandler, secret: str) -> bool:
        return False  # logging in happens at the hub

    def logout(self, handler: RequestHandler) -> None:
        handler.clear_cookie(self.hub_auth.cookie_name, path=handler.settings["base_url"])

    def redirect_to_login(self, handler: RequestHandler) -> bool:
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
        return True

    def response_headers(self) -> dict[str, str]:
        return self._headers
