"""API paths ↔ OS paths, confined to the server's root directory.

An API path is ``/``-separated and relative to the root. No API path may
reach outside the root: not by ``..``, not by an absolute path, not by a
backslash, a NUL byte, or a symlink whose target lies outside.
"""

from __future__ import annotations

import os
import re

# Bytes of a name that are not UTF-8 reach Python as lone surrogates (U+DC80-U+DCFF),
# which neither JSON clients nor URLs can carry; the API shows them as private-use
# characters U+EF80-U+EFFF instead and maps them back when the literal name is absent.
_TO_API = {0xDC00 + b: 0xEF00 + b for b in range(0x80, 0x100)}
_TO_OS = {v: k for k, v in _TO_API.items()}
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_BYTE = re.compile("[\uef80-\uefff]")


def api_name(os_name: str) -> str:
    """A name read from the file system as the API shows it (always valid Unicode)."""
    return os_name.translate(_TO_API)


class PathOutsideRoot(ValueError):
    """The path is not inside the root (or is malformed)."""


def normalize_api_path(path: str) -> str:
    """Strip slashes; refuse ``..``, NUL bytes and backslashes."""
    if not isinstance(path, str) or "\x00" in path or "\\" in path or _SURROGATE.search(path):
        raise PathOutsideRoot(path)
    parts = [p for p in path.strip("/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise PathOutsideRoot(path)
    return "/".join(parts)


def _with_escaped_bytes(root: str, parts: list[str]) -> str:
    """Join ``parts``, each as its bytes form where only that one exists on disk."""
    os_path = root
    for part in parts:
        literal = os.path.join(os_path, part)
        as_bytes = os.path.join(os_path, part.translate(_TO_OS))
        use_bytes = as_bytes != literal and not os.path.lexists(literal)
        os_path = as_bytes if use_bytes and os.path.lexists(as_bytes) else literal
    return os_path


def to_os_path(api_path: str, root: str) -> str:
    """The OS path for ``api_path``, guaranteed to resolve inside ``root``."""
    rel = normalize_api_path(api_path)
    root_real = os.path.realpath(root)
    if _ESCAPED_BYTE.search(rel):
        os_path = _with_escaped_bytes(root_real, rel.split("/"))
    else:
        os_path = os.path.join(root_real, *rel.split("/")) if rel else root_real
    real = os.path.realpath(os_path)
    if real != root_real and not real.startswith(root_real + os.sep):
        raise PathOutsideRoot(api_path)
    return os_path
