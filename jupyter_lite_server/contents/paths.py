"""API paths ↔ OS paths, confined to the server's root directory.

An API path is ``/``-separated and relative to the root. No API path may
reach outside the root: not by ``..``, not by an absolute path, not by a
backslash, a NUL byte, or a symlink whose target lies outside.
"""

from __future__ import annotations

import os


class PathOutsideRoot(ValueError):
    """The path is not inside the root (or is malformed)."""


def normalize_api_path(path: str) -> str:
    """Strip slashes; refuse ``..``, NUL bytes and backslashes."""
    if not isinstance(path, str) or "\x00" in path or "\\" in path:
        raise PathOutsideRoot(path)
    parts = [p for p in path.strip("/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise PathOutsideRoot(path)
    return "/".join(parts)


def to_os_path(api_path: str, root: str) -> str:
    """The OS path for ``api_path``, guaranteed to resolve inside ``root``."""
    rel = normalize_api_path(api_path)
    root_real = os.path.realpath(root)
    os_path = os.path.join(root_real, *rel.split("/")) if rel else root_real
    real = os.path.realpath(os_path)
    if real != root_real and not real.startswith(root_real + os.sep):
        raise PathOutsideRoot(api_path)
    return os_path
