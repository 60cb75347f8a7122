"""Kernels that outlive the server: their records, and taking them back at start-up.

With the sessions database on file, every kernel is recorded (provider, kernel
type, connection info, what its provider needs to find it) when it is launched
or restarted, and forgotten when it leaves. A new server process asks each
record's provider to reattach the kernel, then proves it is the same kernel
with a kernel_info request signed with the stored key, on the control channel
so that a kernel busy with a long computation still answers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .providers.base import KernelStartError
from .store import KernelRecord, KernelStore

if TYPE_CHECKING:
    from .finder import KernelFinder
    from .kernel import ManagedKernel

log = logging.getLogger("jls.kernels")


class KernelPersistence:
    """Writes kernel records in the background and reattaches them at start-up."""

    def __init__(self, store: KernelStore) -> None:
        self.store = store
        self._pending: set[asyncio.Future] = set()

    def _in_background(self, coroutine) -> None:
        # Writes go to the database thread in the order they are made.
        task = asyncio.ensure_future(coroutine)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Could not update the kernel records: %s", task.exception())

    def save(self, kernel: ManagedKernel, pooled: bool = False) -> None:
        provider_id, type_name = kernel.origin
        record = KernelRecord(
            kernel_id=kernel.id,
            name=kernel.name,
            provider_id=provider_id,
            type_name=type_name,
            connection_info=kernel.launched.connection_info,
            info=kernel.launched.reattach_info(),
            pooled=pooled,
        )
        self._in_background(self.store.save(record))

    def remove(self, kernel_id: str) -> None:
        self._in_background(self.store.remove(kernel_id))

    async def flush(self) -> None:
        """Wait for every write made so far (before the server exits)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    # --- start-up ----------------------------------------------------------------

    async def reattach_all(self, finder: KernelFinder, timeout: float) -> list[ManagedKernel]:
        """Every stored kernel still running and answering with its key, concurrently."""
        records = await self.store.load_all()
        if not records:
            return []
        log.info("Reattaching %d stored kernel(s)", len(records))
        found = await asyncio.gather(*(self._reattach(finder, r, timeout) for r in records))
        return [kernel for kernel in found if kernel is not None]

    async def _reattach(
        self, finder: KernelFinder, record: KernelRecord, timeout: float
    ) -> ManagedKernel | None:
        from .kernel import ManagedKernel

        label = f"{record.kernel_id} ({record.name}, {record.info.get('pid', '?')})"
        connection = dict(record.connection_info)
        try:
            connection["key"] = KernelRecord.key_bytes(connection.get("key", ""))
            launched = await finder.reattach(
                record.provider_id, record.type_name, record.kernel_id, connection, record.info
            )
        except Exception as exc:
            log.error(
                "Kernel %s cannot be reattached: %s. Its record is kept and the kernel, if it "
                "still runs, is left alone.", label, exc,
            )  # fmt: skip
            return None
        if launched is None:
            log.info("Kernel %s is no longer running; forgetting it", label)
            await self.store.remove(record.kernel_id)
            return None
        if record.pooled:  # never handed out: nobody's state to keep
            log.info("Stopping kernel %s left in the warm pool by the previous server", label)
            await launched.shutdown(now=True)
            await self.store.remove(record.kernel_id)
            return None
        kernel = ManagedKernel(record.kernel_id, record.name, launched)
        kernel.origin = (record.provider_id, record.type_name)
        kernel.start_watching()
        try:
            await kernel.begin_ready_check(timeout, channel="control")
        except (KernelStartError, TimeoutError) as exc:
            kernel.close_streams()
            log.error(
                "Kernel %s runs but did not answer a kernel_info request signed with its stored "
                "key within %.0f s (%s): the key no longer matches, or the kernel hangs. It is "
                "not reattached and is left running; stop it by its PID if it is not needed.",
                label, timeout, exc,
            )  # fmt: skip
            return None
        if not await kernel.answers_on_shell(0.5):
            kernel.execution_state = "busy"  # a computation outlived the old server
        log.info("Kernel reattached: %s, %s", label, kernel.execution_state)
        return kernel
