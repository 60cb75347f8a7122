"""MappingKernelManager: every kernel of the server, by id, and their lifecycle.

Knows nothing of HTTP. Starts kernels through the KernelFinder's providers
(concurrently: nothing here serialises start-ups), watches them for death,
restarts them within bounds, and shuts them all down with the server.
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from traitlets import Bool, Dict, Enum, Float, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from .finder import KernelFinder, NoSuchKernel
from .persistence import KernelPersistence
from .pool import PoolConfigError, PoolKeeper, validate_pool
from .store import KernelStore
from .watching import KernelWatching

if TYPE_CHECKING:
    from .kernel import ManagedKernel
from ..timeutil import utcnow
from .providers.base import KernelStartError, LaunchRequest

__all__ = [
    "KernelStartError",
    "MappingKernelManager",
    "NoSuchKernel",
    "PoolConfigError",
    "UnknownKernel",
]


class UnknownKernel(KeyError):
    """No kernel with that id."""

    def __str__(self) -> str:
        return f"Kernel does not exist: {self.args[0]}"


class MappingKernelManager(KernelWatching, LoggingConfigurable):
    """The one kernel manager of a server."""

    root_dir = Unicode(help="Directory kernels start in when no path is given.").tag(config=True)
    default_kernel_name = Unicode("python3", help="Kernel started when none is named.").tag(
        config=True
    )
    kernel_start_timeout = Float(
        60.0, help="Seconds a kernel may take to answer kernel_info after launch."
    ).tag(config=True)
    wait_for_ready = Enum(
        ["first", "always", "never"],
        "first",
        help="When a start request answers. 'first': wait until the kernel is ready while its "
        "kernel type has not yet started successfully in this server (and again after one of "
        "its kernels failed at start-up), so a broken kernel is reported with its stderr; "
        "otherwise answer as soon as the process is launched. 'always': always wait. "
        "'never': never wait (start-up failures then reach clients as a dead kernel).",
    ).tag(config=True)
    autorestart = Bool(True, help="Restart kernels that die unexpectedly.").tag(config=True)
    restart_limit = Int(5, help="Deaths within restart_window after which a kernel is dead.").tag(
        config=True
    )
    restart_window = Float(60.0, help="Seconds over which restart_limit is counted.").tag(
        config=True
    )
    watch_interval = Float(1.0, help="Seconds between liveness checks of each kernel.").tag(
        config=True
    )
    cull_idle_timeout = Float(
        0.0,
        help="Shut down kernels idle for longer than this many seconds (0: never). Idle "
        "means no kernel output and no client message for that long.",
    ).tag(config=True)
    cull_interval = Float(300.0, help="Seconds between checks for idle kernels.").tag(config=True)
    cull_connected = Bool(
        False, help="Also cull idle kernels that still have websocket connections."
    ).tag(config=True)
    cull_busy = Bool(False, help="Also cull kernels whose last state was busy.").tag(config=True)
    pool = Dict(
        value_trait=Int(),
        help="Kernels kept started and ready per kernel name, e.g. {'python3': 2}.",
    ).tag(config=True)
    pool_size = Int(0, help="Pool size for the default kernel (shorthand for pool).").tag(
        config=True
    )
    replay_buffer_bytes = Int(
        10 * 1024 * 1024,
        help="Output kept per disconnected client session, replayed when it reconnects.",
    ).tag(config=True)
    replay_buffer_timeout = Float(
        3600.0, help="Seconds a disconnected client's output is kept for it."
    ).tag(config=True)
    shutdown_timeout = Float(
        10.0, help="Seconds a polite shutdown of all kernels may take before they are killed."
    ).tag(config=True)
    keep_kernels = Bool(
        False,
        help="Leave kernels running when the server stops (needs a sessions database on "
        "file); the next server on that database reattaches them.",
    ).tag(config=True)
    reattach_timeout = Float(
        10.0, help="Seconds a kernel found running at start-up may take to answer kernel_info."
    ).tag(config=True)

    @default("root_dir")
    def _default_root_dir(self) -> str:
        return os.getcwd()

    def __init__(self, finder_factory: Callable[[], KernelFinder], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._finder_factory = finder_factory
        self._finder: KernelFinder | None = None
        self._kernels: dict[str, ManagedKernel] = {}
        self._deaths: dict[str, deque[float]] = {}
        self._busy: set[str] = set()  # kernels in a restart or shutdown
        self._watcher: asyncio.Task | None = None
        self._background: set[asyncio.Future] = set()
        self._proven: set[str] = set()  # kernel types that have started successfully
        self._culler: asyncio.Task | None = None
        self._pool: PoolKeeper | None = None
        self._persistence: KernelPersistence | None = None
        #: Called with a kernel id whenever a kernel leaves the map (shutdown, death, cull).
        self.removal_listeners: list[Callable[[str], None]] = []
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

    def list_models(self) -> list[dict[str, Any]]:
        return [kernel.model() for kernel in self._kernels.values()]

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

    # --- lifecycle --------------------------------------------------------------

    async def _launch(
        self,
        name: str,
        cwd: str,
        env: dict[str, str],
        pooled: bool = False,
        environment: dict[str, Any] | None = None,
    ) -> ManagedKernel:
        """Launch through the providers and begin the readiness check (not yet listed)."""
        from .kernel import ManagedKernel  # zmq is loaded with the first kernel, not at start

        kernel_id = str(uuid.uuid4())
        persistent = self._persistence is not None
        request = LaunchRequest(
            kernel_id=kernel_id, cwd=cwd, env=env, persistent=persistent, environment=environment
        )
        found, launched = await self.finder.launch(name, request)
        kernel = ManagedKernel(kernel_id, found.name, launched)
        kernel.origin = (found.provider.id, found.kernel_type.name)
        if self._persistence is not None:
            self._persistence.watch(kernel)  # iopub through a keeper that outlives us
            self._persistence.save(kernel, pooled=pooled)
        else:
            kernel.start_watching()
        ready = kernel.begin_ready_check(self.kernel_start_timeout)
        ready.add_done_callback(lambda f: self._on_ready(kernel, f))
        self.log.info("Kernel launched: %s (%s) %s", kernel_id, found.name, launched.describe())
        self._ensure_watcher()
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
            kernel.start_request_waiting = True
            try:
                await asyncio.shield(kernel.ready_future)
            except Exception as exc:
                if kernel.shut_down_by_request:  # by another request while it started
                    raise UnknownKernel(kernel.id) from exc
                await self._discard(kernel, exc)  # (a no-op if its death removed it already)
                raise
            finally:
                kernel.start_request_waiting = False
        return kernel.id

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
        self._pool = PoolKeeper(
            sizes, functools.partial(self._launch, pooled=True), self.root_dir, forget
        )
        await self._pool.check(self.finder)
        self._pool.fill()

    def _on_ready(self, kernel: ManagedKernel, ready: asyncio.Future) -> None:
        if ready.cancelled():
            return
        if ready.exception() is None:
            self._proven.add(kernel.name)
            return
        self._proven.discard(kernel.name)  # make the next start of this type prove itself
        if (
            kernel.id in self._kernels
            and not kernel.closing
            and not kernel.start_request_waiting
            and kernel.id not in self._busy  # a restart in progress checks readiness itself
        ):
            self._late_start_failure(kernel, ready)

    def _late_start_failure(self, kernel: ManagedKernel, ready: asyncio.Future) -> None:
        """A kernel whose start request already answered failed to become ready."""
        self.log.error("%s", ready.exception())
        kernel.broadcast_status("dead")
        task = asyncio.ensure_future(self._discard(kernel, ready.exception()))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _discard(self, kernel: ManagedKernel, reason: BaseException) -> None:
        """Remove a kernel that failed: nothing of it may stay running."""
        if kernel.closing and kernel.id not in self._kernels:
            return
        self._forget(kernel.id)
        kernel.closing = True
        kernel.close_streams()
        try:
            await kernel.launched.shutdown(now=True)
        except Exception:
            self.log.exception("Could not clean up failed kernel %s", kernel.id)
        self.log.warning("Kernel %s removed: %s", kernel.id, str(reason).splitlines()[0])

    def _forget(self, kernel_id: str) -> None:
        if self._kernels.pop(kernel_id, None) is None:
            return
        self._deaths.pop(kernel_id, None)
        if self._persistence is not None:
            self._persistence.remove(kernel_id)
        for listener in self.removal_listeners:
            try:
                listener(kernel_id)
            except Exception:
                self.log.exception("Kernel removal listener failed for %s", kernel_id)

    async def wait_ready(self, kernel_id: str, timeout: float | None = None) -> ManagedKernel:
        kernel = self.get(kernel_id)
        await kernel.wait_ready(self.kernel_start_timeout if timeout is None else timeout)
        return kernel

    async def interrupt_kernel(self, kernel_id: str) -> None:
        kernel = self.get(kernel_id)
        if not kernel.is_ready:
            # Nothing of the user's runs yet, and SIGINT during start-up kills the kernel.
            self.log.info("Not interrupting kernel %s: it is still starting", kernel_id)
            return
        self.log.info("Interrupting kernel %s", kernel_id)
        await kernel.launched.interrupt()
        self._touch()

    async def restart_kernel(
        self, kernel_id: str, now: bool = False, after_death: bool = False
    ) -> ManagedKernel:
        """Restart and wait until the kernel answers again.

        A client's restart of a kernel that is still starting is not a failed
        start: the pending start-up check is stopped. After a death (``after_death``)
        a pending check is left to report the failed start to whoever waits for it.
        """
        kernel = self.get(kernel_id)
        self._busy.add(kernel_id)
        try:
            if after_death:
                kernel.mark_unready()
            else:
                kernel.stop_ready_check()
            kernel.broadcast_status("restarting")
            self.log.info("Restarting kernel %s", kernel_id)
            try:
                await kernel.launched.restart(now=now)
            except Exception as exc:
                if kernel.closing or kernel.id not in self._kernels:  # shut down meanwhile
                    raise UnknownKernel(kernel_id) from exc
                raise
            if self._persistence is not None:
                self._persistence.save(kernel)  # a new process: a new PID to find it by
            ready = kernel.begin_ready_check(self.kernel_start_timeout)
            await ready
        finally:
            self._busy.discard(kernel_id)
        self._touch()
        return kernel

    async def shutdown_kernel(self, kernel_id: str, now: bool = False) -> None:
        """Shut a kernel down (interrupt, shutdown_request, SIGTERM, SIGKILL) and forget it."""
        kernel = self.get(kernel_id)
        self._busy.add(kernel_id)
        kernel.closing = True
        kernel.shut_down_by_request = True
        try:
            await kernel.launched.shutdown(now=now)
        finally:
            self._busy.discard(kernel_id)
            self._forget(kernel_id)
            kernel.close_streams()
            for client in tuple(kernel.clients):
                client.close_for_kernel_shutdown()
            self._touch()
        self.log.info("Kernel shut down: %s", kernel_id)

    async def reattach_kernels(self) -> int:
        """Take back the kernels a previous server on this database left running."""
        if self._persistence is None:
            return 0
        kernels = await self._persistence.reattach_all(self.finder, self.reattach_timeout)
        for kernel in kernels:
            self._kernels[kernel.id] = kernel
            self._proven.add(kernel.name)
        if kernels:
            self._touch()
            self._ensure_watcher()
        return len(kernels)

    async def shutdown_all(self) -> None:
        """Stop every kernel, pooled ones too: politely in parallel, then by force.

        With ``keep_kernels`` (and kernels recorded on file) the handed-out kernels
        are left running for the next server; only the pool is stopped.
        """
        for task in (self._watcher, self._culler):
            if task is not None:
                task.cancel()
        pooled = self._pool.stop() if self._pool is not None else []
        if self.keep_kernels and self._persistence is not None:
            self._leave_running(pooled)
        for kernel in pooled:
            self._kernels[kernel.id] = kernel  # shut down like any other
        await self._shutdown_listed()
        if self._persistence is not None:
            await self._persistence.flush()

    def _leave_running(self, pooled: list[ManagedKernel]) -> None:
        kept = [k for k in self._kernels.values() if k not in pooled]
        self.log.info("Leaving %d kernel(s) running for the next server (--keep-kernels)",
                      len(kept))  # fmt: skip
        for kernel in kept:
            kernel.close_streams()  # clients are disconnected when the HTTP server closes
        self._kernels.clear()

    async def _shutdown_listed(self) -> None:
        ids = list(self._kernels)
        if not ids:
            return
        self.log.info("Shutting down %d kernel(s)", len(ids))
        tasks = [asyncio.ensure_future(self.shutdown_kernel(kid)) for kid in ids]
        _, pending = await asyncio.wait(tasks, timeout=self.shutdown_timeout)
        for task in pending:
            task.cancel()
        for kernel_id in list(self._kernels):
            kernel = self._kernels[kernel_id]
            self._forget(kernel_id)
            kernel.close_streams()
            await kernel.launched.shutdown(now=True)
