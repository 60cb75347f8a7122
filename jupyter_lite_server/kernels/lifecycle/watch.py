"""Watching kernels over time: deaths (with a restart budget) and idle culling.

Both are loops on their own task that ask the kernels' states, never flags:
only READY kernels are watched or culled (a starting or restarting kernel is
watched by its own readiness check; a closing or dead one by its remover).
They act through callables the manager hands them, so neither reaches into
the manager's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...timeutil import utcnow
from .state import KernelState

if TYPE_CHECKING:
    from .kernel import ManagedKernel

log = logging.getLogger("jls.kernels")

Kernels = Callable[[], Iterable["ManagedKernel"]]


class RestartBudget:
    """Deaths per kernel within a sliding window: how many restarts are still allowed."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._deaths: dict[str, deque[float]] = {}

    def record_death(self, kernel_id: str, now: float | None = None) -> int:
        """Count a death now; the number of deaths within the window, this one included."""
        now = time.monotonic() if now is None else now
        deaths = self._deaths.setdefault(kernel_id, deque())
        deaths.append(now)
        while deaths and now - deaths[0] > self.window:
            deaths.popleft()
        return len(deaths)

    def allows_restart(self, deaths: int) -> bool:
        return deaths < self.limit

    def forget(self, kernel_id: str) -> None:
        self._deaths.pop(kernel_id, None)


class _Loop:
    """A background loop that runs while there is something to do, restarted on demand."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        raise NotImplementedError


class DeathWatch(_Loop):
    """Every ``interval`` seconds, asks each READY kernel ``is_alive()``; reports deaths."""

    def __init__(
        self,
        kernels: Kernels,
        on_death: Callable[[ManagedKernel], Awaitable[None]],
        interval: float,
        keep_running: Callable[[], bool],
        also_each_round: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__()
        self._kernels = kernels
        self._on_death = on_death
        self._interval = interval
        self._keep_running = keep_running
        self._also = also_each_round  # the warm pool's own check of its kernels

    async def _run(self) -> None:
        while self._keep_running():
            await asyncio.sleep(self._interval)
            if self._also is not None:
                await self._also()
            watched = [k for k in self._kernels() if k.state is KernelState.READY]
            alive = await asyncio.gather(
                *(k.launched.is_alive() for k in watched), return_exceptions=True
            )
            for kernel, is_alive in zip(watched, alive, strict=True):
                if is_alive is False and kernel.state is KernelState.READY:
                    await self._on_death(kernel)


@dataclass(frozen=True, slots=True)
class CullRules:
    """jupyter_server's culling options."""

    idle_timeout: float
    interval: float
    connected: bool
    busy: bool

    def should_cull(self, idle_for: float, execution_state: str, connections: int) -> bool:
        return (
            idle_for > self.idle_timeout
            and (self.busy or execution_state != "busy")
            and (self.connected or connections == 0)
        )


class Culler(_Loop):
    """Shuts down READY kernels that have been idle for longer than the rules allow."""

    def __init__(
        self, kernels: Kernels, shutdown: Callable[[str], Awaitable[None]], rules: CullRules
    ) -> None:
        super().__init__()
        self._kernels = kernels
        self._shutdown = shutdown
        self.rules = rules

    def ensure_running(self) -> None:
        if self.rules.idle_timeout > 0:
            super().ensure_running()

    async def _run(self) -> None:
        while True:
            kernels = list(self._kernels())
            if not kernels:
                return
            await asyncio.sleep(self.rules.interval)
            now = utcnow()
            for kernel in list(self._kernels()):
                idle_for = (now - kernel.last_activity).total_seconds()
                if kernel.state is not KernelState.READY or not self.rules.should_cull(
                    idle_for, kernel.execution_state, len(kernel.clients)
                ):
                    continue
                log.warning(
                    "Culling kernel %s (%s): idle for %.0f s, %d connection(s), state %s",
                    kernel.id, kernel.name, idle_for, len(kernel.clients), kernel.execution_state,
                )  # fmt: skip
                with contextlib.suppress(KeyError):  # UnknownKernel: gone meanwhile
                    await self._shutdown(kernel.id)


def death_report(kernel: ManagedKernel, tail_lines: int = 10) -> tuple[str, str]:
    """(what clients and the log are told, a metrics label) for a kernel that died unasked.

    ``Kernel died: killed by signal 9 (SIGKILL) (out of memory?)``, then the last
    lines the kernel wrote to stderr, so a user sees why instead of a bare death.
    """
    ended = kernel.launched.exit_details()
    how = ended.describe() if ended is not None else "its process is gone (the cause is not known)"
    text = f"Kernel died: {how}"
    tail = written_since(kernel.stderr_before_execute, kernel.launched.failure_details())
    if tail:
        text += "\nIts last output:\n" + "\n".join(tail[-tail_lines:])
    return text, ended.how if ended is not None else "unknown"


def written_since(before: str, now: str) -> list[str]:
    """The lines of ``now`` (a bounded stderr tail) that came after ``before`` (an earlier
    snapshot of it): what a kernel wrote while it ran, without its start-up noise."""
    old, new = before.splitlines(), now.splitlines()
    if not old:
        return new
    for start in range(len(new), -1, -1):  # the latest point where the old tail ends
        overlap = new[:start]
        if overlap and old[-len(overlap) :] == overlap:
            return new[start:]
    return new  # the whole tail rotated past the snapshot: all of it is new


class DeathPolicy:
    """What happens when the death watch finds a READY kernel's process gone.

    The death is reported (log, the kernel model's ``reason``, a stderr message
    to clients before the ``restarting``/``dead`` status), counted, and then the
    kernel is restarted within the budget, or removed (``budget`` None: never
    restarted).
    """

    def __init__(
        self,
        budget: RestartBudget | None,
        restart: Callable[[ManagedKernel], Awaitable[object]],
        remove: Callable[[ManagedKernel, BaseException], Awaitable[None]],
        count: Counter[str],
    ) -> None:
        self.budget = budget
        self._restart = restart
        self._remove = remove
        self._count = count

    def forget(self, kernel_id: str) -> None:
        if self.budget is not None:
            self.budget.forget(kernel_id)

    async def handle(self, kernel: ManagedKernel) -> None:
        kernel.death_reason, how = death_report(kernel)
        self._count[how] += 1
        log.warning("Kernel %s (%s): %s", kernel.id, kernel.name, kernel.death_reason)
        kernel.broadcast_stderr(kernel.death_reason + "\n")
        budget = self.budget
        deaths = budget.record_death(kernel.id) if budget is not None else 0
        if budget is not None and budget.allows_restart(deaths):
            log.warning(
                "Kernel %s died unexpectedly; restarting (%d of %d allowed within %.0f s)",
                kernel.id, deaths, budget.limit - 1, budget.window,
            )  # fmt: skip
            with contextlib.suppress(Exception):  # logged, and the kernel removed, by restart
                await self._restart(kernel)
            return
        log.error("Kernel %s is dead; removing it", kernel.id)
        await self._remove(kernel, RuntimeError("kernel died"))
