"""Running jls as a service: where it listens (TCP, a Unix socket, TLS), how it is
found (runtime files, ``jls list``/``jls stop``), when it stops (signals,
``POST /api/shutdown``, no activity), and what it reports (``/metrics``)."""

from __future__ import annotations


def routes() -> list[tuple[str, type]]:
    from .lifetime import ShutdownHandler
    from .metrics import MetricsHandler

    return [(r"api/shutdown/?", ShutdownHandler), (r"metrics/?", MetricsHandler)]
