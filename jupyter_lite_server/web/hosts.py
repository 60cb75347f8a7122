"""The DNS-rebinding defence: on a loopback address, only local Host names are served.

A page on ``attacker.example`` whose name the attacker re-points at 127.0.0.1
makes the browser send same-origin requests to us with ``Host:
attacker.example``. Origin checks cannot see that; the Host header can. When
the server listens on loopback and ``allow_remote_access`` is off, a request
is served only if its Host is a loopback address or a name in
``local_hostnames`` (``localhost`` by default), as jupyter_server does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


def host_name(host_header: str) -> str:
    """The host of a Host header, without port, brackets or a trailing dot, in lower case."""
    host = host_header.strip()
    if host.startswith("["):  # [::1]:8888
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # name:port (more colons: a bare IPv6 address)
        host = host.partition(":")[0]
    return host.rstrip(".").lower()


def is_local_host(host_header: str, local_hostnames: Iterable[str]) -> bool:
    host = host_name(host_header)
    if host in {name.lower() for name in local_hostnames}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
