"""Liveness and culling for the MappingKernelManager, kept apart from its lifecycle.

Every ``watch_interval`` seconds each kernel not being started, restarted or shut
down is asked ``is_alive()``; a death is restarted (within ``restart_limit`` per
``restart_window``) or declared ``dead``. Idle kernels are culled as configured.
These methods run on the manager's own state (a mixin, not a second owner).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import TYPE_CHECKING

from ..timeutil import utcnow

if TYPE_CHECKING:
    from .kernel import ManagedKernel


class KernelWatching:
    """The watcher and culler tasks of MappingKernelManager."""

    # --- death watch ------------------------------------------------------------

    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch())
        if self.cull_idle_timeout > 0 and (self._culler is None or self._culler.done()):
            self._culler = asyncio.ensure_future(self._cull())

    async def _cull(self) -> None:
        """Shut down idle kernels, with jupyter_server's rules for connected and busy ones."""
        while self._kernels:
            await asyncio.sleep(self.cull_interval)
            now = utcnow()
            for kernel in list(self._kernels.values()):
                idle_for = (now - kernel.last_activity).total_seconds()
                if (
                    idle_for > self.cull_idle_timeout
                    and (self.cull_busy or kernel.execution_state != "busy")
                    and (self.cull_connected or not kernel.clients)
                    and kernel.id not in self._busy
                ):
                    self.log.warning(
                        "Culling kernel %s (%s): idle for %.0f s, %d connection(s), state %s",
                        kernel.id, kernel.name, idle_for, len(kernel.clients),
                        kernel.execution_state,
                    )  # fmt: skip
                    with contextlib.suppress(KeyError):  # UnknownKernel: gone meanwhile
                        await self.shutdown_kernel(kernel.id)

    async def _watch(self) -> None:
        while self._kernels or (self._pool is not None and self._pool.pool.all_kernels()):
            await asyncio.sleep(self.watch_interval)
            if self._pool is not None:
                await self._pool.watch()
            candidates = [
                k for k in self._kernels.values() if k.id not in self._busy and not k.closing
            ]
            alive = await asyncio.gather(
                *(k.launched.is_alive() for k in candidates), return_exceptions=True
            )
            for kernel, is_alive in zip(candidates, alive, strict=True):
                if is_alive is False and kernel.id in self._kernels and kernel.id not in self._busy:
                    await self._on_death(kernel)

    async def _on_death(self, kernel: ManagedKernel) -> None:
        deaths = self._deaths.setdefault(kernel.id, deque())
        now = time.monotonic()
        deaths.append(now)
        while deaths and now - deaths[0] > self.restart_window:
            deaths.popleft()
        if self.autorestart and len(deaths) < self.restart_limit:
            self.log.warning(
                "Kernel %s died unexpectedly; restarting (%d of %d allowed within %.0f s)",
                kernel.id, len(deaths), self.restart_limit - 1, self.restart_window,
            )  # fmt: skip
            try:
                await self.restart_kernel(kernel.id, now=True, after_death=True)
                return
            except Exception as exc:
                self.log.error("Restarting kernel %s failed: %s", kernel.id, exc)
        self.log.error(
            "Kernel %s is dead; removing it. %s", kernel.id, kernel.launched.failure_details()
        )
        kernel.broadcast_status("dead")
        await self._discard(kernel, RuntimeError("kernel died"))
