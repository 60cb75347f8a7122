"""The OAuth callback the hub redirects browsers to, from jupyterhub's helpers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse


def routes(hub_auth: Any, base_url: str) -> list[tuple[Any, ...]]:
    import os

    from jupyterhub.services.auth import HubOAuthCallbackHandler

    class OAuthCallbackHandler(HubOAuthCallbackHandler):
        def initialize(self, hub_auth) -> None:
            self.hub_auth = hub_auth

        def check_xsrf_cookie(self) -> None:
            """A GET from the hub's redirect: the OAuth state cookie is the check."""

    callback = urlparse(os.environ.get("JUPYTERHUB_OAUTH_CALLBACK_URL", "")).path
    path = callback[len(base_url) :] if callback.startswith(base_url) else "oauth_callback"
    return [(path, OAuthCallbackHandler, {"hub_auth": hub_auth})]
