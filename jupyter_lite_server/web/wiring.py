"""What an optional part of the server (JupyterLab, JupyterHub) adds to the web application."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..auth.identity import IdentityProvider


@dataclass(slots=True)
class Wiring:
    """Routes (relative to the base URL), tornado settings, and maybe who authenticates."""

    routes: list[tuple[Any, ...]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    #: Replaces the token provider (JupyterHub's OAuth) when set.
    identity_provider: IdentityProvider | None = None
