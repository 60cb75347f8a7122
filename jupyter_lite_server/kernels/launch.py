"""Putting a kernel into service (launched, connected, recorded), back into it after a
restart, and out of it.

A kernel is only handed to the manager once nothing can strand it: launched
through the providers (with the variables that mark it as ours when kernels
outlive the server), subscribed to (through an iopub keeper when they do),
recorded so a next server can find it, and its readiness check begun. If a
step after the launch fails (no descriptor left for its sockets, a database
error), the process is stopped before the error is raised.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any

from .lifecycle.finder import KernelFinder
from .lifecycle.state import KernelState, UnknownKernel
from .persistence import KernelPersistence
from .providers.base import KernelStartError, LaunchRequest

if TYPE_CHECKING:
    from .lifecycle.kernel import ManagedKernel

log = logging.getLogger("jls.kernels")


async def launch_into_service(
    finder: KernelFinder,
    persistence: KernelPersistence | None,
    name: str,
    cwd: str,
    env: dict[str, str],
    start_timeout: float,
    pooled: bool = False,
    environment: dict[str, Any] | None = None,
) -> tuple[ManagedKernel, asyncio.Future[None]]:
    """A launched, connected (and recorded) kernel, and its readiness check."""
    from .lifecycle.kernel import ManagedKernel  # zmq loads with the first kernel

    kernel_id = str(uuid.uuid4())
    if persistence is not None:
        env = {**env, **persistence.launch_env(kernel_id)}
    request = LaunchRequest(
        kernel_id=kernel_id, cwd=cwd, env=env, persistent=persistence is not None,
        environment=environment,
    )  # fmt: skip
    found, launched = await finder.launch(name, request)
    kernel = ManagedKernel(kernel_id, found.name, launched)
    kernel.origin = (found.provider.id, found.kernel_type.name)
    try:
        if persistence is not None:
            persistence.watch(kernel)  # iopub through a keeper that outlives us
            await persistence.record_new(kernel, pooled)
        else:
            kernel.start_watching()
        ready = kernel.begin_ready_check(start_timeout)
    except KernelStartError:
        raise  # already stopped
    except Exception as exc:  # e.g. no file descriptor left for its sockets
        log.error("Stopping kernel %s: it could not be connected (%s)", kernel_id, exc)
        if persistence is not None:
            persistence.drop_keeper(kernel_id)
        await kernel.discard_unstarted()
        raise KernelStartError(f"The kernel could not be connected: {exc}") from exc
    log.info("Kernel launched: %s (%s) %s", kernel_id, found.name, launched.describe())
    return kernel, ready


async def restart_in_service(
    kernel: ManagedKernel, persistence: KernelPersistence | None, now: bool, start_timeout: float
) -> None:
    """A new process for the same kernel: recorded (a new PID to find it by), then
    checked until it answers. UnknownKernel if it was shut down meanwhile."""
    await kernel.launched.restart(now=now)
    if kernel.lifecycle.is_ending:
        raise UnknownKernel(kernel.id)
    if persistence is not None:
        persistence.save(kernel)
    await kernel.begin_ready_check(start_timeout)


async def stop_out_of_service(
    kernel: ManagedKernel,
    persistence: KernelPersistence | None,
    now: bool,
    committed: asyncio.Future[None],
) -> None:
    """Stop a kernel whose shutdown is committed (no longer listed): its record marked
    "to be stopped" first (``committed`` then resolves: the DELETE may answer), then
    the escalation, then GONE and the record deleted. Failures are logged: nobody is
    waiting for an answer any more."""
    try:
        if persistence is not None:
            await persistence.retire(kernel)  # on disk before anyone hears "gone"
    finally:
        if not committed.done():
            committed.set_result(None)
    try:
        await kernel.launched.shutdown(now=now)
    except Exception as exc:
        log.error("Kernel %s: stopping its process failed: %s", kernel.id, exc)
        return
    finally:
        kernel.close_streams()
        if persistence is not None:
            persistence.remove(kernel.id)
        kernel.lifecycle.to(KernelState.GONE)
    log.info("Kernel shut down: %s", kernel.id)
