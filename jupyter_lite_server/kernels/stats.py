"""Counts about kernels for /metrics, kept as plain integers.

Nothing here runs per message except ``ManagedKernel.relayed += 1``; totals
are summed when Prometheus scrapes. A removed kernel's count is folded into
``relayed_by_removed`` so the total never goes down.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lifecycle.kernel import ManagedKernel


class KernelStats:
    def __init__(self, live: Callable[[], Iterable[ManagedKernel]]) -> None:
        self._live = live
        self.relayed_by_removed = 0
        #: Restarts by cause: "client" (asked for) or "death" (automatic).
        self.restarts: Counter[str] = Counter()
        #: Unasked deaths by how: "exit", "signal", "oom", "unknown".
        self.deaths: Counter[str] = Counter()

    def messages_relayed(self) -> int:
        return self.relayed_by_removed + sum(k.relayed for k in self._live())

    def kernel_removed(self, kernel: ManagedKernel) -> None:
        self.relayed_by_removed += kernel.relayed
