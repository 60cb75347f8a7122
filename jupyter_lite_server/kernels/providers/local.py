"""Kernels run as local processes through jupyter_client 8.

jupyter_client's kernel manager does the lifecycle the reference architecture
describes: it honours ``interrupt_mode`` (SIGINT or ``interrupt_request``),
shuts down with ``shutdown_request`` then SIGTERM then SIGKILL, and releases
ports and the connection file; kernelspec ``kernel_provisioner`` metadata
selects the provisioner. We add an stderr reader so that a kernel which dies
at start-up can be reported with what it printed.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import subprocess
from collections.abc import Callable
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir

from .base import KernelStartError, LaunchedKernel, LaunchRequest

log = logging.getLogger("jls.kernels")

STDERR_TAIL_LINES = 40


class _FastShutdownKernelManager(AsyncKernelManager):
    """jupyter_client's manager, polling for process exit every 10 ms instead of 100 ms.

    Same shutdown steps; a kernel that exits promptly after ``shutdown_request``
    is noticed sooner. The plain AsyncKernelManager has no restarter of its
    own: deaths are the MappingKernelManager's business, so that a dead kernel
    is never restarted twice by two watchers.
    """

    async def _async_finish_shutdown(
        self, waittime: float | None = None, pollinterval: float = 0.01, restart: bool = False
    ) -> None:
        await super()._async_finish_shutdown(waittime, pollinterval, restart)


class _OneSpecManager(KernelSpecManager):
    """Hands jupyter_client's manager a kernelspec we already hold."""

    def __init__(self, spec: KernelSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._spec = spec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self._spec


class _StderrReader(asyncio.Protocol):
    """Forwards a kernel's stderr to the log and keeps its last lines."""

    def __init__(self, label: str, tail: collections.deque[str]) -> None:
        self._label = label
        self._tail = tail
        self._partial = b""
        self.listener: Callable[[str], None] | None = None

    def data_received(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            self._emit(raw)

    def eof_received(self) -> bool:
        if self._partial:
            self._emit(self._partial)
            self._partial = b""
        return False

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        self._tail.append(line)
        log.info("[kernel %s] %s", self._label, line)
        if self.listener is not None:
            self.listener(line)


class LocalKernel(LaunchedKernel):
    """A kernel process on this machine, driven by jupyter_client."""

    def __init__(self, manager: _FastShutdownKernelManager, label: str) -> None:
        self._km = manager
        self._label = label
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._reader: _StderrReader | None = None
        self._transport: asyncio.BaseTransport | None = None
        self.connection_info = manager.get_connection_info(session=False)

    async def _attach_stderr(self) -> None:
        """Read the (new) process's stderr pipe without blocking the loop."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        process = getattr(self._km.provisioner, "process", None)
        pipe = getattr(process, "stderr", None)
        if pipe is None:
            return
        listener = self._reader.listener if self._reader else None
        self._reader = _StderrReader(self._label, self._tail)
        self._reader.listener = listener
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.connect_read_pipe(lambda: self._reader, pipe)

    async def interrupt(self) -> None:
        await self._km.interrupt_kernel()

    async def restart(self, now: bool = False) -> None:
        await self._km.restart_kernel(now=now)
        await self._attach_stderr()

    async def shutdown(self, now: bool = False) -> None:
        try:
            await self._km.shutdown_kernel(now=now)
        finally:
            # Let the reader drain what the process printed on its way out.
            await asyncio.sleep(0)
            if self._transport is not None:
                self._transport.close()
                self._transport = None

    async def is_alive(self) -> bool:
        return await self._km.is_alive()

    def describe(self) -> dict[str, Any]:
        process = getattr(self._km.provisioner, "process", None)
        return {"pid": getattr(process, "pid", None), "connection_file": self._km.connection_file}

    @property
    def pid(self) -> int | None:
        return self.describe()["pid"]

    def failure_details(self) -> str:
        return "\n".join(self._tail)

    def set_output_listener(self, listener: Callable[[str], None] | None) -> None:
        if self._reader is not None:
            self._reader.listener = listener


async def launch_local(
    spec: KernelSpec, name: str, request: LaunchRequest, spec_manager: KernelSpecManager | None
) -> LocalKernel:
    """Start ``spec`` as a local process in ``request.cwd``."""
    runtime_dir = jupyter_runtime_dir()
    os.makedirs(runtime_dir, mode=0o700, exist_ok=True)
    manager = _FastShutdownKernelManager(
        kernel_name=name,
        kernel_spec_manager=_OneSpecManager(spec, parent=spec_manager),
        connection_file=os.path.join(runtime_dir, f"kernel-{request.kernel_id}.json"),
    )
    env = {**os.environ, **request.env}
    kernel = None
    try:
        await manager.start_kernel(cwd=request.cwd, env=env, stderr=subprocess.PIPE)
        kernel = LocalKernel(manager, request.kernel_id[:8])
        await kernel._attach_stderr()
    except Exception as exc:
        detail = kernel.failure_details() if kernel else ""
        if manager.has_kernel:
            await manager.shutdown_kernel(now=True)
        else:
            await manager.cleanup_resources()
        message = f"Kernel {name!r} failed to launch: {exc}"
        raise KernelStartError(f"{message}\n{detail}".strip()) from exc
    return kernel
