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
import contextlib
import logging
import os
import subprocess
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.paths import jupyter_runtime_dir

from ...compat.jupyter_client import (
    FastShutdownKernelManager,
    LeanKernelSpecManager,
    set_relaunch_arguments,
)
from ..forking.client import the_forker
from ..forking.options import ForkedKernels
from ..forking.provisioner import use_forking_provisioner
from ..protocol.ports import pick_ports
from ..protocol.procs import live_argv, oom_kill_counter, oom_kills
from ..protocol.stderr import StderrLines
from .base import KernelExit, KernelStartError, LaunchedKernel, LaunchRequest

log = logging.getLogger("jls.kernels")

STDERR_TAIL_LINES = 40
#: How long a dead kernel's stderr may take to reach its end before the death is reported.
STDERR_DRAIN_SECONDS = 2.0


class _OneSpecManager(LeanKernelSpecManager):
    """Hands jupyter_client's manager a kernelspec we already hold."""

    def __init__(self, spec: KernelSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._spec = spec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self._spec


class LocalKernel(LaunchedKernel):
    """A kernel process on this machine, driven by jupyter_client."""

    def __init__(
        self,
        manager: FastShutdownKernelManager,
        label: str,
        cwd: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        self._km = manager
        self._label = label
        self._cwd = cwd
        self._env = dict(env or {})  # the request's own variables, for reattach_info
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._reader: StderrLines | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._oom_events: str | None = None  # the process's cgroup memory.events
        self._oom_kills_at_start: int | None = None
        self.connection_info = dict(manager.get_connection_info(session=False))

    async def _attach_stderr(self) -> None:
        """Read the (new) process's stderr pipe without blocking the loop."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        process = getattr(self._km.provisioner, "process", None)
        if process is not None:  # an OOM kill is told by its cgroup's count going up
            self._oom_events = oom_kill_counter(process.pid)
            self._oom_kills_at_start = oom_kills(self._oom_events) if self._oom_events else None
        pipe = getattr(process, "stderr", None)
        if pipe is None:
            return
        reader = self._reader = StderrLines(f"kernel {self._label}", self._tail, log)
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.connect_read_pipe(lambda: reader, pipe)

    async def interrupt(self) -> None:
        await self._km.interrupt_kernel()

    async def restart(self, now: bool = False) -> None:
        await self._km.restart_kernel(now=now)
        await self._attach_stderr()

    async def shutdown(self, now: bool = False) -> None:
        if self._reader is not None:
            self._reader.level = logging.DEBUG
        try:
            await self._km.shutdown_kernel(now=now)
        finally:
            # Let the reader drain what the process printed on its way out.
            await asyncio.sleep(0)
            if self._transport is not None:
                self._transport.close()
                self._transport = None

    async def is_alive(self) -> bool:
        alive = await self._km.is_alive()
        if not alive and self._reader is not None and not self._reader.finished.is_set():
            # Dead: let the loop read what it wrote on its way out first, so whoever reports
            # the death (a start-up failure's 500 above all) has its last words.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reader.finished.wait(), STDERR_DRAIN_SECONDS)
        return alive

    def exit_details(self) -> KernelExit | None:
        process = getattr(self._km.provisioner, "process", None)
        returncode = process.poll() if process is not None else None
        if returncode is None:
            return None  # alive, or not our child (a kernel adopted from an earlier server)
        if getattr(process, "ended_unseen", False):
            return KernelExit()  # a forked kernel whose fork server was gone: cause unknown
        oom = ""
        if self._oom_events and self._oom_kills_at_start is not None:
            now = oom_kills(self._oom_events)
            if now is not None and now > self._oom_kills_at_start and returncode == -9:
                oom = "likely"  # its cgroup counted an OOM kill while it ran
        if returncode < 0:
            return KernelExit(signal=-returncode, out_of_memory=oom)
        return KernelExit(code=returncode)

    def describe(self) -> dict[str, Any]:
        pid = getattr(self._km.provisioner, "pid", None)
        return {"pid": pid, "connection_file": self._km.connection_file}

    def reattach_info(self) -> dict[str, Any]:
        provisioner = self._km.provisioner
        return {
            "pid": getattr(provisioner, "pid", None),
            "pgid": getattr(provisioner, "pgid", None),
            "connection_file": self._km.connection_file,
            "cwd": self._cwd,
            "env": self._env,
        }

    def failure_details(self) -> str:
        return "\n".join(self._tail)


async def launch_local(
    spec: KernelSpec,
    name: str,
    request: LaunchRequest,
    spec_manager: KernelSpecManager | None,
    fork: bool = False,
) -> LocalKernel:
    """Start ``spec`` as a local process in ``request.cwd``; by fork where it can be
    (``fork``, and see kernels/forking)."""
    runtime_dir = jupyter_runtime_dir()
    os.makedirs(runtime_dir, mode=0o700, exist_ok=True)
    manager = FastShutdownKernelManager(
        kernel_name=name,
        kernel_spec_manager=_OneSpecManager(spec, parent=spec_manager),
        connection_file=os.path.join(runtime_dir, f"kernel-{request.kernel_id}.json"),
        cache_ports=False,
    )
    manager.kernel_id = request.kernel_id
    use_forking_provisioner(manager, fork)
    if manager.transport == "tcp":  # our own choice of ports, outside the ephemeral range
        ports = pick_ports(manager.ip, 5)
        manager.shell_port, manager.iopub_port, manager.stdin_port = ports[:3]
        manager.control_port, manager.hb_port = ports[3:]
    env = {**os.environ, **request.env}
    kernel = None
    try:
        await manager.start_kernel(cwd=request.cwd, env=env, **_popen_options(request.persistent))
        kernel = LocalKernel(manager, request.kernel_id[:8], request.cwd, dict(request.env))
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


async def close_local() -> None:
    """Stop what local kernels shared: the kernel fork server, if it was started."""
    await the_forker().close()


def forks_kernels(config: Any) -> bool:
    """Whether this configuration lets kernels be forked where they can be."""
    return bool(ForkedKernels(config=config).enabled) if config is not None else True


def _popen_options(persistent: bool) -> dict[str, Any]:
    """How the process is started: tied to the server, or able to outlive it.

    A persistent kernel gets its own session and no ``JPY_PARENT_PID`` (ipykernel
    would exit with its parent), and no stdout inherited from the server (a
    pipe that would stay open, or break, when the server goes away).
    """
    if not persistent:
        return {"stderr": subprocess.PIPE}
    return {"stderr": subprocess.PIPE, "stdout": subprocess.DEVNULL, "independent": True}


# --- reattaching to a kernel an earlier server process launched ---------------------


def _pid_runs(pid: int, connection_file: str) -> bool:
    """Whether ``pid`` is alive, not a zombie, and (where /proc tells) this kernel.

    The command line must name the kernel's connection file, so a reused PID
    is never mistaken for the kernel.
    """
    argv = live_argv(pid)
    return argv is not None and (not argv or os.fsencode(connection_file) in argv)


class _AdoptedProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner for a process it did not start.

    Signals and waits go by PID until the kernel is restarted, when a fresh
    process is launched the usual way (same ports, same key).
    """

    adopted_pid: int | None = None
    connection_file = ""

    @property
    def has_process(self) -> bool:
        return self.process is not None or self.adopted_pid is not None

    async def poll(self) -> int | None:
        if self.process is not None or self.adopted_pid is None:
            return await super().poll()
        if _pid_runs(self.adopted_pid, self.connection_file):
            return None
        return 0

    async def wait(self) -> int | None:
        if self.process is not None or self.adopted_pid is None:
            return await super().wait()
        while await self.poll() is None:
            await asyncio.sleep(0.01)
        self.adopted_pid = None
        return 0

    async def send_signal(self, signum: int) -> None:
        if self.process is not None or self.adopted_pid is None:
            return await super().send_signal(signum)
        try:
            if self.pgid:
                os.killpg(self.pgid, signum)
            else:
                os.kill(self.adopted_pid, signum)
        except ProcessLookupError:
            pass

    async def kill(self, restart: bool = False) -> None:
        if self.process is not None or self.adopted_pid is None:
            return await super().kill(restart)
        await self.send_signal(9)

    async def terminate(self, restart: bool = False) -> None:
        if self.process is not None or self.adopted_pid is None:
            return await super().terminate(restart)
        await self.send_signal(15)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        self.adopted_pid = None  # from now on a child of this server, like any kernel
        return await super().launch_kernel(cmd, **kwargs)


async def adopt_local(
    spec: KernelSpec,
    name: str,
    kernel_id: str,
    connection_info: dict[str, Any],
    info: dict[str, Any],
    spec_manager: KernelSpecManager | None,
) -> LocalKernel | None:
    """A LocalKernel for a still-running process of an earlier server; None if it is gone."""
    pid, connection_file = info.get("pid"), info.get("connection_file") or ""
    if not isinstance(pid, int) or not _pid_runs(pid, connection_file):
        return None
    manager = FastShutdownKernelManager(
        kernel_name=name,
        kernel_spec_manager=_OneSpecManager(spec, parent=spec_manager),
        connection_file=connection_file,
    )
    manager.kernel_id = kernel_id
    manager.load_connection_info(connection_info)  # type: ignore[arg-type]
    provisioner = _AdoptedProvisioner(kernel_id=kernel_id, kernel_spec=spec, parent=manager)
    provisioner.adopted_pid = provisioner.pid = pid
    provisioner.pgid = info.get("pgid")
    provisioner.connection_file = connection_file
    provisioner.ports_cached = True  # a restart reuses the stored ports
    provisioner.connection_info = manager.get_connection_info()
    manager.provisioner = provisioner
    env = dict(info.get("env") or {})
    # What jupyter_client's start_kernel would have set: a restart then relaunches
    # with the same arguments and a fresh readiness future.
    relaunch = {"cwd": info.get("cwd") or os.getcwd(), "env": {**os.environ, **env}}
    set_relaunch_arguments(manager, {**relaunch, **_popen_options(True)})
    return LocalKernel(manager, kernel_id[:8], info.get("cwd") or "", env)
