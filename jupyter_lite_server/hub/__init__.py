"""Running as a JupyterHub single-user server (see docs/jupyterhub.md)."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from ..web.wiring import Wiring


def started_by_hub(environ: dict[str, str] | None = None) -> bool:
    """Whether a JupyterHub spawner started us (its API token and our URL prefix are set)."""
    env = os.environ if environ is None else environ
    return bool(env.get("JUPYTERHUB_API_TOKEN") and env.get("JUPYTERHUB_SERVICE_PREFIX"))


def bind_from_env(environ: dict[str, str] | None = None) -> dict[str, object]:
    """ip, port and base URL as the hub dictates them (JUPYTERHUB_SERVICE_URL/_PREFIX)."""
    env = os.environ if environ is None else environ
    settings: dict[str, object] = {"base_url": env["JUPYTERHUB_SERVICE_PREFIX"]}
    url = env.get("JUPYTERHUB_SERVICE_URL")
    if url:
        parsed = urlparse(url)
        if parsed.hostname:
            settings["ip"] = parsed.hostname
        if parsed.port:
            settings["port"] = parsed.port
    return settings


def hub_wiring(base_url: str) -> Wiring:
    """Identity provider, OAuth callback route and tornado settings for running under a hub."""
    import jupyterhub

    from .handlers import routes
    from .identity import HubIdentityProvider

    provider = HubIdentityProvider(base_url, jupyterhub.__version__)
    return Wiring(
        routes=routes(provider.hub_auth, base_url),
        settings={"xsrf_cookie_kwargs": {"path": base_url}},
        identity_provider=provider,
    )
