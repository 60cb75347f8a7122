"""Start-up security policy: where a token is required, and the cookie secret."""

from __future__ import annotations

import logging
import os
import secrets


def is_loopback(ip: str) -> bool:
    import ipaddress

    if ip in ("localhost", ""):
        return ip == "localhost"
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def load_or_create_secret(path: str) -> bytes:
    """The cookie secret from ``path``, or a new random one stored there (mode 0600)."""
    try:
        with open(path, "rb") as f:
            secret = f.read().strip()
        if len(secret) >= 32:
            return secret
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(32).encode("ascii")
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
    except OSError as exc:
        logging.getLogger("jls.auth").warning(
            "Could not store the cookie secret in %s (%s): browsers will have to log in "
            "again after a restart", path, exc,
        )  # fmt: skip
    return secret
