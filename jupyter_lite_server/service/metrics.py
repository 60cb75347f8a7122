"""``/metrics`` in Prometheus' text format, through prometheus_client.

jupyter_server's names where it has them (``http_request_duration_seconds``,
``kernel_currently_running_total``, ``terminal_currently_running_total``),
and jls's own under ``jls_``. Kernel state is read when Prometheus scrapes
(a collector), so serving metrics adds nothing to the message path but the
plain counts the kernels keep anyway. Each server has its own registry.

prometheus_client is imported on the first scrape (it costs more than half
of jls's cold start): request durations observed before it are kept, up to
``PENDING_LIMIT``, and handed to the histogram then.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tornado.web import RequestHandler

from ..web.base import APIHandler

if TYPE_CHECKING:
    from ..kernels.manager import MappingKernelManager

PENDING_LIMIT = 100_000
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _by_label(family: Any, name: str, doc: str, label: str, counts: Counter[str]) -> Any:
    """A metric family with one sample per label value."""
    metric = family(name, doc, labels=[label])
    for value, count in sorted(counts.items()):
        metric.add_metric([value], count)
    return metric


def collect_kernels(km: MappingKernelManager) -> Iterator[Any]:
    """Kernels, clients and relayed messages as the manager knows them right now."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    kernels = km.kernels()
    yield _by_label(
        GaugeMetricFamily, "kernel_currently_running_total", "Kernels running, by kernel name",
        "type", Counter(k.name for k in kernels),
    )  # fmt: skip
    yield GaugeMetricFamily(
        "terminal_currently_running_total", "Terminals running (jls serves none yet)", value=0
    )
    yield _by_label(
        GaugeMetricFamily, "jls_kernels_by_execution_state", "Kernels by execution state",
        "state", Counter(k.execution_state for k in kernels),
    )  # fmt: skip
    yield GaugeMetricFamily(
        "jls_websocket_clients", "Kernel websockets connected", value=km.total_connections()
    )
    yield CounterMetricFamily(
        "jls_kernel_messages_relayed",
        "Kernel messages relayed between kernels and clients",
        value=km.stats.messages_relayed(),
    )
    yield GaugeMetricFamily(
        "jls_replay_buffer_bytes",
        "Output held for clients that are away",
        value=sum(p.size for k in kernels for p in k.parked.values()),
    )
    pooled, handed_out = km.pool_counts()
    yield GaugeMetricFamily("jls_pool_kernels", "Ready kernels in the warm pool", value=pooled)
    yield CounterMetricFamily(
        "jls_pool_handouts", "Kernels handed out from the warm pool", value=handed_out
    )
    yield _by_label(
        CounterMetricFamily, "jls_kernel_restarts", "Kernel restarts, by cause",
        "cause", km.stats.restarts,
    )  # fmt: skip
    yield _by_label(
        CounterMetricFamily, "jls_kernel_deaths", "Kernel processes that died unasked, by how",
        "how", km.stats.deaths,
    )  # fmt: skip


class ServerMetrics:
    """The registry of one server: request durations, and the kernels' state."""

    def __init__(self, kernels: MappingKernelManager) -> None:
        self.kernels = kernels
        self._registry: Any = None
        self._durations: Any = None
        self._pending: deque[tuple[str, str, int, float]] = deque(maxlen=PENDING_LIMIT)

    def observe(self, handler: RequestHandler) -> None:
        name = type(handler)
        observation = (
            handler.request.method or "",
            f"{name.__module__}.{name.__qualname__}",
            handler.get_status(),
            handler.request.request_time(),
        )
        if self._durations is None:
            self._pending.append(observation)
        else:
            self._observe(*observation)

    def _observe(self, method: str, handler: str, status: int, seconds: float) -> None:
        self._durations.labels(method=method, handler=handler, status_code=status).observe(seconds)

    def _start(self) -> None:
        from prometheus_client import CollectorRegistry, Histogram
        from prometheus_client.registry import Collector

        kernels = self.kernels

        class KernelCollector(Collector):
            def collect(self) -> Iterator[Any]:
                return collect_kernels(kernels)

        self._registry = CollectorRegistry()
        self._durations = Histogram(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds",
            ["method", "handler", "status_code"],
            registry=self._registry,
        )
        self._registry.register(KernelCollector())
        while self._pending:
            self._observe(*self._pending.popleft())

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        if self._registry is None:
            self._start()
        return generate_latest(self._registry)


class MetricsHandler(APIHandler):
    """``GET /metrics``: needs the token unless ``authenticate_prometheus`` is off."""

    @property
    def auth_required(self) -> bool:  # type: ignore[override]
        return bool(self.settings.get("authenticate_prometheus", True))

    def get(self) -> None:
        metrics: ServerMetrics = self.settings["metrics"]
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(metrics.render())


def routes() -> list[tuple[str, type]]:
    return [(r"metrics", MetricsHandler)]
