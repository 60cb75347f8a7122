"""Kernels that outlive the server: their records, and taking them back at start-up.

With the sessions database on file, every kernel is recorded (provider, kernel
type, connection info, what its provider needs to find it) when it is launched
or restarted, and forgotten when it leaves. A new server process asks each
record's provider to reattach the kernel, then proves it is the same kernel
with a kernel_info request signed with the stored key, on the control channel
so that a kernel busy with a long computation still answers.

Each recorded kernel's iopub is also relayed through the server's iopub keeper
process (``iopub_keeper.py``), which holds what the kernel publishes while no
server listens; a reattached kernel's relay then replays that output to the
clients whose requests produced it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..protocol.procs import live_argv, processes_with_env
from ..providers.base import KernelStartError
from .iopub_keeper import KeeperHandle, KeeperHost, keeper_runs
from .store import KernelRecord, KernelStore

if TYPE_CHECKING:
    from ..lifecycle.finder import KernelFinder
    from ..lifecycle.kernel import ManagedKernel

log = logging.getLogger("jls.kernels")

#: Set in the environment of every kernel launched with a store: the store's identity,
#: and the kernel's id (see ``KernelPersistence.stop_strays``).
OWNER_ENV = "JLS_KERNEL_STORE"
KERNEL_ID_ENV = "JLS_KERNEL_ID"


class KernelPersistence:
    """Writes kernel records in the background and reattaches them at start-up."""

    #: Seconds of heartbeat silence after which a keeper decides its kernel is gone.
    keeper_grace = 60.0

    def __init__(self, store: KernelStore, replay_bytes: int, replay_timeout: float) -> None:
        self.store = store
        self.replay_bytes = replay_bytes
        self.replay_timeout = replay_timeout
        self._pending: set[asyncio.Future] = set()
        self._keepers: dict[str, KeeperHandle] = {}
        self._keeper_host = KeeperHost()
        #: Kernels whose latest record could not be written: a next server could not
        #: find them, so they are stopped with this one rather than left running.
        self._unrecorded: set[str] = set()
        #: The ids of the records found at start-up (reattached or not).
        self._stored_ids: set[str] = set()

    def launch_env(self, kernel_id: str) -> dict[str, str]:
        """Variables that mark a kernel's processes as ours, so a next server can find
        (and stop) one whose record was never written."""
        return {OWNER_ENV: self.store.owner, KERNEL_ID_ENV: kernel_id}

    def recorded(self, kernel_id: str) -> bool:
        return kernel_id not in self._unrecorded

    def watch(self, kernel: ManagedKernel, keeper: KeeperHandle | None = None) -> None:
        """Subscribe ``kernel`` to its iopub through a keeper (a new one unless given)."""
        if keeper is None:
            keeper = self._keeper_host.add(
                kernel.id, kernel.launched.connection_info, self.replay_bytes, self.keeper_grace
            )
        self._keepers[kernel.id] = keeper
        kernel.replay_limits = (self.replay_bytes, self.replay_timeout)
        kernel.start_watching(keeper.url)

    def _in_background(self, coroutine, kernel_id: str) -> None:
        # Writes go to the database thread in the order they are made.
        task = asyncio.ensure_future(coroutine)
        self._pending.add(task)
        task.add_done_callback(lambda t: self._done(t, kernel_id))

    def _done(self, task: asyncio.Future, kernel_id: str) -> None:
        self._pending.discard(task)
        if task.cancelled():
            return
        if task.exception() is None:
            self._unrecorded.discard(kernel_id)
            return
        self._unrecorded.add(kernel_id)
        log.error("Could not update the record of kernel %s: %s. It will be stopped with "
                  "this server instead of being left running.", kernel_id, task.exception())

    async def record(self, kernel: ManagedKernel, pooled: bool = False) -> None:
        """Write the kernel's first record now: a launch is complete only once a next
        server could find the kernel. Raises what the store raised."""
        await self.store.save(self._record(kernel, pooled))

    async def record_new(self, kernel: ManagedKernel, pooled: bool = False) -> None:
        """Record a new kernel, or stop it: one no next server could find must not run."""
        try:
            await self.record(kernel, pooled)
        except Exception as exc:
            log.error("Stopping kernel %s: its record could not be written (%s)", kernel.id, exc)
            self.drop_keeper(kernel.id)
            await kernel.discard_unstarted()
            error = KernelStartError(f"The kernel was stopped: {exc}")
            error.http_status = getattr(exc, "http_status", 503)
            raise error from exc

    def leave_running(self, kernels: list[ManagedKernel], to_stop: list[ManagedKernel]) -> None:
        """Leave running, for the next server, the kernels it can find by their record;
        the others are appended to ``to_stop``."""
        kept = []
        for kernel in kernels:
            if kernel in to_stop:
                continue
            if self.recorded(kernel.id):
                kept.append(kernel)
                kernel.close_streams()  # clients are disconnected when the HTTP server closes
            else:
                to_stop.append(kernel)  # its record is missing or stale
        log.info("Leaving %d kernel(s) running for the next server (--keep-kernels)", len(kept))

    def save(self, kernel: ManagedKernel, pooled: bool = False) -> None:
        """Update the kernel's record in the background (restart, pool hand-out)."""
        self._in_background(self.store.save(self._record(kernel, pooled)), kernel.id)

    async def retire(self, kernel: ManagedKernel) -> None:
        """The kernel is being shut down: recorded as no client's (like a warm-pool
        kernel), so that a next server stops it if this one dies first."""
        try:
            await self.store.save(self._record(kernel, pooled=True))
        except Exception as exc:  # the shutdown goes on; only a crash now would leave it
            log.error("Could not record that kernel %s is being shut down: %s", kernel.id, exc)

    def drop_keeper(self, kernel_id: str) -> None:
        """Stop the keeper of a kernel that never got a record."""
        keeper = self._keepers.pop(kernel_id, None)
        if keeper is not None:
            keeper.stop()

    def _record(self, kernel: ManagedKernel, pooled: bool) -> KernelRecord:
        provider_id, type_name = kernel.origin
        return KernelRecord(
            kernel_id=kernel.id,
            name=kernel.name,
            provider_id=provider_id,
            type_name=type_name,
            connection_info=kernel.launched.connection_info,
            info=kernel.launched.reattach_info(),
            pooled=pooled,
            keeper=keeper.to_record() if (keeper := self._keepers.get(kernel.id)) else {},
        )

    def remove(self, kernel_id: str) -> None:
        """The kernel is gone for good: its record and its keeper go too."""
        keeper = self._keepers.pop(kernel_id, None)
        if keeper is not None:
            keeper.stop()
        self._unrecorded.discard(kernel_id)
        self._in_background(self.store.remove(kernel_id), kernel_id)

    async def flush(self) -> None:
        """Wait for every write made so far (before the server exits)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def close(self) -> None:
        """The server ends: its keeper takes no new kernels and relays on for the others."""
        self._keeper_host.close()

    # --- start-up ----------------------------------------------------------------

    async def stop_strays(self, grace: float = 5.0) -> int:
        """Stop the kernel processes an earlier server on this store launched but never
        recorded (it was killed, or its database failed, in between): nobody can reach
        them. Called after ``reattach_all`` and before anything is launched."""
        loop = asyncio.get_running_loop()
        marked = await loop.run_in_executor(
            None, processes_with_env, OWNER_ENV, self.store.owner
        )
        strays = [pid for pid, env in marked.items() if env.get(KERNEL_ID_ENV) not in
                  self._stored_ids and pid != os.getpid()]  # fmt: skip
        stopped = len(strays)
        for pid in strays:
            log.warning("Stopping process %d: a kernel (%s) an earlier server launched on %s "
                        "but never recorded", pid, marked[pid].get(KERNEL_ID_ENV),
                        self.store.owner)  # fmt: skip
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = loop.time() + grace
        while strays and loop.time() < deadline:
            await asyncio.sleep(0.1)
            strays = [pid for pid in strays if live_argv(pid) is not None]
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return stopped

    async def reattach_all(
        self,
        finder: KernelFinder,
        timeout: float,
        before_watching: Callable[[ManagedKernel], None] | None = None,
    ) -> list[ManagedKernel]:
        """Every stored kernel still running and answering with its key, concurrently."""
        records = await self.store.load_all()
        self._stored_ids = {record.kernel_id for record in records}
        if not records:
            return []
        log.info("Reattaching %d stored kernel(s)", len(records))
        found = await asyncio.gather(
            *(self._reattach(finder, r, timeout, before_watching) for r in records)
        )
        return [kernel for kernel in found if kernel is not None]

    async def _reattach(
        self,
        finder: KernelFinder,
        record: KernelRecord,
        timeout: float,
        before_watching: Callable[[ManagedKernel], None] | None = None,
    ) -> ManagedKernel | None:
        from ..lifecycle.kernel import ManagedKernel

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
        keeper = None
        if keeper_runs(record.keeper, record.kernel_id):
            keeper = KeeperHandle(pid=record.keeper["pid"], url=record.keeper["url"],
                                  kernel_id=record.kernel_id,
                                  shared=bool(record.keeper.get("shared")))  # fmt: skip
        if launched is None or record.pooled:
            if launched is None:
                log.info("Kernel %s is no longer running; forgetting it", label)
            else:  # never handed out: nobody's state to keep
                log.info("Stopping kernel %s: the previous server had it in its warm pool or "
                         "was shutting it down", label)  # fmt: skip
                await launched.shutdown(now=True)
            if keeper is not None:
                keeper.stop()
            await self.store.remove(record.kernel_id)
            return None
        kernel = ManagedKernel(record.kernel_id, record.name, launched)
        kernel.origin = (record.provider_id, record.type_name)
        if keeper is None:
            log.warning("Kernel %s has no running iopub keeper: output it produced while no "
                        "server was running is lost; starting a new keeper", label)  # fmt: skip
        if before_watching is not None:  # e.g. follow requests before any replay arrives
            before_watching(kernel)
        self.watch(kernel, keeper)
        try:
            await kernel.begin_ready_check(timeout, channel="control")
        except (KernelStartError, TimeoutError) as exc:
            kernel.close_streams()
            self._keepers.pop(kernel.id, None)  # left running with its kernel
            log.error(
                "Kernel %s runs but did not answer a kernel_info request signed with its stored "
                "key within %.0f s (%s): the key no longer matches, or the kernel hangs. It is "
                "not reattached and is left running; stop it by its PID if it is not needed.",
                label, timeout, exc,
            )  # fmt: skip
            return None
        if await kernel.answers_on_shell(0.5):
            kernel.execution_state = "idle"
        else:
            kernel.execution_state = "busy"  # a computation outlived the old server
        if keeper is None:
            self.save(kernel)  # the new keeper's pid and url
        log.info("Kernel reattached: %s, %s; output kept for %d client session(s)",
                 label, kernel.execution_state, len(kernel.parked))  # fmt: skip
        return kernel
