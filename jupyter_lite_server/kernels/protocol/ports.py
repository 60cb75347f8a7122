"""Ports for kernels, chosen outside the system's ephemeral port range, and their URLs.

A kernel's ports are picked by the server and bound by the kernel a moment
(under load, seconds) later. jupyter_client picks them by binding port 0,
which hands out *ephemeral* ports — the same pool the system uses for the
local end of every outgoing connection, so under load an outgoing connection
can take a port before the kernel binds it and the kernel dies with
"Address already in use" (seen with 32 kernels starting beside 32 busy
clients). Ports below the ephemeral range are never given out implicitly.
"""

from __future__ import annotations

import collections
import random
import socket
from typing import Any

_recent: collections.deque[int] = collections.deque(maxlen=4096)


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(ip: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family) as probe:
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


def pick_ports(ip: str, count: int) -> list[int]:
    """``count`` distinct ports free on ``ip`` now, not recently handed out by us."""
    low, _ = _ephemeral_range()
    start, end = 10000, low - 1
    if end - start < 1000:  # an unusual ephemeral range: fall back to the system's choice
        start = end = 0
    ports: list[int] = []
    attempts = 0
    while len(ports) < count:
        attempts += 1
        port = random.randint(start, end) if end else 0
        if port and (port in _recent or port in ports or attempts > 10000):
            continue
        if port == 0:
            with socket.socket() as probe:
                probe.bind((ip, 0))
                port = probe.getsockname()[1]
        elif not _bindable(ip, port):
            continue
        ports.append(port)
        _recent.append(port)
    return ports


def channel_url(connection_info: dict[str, Any], channel: str) -> str:
    """The ZMQ endpoint of ``channel`` (shell, iopub, stdin, control, hb) in connection info."""
    port = connection_info[f"{channel}_port"]
    transport = connection_info.get("transport", "tcp")
    if transport in ("ipc", "inproc"):  # inproc: a bridge inside this server (gateway kernels)
        return f"{transport}://{connection_info['ip']}-{port}"
    return f"tcp://{connection_info['ip']}:{port}"
