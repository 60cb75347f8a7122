"""jupyterhub's HubOAuth, minus its patching of our handlers' XSRF check.

``HubOAuth._patch_xsrf`` (private) replaces a handler's ``check_xsrf_cookie``;
our handlers check XSRF themselves (cookie-authenticated changes only, see
``web/base.py``), so the patch is turned into a no-op.
"""

from __future__ import annotations

from typing import Any


def hub_oauth_class() -> type:
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
