"""MappingKernelManager: every kernel of the server, by id, and their lifecycle.

Knows nothing of HTTP. Starts kernels through the KernelFinder's providers
(concurrently: nothing here serialises start-ups), watches them for death,
restarts them within bounds, and shuts them all down with the server.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..timeutil import utcnow
from .launch import launch_into_service, restart_in_service, stop_out_of_service
from .lifecycle.finder import KernelFinder, NoSuchKernel
from .lifecycle.state import KernelState, UnknownKernel
from .lifecycle.watch import Culler, CullRules, DeathPolicy, DeathWatch, RestartBudget
from .options import KernelManagerOptions
from .persistence import KernelPersistence
from .persistence.store import KernelStore
from .pool import PoolConfigError, WarmPool, validate_pool
from .providers.base import KernelStartError
from .stats import KernelStats

if TYPE_CHECKING:
    from .lifecycle.kernel import ManagedKernel

__all__ = [
    "KernelStartError", "MappingKernelManager", "NoSuchKernel", "PoolConfigError", "UnknownKernel",
]  # fmt: skip


class MappingKernelManager(KernelManagerOptions):
    """The one kernel manager of a server."""

    def __init__(self, finder_factory: Callable[[], KernelFinder], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._finder_factory = finder_factory
        self._finder: KernelFinder | None = None
        self._kernels: dict[str, ManagedKernel] = {}
        #: Shutdowns committed (the kernel no longer listed) whose process still stops.
        self._closing: dict[asyncio.Future[None], ManagedKernel] = {}
        self._proven: set[str] = set()  # kernel types that have started successfully
        self._pool: WarmPool | None = None
        self._persistence: KernelPersistence | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self.stats = KernelStats(lambda: tuple(self._kernels.values()))
        self._deaths = DeathPolicy(
            RestartBudget(self.restart_limit, self.restart_window) if self.autorestart else None,
            restart=lambda kernel: self.restart_kernel(kernel.id, now=True, after_death=True),
            remove=self._remove_failed,
            count=self.stats.deaths,
        )
        self._death_watch = DeathWatch(
            lambda: tuple(self._kernels.values()),
            self._deaths.handle,
            self.watch_interval,
            keep_running=lambda: bool(self._kernels or (self._pool and self._pool.has_kernels())),
            also_each_round=lambda: self._pool.watch() if self._pool else asyncio.sleep(0),
        )
        self._culler = Culler(
            lambda: tuple(self._kernels.values()),
            self.shutdown_kernel,
            CullRules(
                self.cull_idle_timeout, self.cull_interval, self.cull_connected, self.cull_busy
            ),
        )
        #: Called with a kernel id whenever a kernel leaves the map (shutdown, death, cull).
        self.removal_listeners: list[Callable[[str], None]] = []
        #: Called with each reattached kernel before its iopub (and replay) is read.
        self.before_reattached_watch: Callable[[ManagedKernel], None] | None = None
        self._last_event = utcnow()

    @property
    def finder(self) -> KernelFinder:
        """Providers are loaded on first use, keeping them out of the cold start."""
        if self._finder is None:
            self._finder = self._finder_factory()
        return self._finder

    def remember_kernels_in(self, store: KernelStore) -> None:
        """Record kernels in ``store`` and launch them able to outlive this process."""
        self._persistence = KernelPersistence(
            store, self.replay_buffer_bytes, self.replay_buffer_timeout
        )

    # --- queries ----------------------------------------------------------------

    def __contains__(self, kernel_id: str) -> bool:
        return kernel_id in self._kernels

    def __len__(self) -> int:
        return len(self._kernels)

    def get(self, kernel_id: str) -> ManagedKernel:
        try:
            return self._kernels[kernel_id]
        except KeyError:
            raise UnknownKernel(kernel_id) from None

    def kernels(self) -> tuple[ManagedKernel, ...]:
        return tuple(self._kernels.values())

    def list_models(self) -> list[dict[str, Any]]:
        return [kernel.model() for kernel in self._kernels.values()]

    def pool_counts(self) -> tuple[int, int]:
        """(ready kernels in the warm pool, kernels handed out from it so far)."""
        if self._pool is None:
            return 0, 0
        return len(self._pool.pool.all_kernels()), self._pool.handed_out

    def total_connections(self) -> int:
        return sum(len(kernel.clients) for kernel in self._kernels.values())

    def _touch(self) -> None:
        """A lifecycle event (start, restart, shutdown...) happened now."""
        self._last_event = utcnow()

    @property
    def last_activity(self) -> datetime:
        """The latest of our own events and every kernel's activity (output, client message).

        Derived when asked rather than updated on every message of the hot path.
        """
        return max([self._last_event, *(k.last_activity for k in self._kernels.values())])

    def _watch(self) -> None:
        self._death_watch.ensure_running()
        self._culler.ensure_running()

    # --- start ------------------------------------------------------------------

    async def _launch(
        self,
        name: str,
        cwd: str,
        env: dict[str, str],
        pooled: bool = False,
        environment: dict[str, Any] | None = None,
    ) -> ManagedKernel:
        """Launch and connect a kernel, and begin its readiness check (not yet listed)."""
        kernel, ready = await launch_into_service(
            self.finder, self._persistence, name, cwd, env, self.kernel_start_timeout,
            pooled=pooled, environment=environment,
        )  # fmt: skip
        ready.add_done_callback(lambda f: self._on_start_checked(kernel, f))
        self._watch()
        return kernel

    async def start_kernel(
        self,
        name: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        environment: dict[str, Any] | None = None,
    ) -> str:
        """Start (or take from the pool) a kernel; return its id.

        ``environment`` is a recorded ``LaunchedKernel.environment()`` to start again
        (never served from the pool). A fresh kernel's request answers once it is
        ready when ``wait_for_ready`` says so.
        """
        name = name or self.default_kernel_name
        cwd = cwd or self.root_dir
        env = env or {}
        pooled = None
        if self._pool is not None and environment is None:
            pooled = await self._pool.take(name, cwd, env)
        if pooled is not None:
            self._kernels[pooled.id] = pooled
            if self._persistence is not None:
                self._persistence.save(pooled)  # no longer a pool kernel: keep it on restart
            self._touch()
            return pooled.id
        kernel = await self._launch(name, cwd, env, environment=environment)
        self._kernels[kernel.id] = kernel
        self._touch()
        mode = self.wait_for_ready
        if mode == "always" or (mode == "first" and kernel.name not in self._proven):
            try:
                await kernel.lifecycle.wait_ready()
            except Exception as exc:
                await kernel.lifecycle.wait_gone()  # the failure path removes it
                if kernel.lifecycle.ended_as is KernelState.CLOSING:  # shut down meanwhile
                    raise UnknownKernel(kernel.id) from exc
                raise
        return kernel.id

    def _on_start_checked(self, kernel: ManagedKernel, ready: asyncio.Future[None]) -> None:
        """The first readiness check ended: prove the type, or fail the start."""
        if ready.cancelled():
            return
        if ready.exception() is None:
            self._proven.add(kernel.name)
            return
        self._proven.discard(kernel.name)  # make the next start of this type prove itself
        # Only a kernel still STARTING failed its start: a restart reports its own
        # failure, and a kernel that is ending is being removed already.
        if kernel.state is KernelState.STARTING:
            self.log.error("%s", ready.exception())
            self._in_background(self._remove_failed(kernel, ready.exception()))

    def _in_background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _remove_failed(self, kernel: ManagedKernel, reason: BaseException | None) -> None:
        """DEAD: tell clients, stop whatever of it runs, forget it. Idempotent."""
        if not kernel.lifecycle.try_to(KernelState.DEAD):
            await kernel.lifecycle.wait_gone()  # ending already: wait for that
            return
        kernel.broadcast_status("dead")
        self._forget(kernel.id)
        kernel.close_streams()
        try:
            await kernel.launched.shutdown(now=True)
        except Exception:
            self.log.exception("Could not clean up failed kernel %s", kernel.id)
        finally:
            kernel.lifecycle.to(KernelState.GONE)
        self.log.warning("Kernel %s removed: %s", kernel.id, str(reason).splitlines()[0])

    def _forget(self, kernel_id: str, closing: bool = False) -> None:
        """No longer list the kernel; ``closing``: its process is still to be stopped."""
        kernel = self._kernels.pop(kernel_id, None)
        if kernel is None:
            return
        self.stats.kernel_removed(kernel)
        self._deaths.forget(kernel_id)
        if self._persistence is not None and not closing:
            self._persistence.remove(kernel_id)
        for listener in self.removal_listeners:
            try:
                listener(kernel_id)
            except Exception:
                self.log.exception("Kernel removal listener failed for %s", kernel_id)

    # --- warm pool ---------------------------------------------------------------

    async def start_pool(self) -> None:
        """Check the pool configuration (a clear error if it cannot work) and fill it."""
        sizes = dict(self.pool)
        if self.pool_size:
            sizes[self.default_kernel_name] = self.pool_size
        sizes = validate_pool(sizes)
        if not sizes:
            return
        forget = self._persistence.remove if self._persistence is not None else None
        self._pool = WarmPool(
            sizes, functools.partial(self._launch, pooled=True), self.root_dir, forget
        )
        await self._pool.check(self.finder)
        self._pool.fill()

    # --- interrupt, restart, shutdown ----------------------------------------------

    async def interrupt_kernel(self, kernel_id: str) -> None:
        kernel = self.get(kernel_id)
        if not kernel.is_ready:
            # Nothing of the user's runs yet, and SIGINT during start-up kills the kernel.
            self.log.info("Not interrupting kernel %s: it is %s", kernel_id, kernel.state.value)
            return
        self.log.info("Interrupting kernel %s", kernel_id)
        await kernel.launched.interrupt()
        self._touch()

    async def restart_kernel(
        self, kernel_id: str, now: bool = False, after_death: bool = False
    ) -> ManagedKernel:
        """Restart and wait until the kernel answers again (RESTARTING, then READY).

        A client's restart of a kernel that is still starting is not a failed
        start: the pending start-up check is stopped and whoever waits for the
        start waits for the restarted kernel. A restart that fails leaves the
        kernel DEAD and removed; one that races a shutdown answers UnknownKernel.
        """
        kernel = self.get(kernel_id)
        if not kernel.lifecycle.try_to(KernelState.RESTARTING):
            if kernel.lifecycle.is_ending:
                raise UnknownKernel(kernel_id)
            return await self._join_restart(kernel)  # one is under way: its outcome is ours
        kernel.stop_ready_check()
        self.stats.restarts["death" if after_death else "client"] += 1
        if after_death:  # as jupyter_server: JupyterLab reads "restarting" as "it died"
            kernel.broadcast_status("restarting")
        else:
            kernel.execution_state = "restarting"
        self.log.info("Restarting kernel %s%s", kernel_id, " after it died" * after_death)
        try:
            await restart_in_service(kernel, self._persistence, now, self.kernel_start_timeout)
        except Exception as exc:
            if kernel.lifecycle.ended_as is KernelState.CLOSING:  # shut down meanwhile
                raise UnknownKernel(kernel_id) from exc
            self.log.error("Restarting kernel %s failed: %s", kernel_id, exc)
            await self._remove_failed(kernel, exc)
            raise
        self._touch()
        return kernel

    async def _join_restart(self, kernel: ManagedKernel) -> ManagedKernel:
        try:
            await kernel.lifecycle.wait_ready(self.kernel_start_timeout)
        except Exception as exc:
            if kernel.lifecycle.ended_as is KernelState.CLOSING:
                raise UnknownKernel(kernel.id) from exc
            raise KernelStartError(f"Restarting kernel {kernel.id} failed: {exc}") from exc
        return kernel

    async def shutdown_kernel(self, kernel_id: str, now: bool = False, wait: bool = True) -> None:
        """Shut a kernel down (interrupt, shutdown_request, SIGTERM, SIGKILL) and forget it.

        The shutdown is committed at once: the kernel is no longer listed, its clients
        are closed, and its record (with a sessions database) says it is to be stopped,
        so that a server that dies before the process is gone stops it at the next
        start. ``wait=False`` returns then (a DELETE answers); the escalation goes on in
        the background, and ``shutdown_all`` waits for it.
        """
        kernel = self.get(kernel_id)
        if not kernel.lifecycle.try_to(KernelState.CLOSING):
            if wait:
                await kernel.lifecycle.wait_gone()  # another request got there first
            return
        kernel.stop_ready_check()
        self._forget(kernel_id, closing=True)
        for client in tuple(kernel.clients):
            client.close_for_kernel_shutdown()
        self._touch()
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Listed as closing before anything is awaited: shutdown_all must see it.
        task = asyncio.ensure_future(
            stop_out_of_service(kernel, self._persistence, now, committed)
        )
        self._closing[task] = kernel
        task.add_done_callback(self._closing.pop)
        await (task if wait else committed)

    # --- kernels of an earlier server, and the end of this one -----------------------

    async def reattach_kernels(self) -> int:
        """Take back the kernels a previous server on this database left running."""
        if self._persistence is None:
            return 0
        kernels = await self._persistence.reattach_all(
            self.finder, self.reattach_timeout, self.before_reattached_watch
        )
        await self._persistence.stop_strays()
        for kernel in kernels:
            self._kernels[kernel.id] = kernel
            self._proven.add(kernel.name)
        if kernels:
            self._touch()
            self._watch()
        return len(kernels)

    async def shutdown_all(self) -> None:
        """Stop every kernel, pooled ones too: politely in parallel, then by force.

        With ``keep_kernels`` (and kernels recorded on file) the handed-out kernels
        are left running for the next server; only the pool is stopped.
        """
        self._death_watch.stop()
        self._culler.stop()
        to_stop = self._pool.stop() if self._pool is not None else []
        if self.keep_kernels and self._persistence is not None:
            await self._persistence.flush()  # which records were written decides what stays
            self._persistence.leave_running(list(self._kernels.values()), to_stop)
            self._kernels.clear()
        for kernel in to_stop:
            self._kernels[kernel.id] = kernel  # shut down like any other
        await self._shutdown_listed()
        if self._finder is not None:
            await self._finder.close()
        if self._persistence is not None:
            await self._persistence.flush()
            self._persistence.close()

    async def _shutdown_listed(self) -> None:
        """Stop the listed kernels, and wait for those already being shut down."""
        kernels = list(self._kernels.values())
        if not kernels and not self._closing:
            return
        self.log.info("Shutting down %d kernel(s)", len(kernels) + len(self._closing))
        closing = list(self._closing.values())
        tasks = [asyncio.ensure_future(self.shutdown_kernel(k.id)) for k in kernels]
        _, pending = await asyncio.wait([*tasks, *self._closing], timeout=self.shutdown_timeout)
        # Whatever did not stop politely in time is killed. Listed before anything is
        # awaited: a cancelled shutdown marks its kernel GONE without having stopped it.
        stragglers = [k for k in kernels + closing if k.state is not KernelState.GONE]
        for task in pending:
            task.cancel()
        for kernel in stragglers:
            self._forget(kernel.id)
            kernel.close_streams()
            await kernel.launched.shutdown(now=True)
