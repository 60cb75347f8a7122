"""One kernel in one Docker container.

The container runs on the host network (``--network host``): the kernel binds
the five ports we chose on 127.0.0.1 with our key, from a connection file
bind-mounted, and the server talks ZMQ to it like to any kernel.
Docker's init (tini) is PID 1, so SIGINT and SIGTERM reach the kernel as
they would outside a container.

Every Docker Engine call blocks (HTTP over the engine's socket), so each one
runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from ..base import KernelExit, KernelStartError, LaunchedKernel

log = logging.getLogger("jls.kernels.docker")

CONNECTION_FILE_IN_CONTAINER = "/run/jls/kernel.json"
LABEL = "org.jupyter-lite-server"


class ContainerError(KernelStartError):
    """The Docker engine failed or refused (missing image, engine down)."""

    http_status = 502


@dataclass(slots=True)
class ContainerSpec:
    """What one container of a kernel type is made of (from DockerProvider.kernels)."""

    image: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    mem_limit: str | int | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    user: str | None = None
    mount_cwd: bool = True
    interrupt_mode: str = "signal"


def _engine_error(action: str, exc: Exception) -> ContainerError:
    explanation = getattr(exc, "explanation", None) or str(exc)
    return ContainerError(f"Docker engine: {action} failed: {explanation}")


class ContainerKernel(LaunchedKernel):
    """A kernel container; restart replaces it with a new one of the same image."""

    def __init__(
        self,
        engine: Any,
        spec: ContainerSpec,
        image: Any,
        image_ref: str,
        kernel_id: str,
        connection_info: dict[str, Any],
        connection_dir: str,
        cwd: str,
        env: dict[str, str],
        labels: dict[str, str],
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.image = image  # docker Image: its id is what restarts use, whatever the tag says now
        self.image_ref = image_ref
        self.kernel_id = kernel_id
        self.connection_info = connection_info
        self.connection_dir = connection_dir
        self.cwd = cwd
        self.env = env
        self.labels = labels
        self.container: Any = None
        self._last_logs = ""
        self._exit: KernelExit | None = None
        #: Seconds to wait after shutdown_request, then after SIGTERM.
        self.stop_grace = 5.0

    # --- running a container --------------------------------------------------------

    @property
    def container_name(self) -> str:
        return f"jls-kernel-{self.kernel_id}"

    def _run_options(self) -> dict[str, Any]:
        spec = self.spec
        mounts = {
            os.path.join(self.connection_dir, "kernel.json"): {
                "bind": CONNECTION_FILE_IN_CONTAINER,
                "mode": "rw",  # ipykernel rewrites it (same content) as it starts
            }
        }
        options: dict[str, Any] = {
            "command": [
                arg.replace("{connection_file}", CONNECTION_FILE_IN_CONTAINER) for arg in spec.argv
            ],
            "name": self.container_name,
            "detach": True,
            "network_mode": "host",
            "init": True,
            "labels": self.labels,
            "environment": {**spec.env, **self.env, "JLS_KERNEL_ID": self.kernel_id},
            "volumes": mounts,
        }
        if spec.mount_cwd and self.cwd:
            mounts[self.cwd] = {"bind": self.cwd, "mode": "rw"}
            options["working_dir"] = self.cwd
        if spec.mem_limit is not None:
            options["mem_limit"] = spec.mem_limit
            options["memswap_limit"] = spec.mem_limit  # no swap beyond the limit
        if spec.cpus is not None:
            options["nano_cpus"] = int(spec.cpus * 1e9)
        if spec.pids_limit is not None:
            options["pids_limit"] = spec.pids_limit
        if spec.user:
            options["user"] = spec.user
        return options

    async def run(self) -> None:
        """Start a new container (removing a stopped one of the same name first)."""
        await self._remove_container(force=True)
        try:
            self.container = await asyncio.to_thread(
                self.engine.containers.run, self.image.id, **self._run_options()
            )
        except Exception as exc:
            raise _engine_error(f"starting a container of {self.image_ref}", exc) from exc

    # --- lifecycle --------------------------------------------------------------------

    async def interrupt(self) -> None:
        if self.spec.interrupt_mode == "message":
            await self._control_request("interrupt_request", timeout=5)
            return
        try:
            await asyncio.to_thread(self.container.kill, signal="SIGINT")
        except Exception as exc:
            raise _engine_error("interrupting the kernel container", exc) from exc

    async def restart(self, now: bool = False) -> None:
        await self._stop(now)
        await self.run()

    async def shutdown(self, now: bool = False) -> None:
        """shutdown_request, then SIGTERM, then SIGKILL; the container and files removed."""
        try:
            try:
                await self._stop(now)
            except ContainerError as exc:  # forced removal is the SIGKILL step
                log.warning("Kernel container %s: %s; removing it by force", self.container_name,
                            exc)  # fmt: skip
            await self._remove_container(force=True)
        finally:
            shutil.rmtree(self.connection_dir, ignore_errors=True)

    async def _stop(self, now: bool) -> None:
        if self.container is None:
            return
        if not now and await self.is_alive():
            reply = await self._control_request("shutdown_request", {"restart": False}, 2.0)
            if reply and await self._wait_exit(self.stop_grace):
                return
        # SIGTERM, then SIGKILL once the timeout passes. The Engine API takes whole
        # seconds: "5.0" is refused, and the container would be left running.
        grace = 0 if now else math.ceil(self.stop_grace)
        try:
            await asyncio.to_thread(self.container.stop, timeout=grace)
        except Exception as exc:
            if not _not_found(exc):
                raise _engine_error("stopping the kernel container", exc) from exc
        await self._keep_logs()

    async def _wait_exit(self, timeout: float) -> bool:
        try:
            await asyncio.to_thread(self.container.wait, timeout=timeout)
        except Exception:
            return False
        await self._keep_logs()
        return True

    async def _keep_logs(self) -> None:
        with contextlib.suppress(Exception):
            logs = await asyncio.to_thread(self.container.logs, tail=40)
            self._last_logs = logs.decode("utf-8", "replace").strip()

    async def _remove_container(self, force: bool) -> None:
        try:
            container = self.container or await asyncio.to_thread(
                self.engine.containers.get, self.container_name
            )
            await asyncio.to_thread(container.remove, force=force, v=True)
        except Exception as exc:
            if not _not_found(exc):
                raise _engine_error("removing the kernel container", exc) from exc
        self.container = None

    async def is_alive(self) -> bool:
        if self.container is None:
            return False
        try:
            await asyncio.to_thread(self.container.reload)
        except Exception as exc:
            if _not_found(exc):
                self._last_logs = self._last_logs or "the container was removed from outside"
                return False
            log.warning("Cannot ask Docker about kernel %s: %s", self.kernel_id, exc)
            return False
        if self.container.status != "running":
            await self._keep_logs()
            state = self.container.attrs.get("State", {})
            self._exit = _exit_from_state(state)
            log.warning("Kernel container %s exited: %s", self.container.short_id,
                        self._exit.describe())  # fmt: skip
            return False
        return True

    def exit_details(self) -> KernelExit | None:
        return self._exit

    async def _control_request(
        self, msg_type: str, content: dict | None = None, timeout: float = 2.0
    ) -> dict | None:
        """Send a request on the control channel; its reply content, or None on timeout."""
        from ...protocol.connection import KernelConnection, reply_content

        connection = KernelConnection(self.connection_info, session_id=self.kernel_id)
        return await reply_content(connection, "control", msg_type, content, timeout)

    # --- facts ------------------------------------------------------------------------

    def environment(self) -> dict[str, Any]:
        return {
            "image": self.image_ref,
            "image_id": self.image.id,
            "repo_digests": list(self.image.attrs.get("RepoDigests") or []),
        }

    def describe(self) -> dict[str, Any]:
        container = self.container.short_id if self.container is not None else None
        return {"container": container, "image": self.image_ref, "image_id": self.image.id}

    def reattach_info(self) -> dict[str, Any]:
        return {
            "container_id": self.container.id if self.container is not None else None,
            "connection_dir": self.connection_dir,
            "image_ref": self.image_ref,
            "image_id": self.image.id,
            "cwd": self.cwd,
            "env": self.env,
        }

    def failure_details(self) -> str:
        return self._last_logs


def _exit_from_state(state: dict[str, Any]) -> KernelExit:
    """Docker's container state: the exit code (128 + n: signal n) and OOMKilled."""
    code = state.get("ExitCode")
    oom = "killed" if state.get("OOMKilled") else ""
    if isinstance(code, int) and code > 128:
        return KernelExit(signal=code - 128, out_of_memory=oom)
    return KernelExit(code=code if isinstance(code, int) else None, out_of_memory=oom)


def _not_found(exc: Exception) -> bool:
    return type(exc).__name__ in ("NotFound", "ImageNotFound")


def write_connection_file(directory: str, info: dict[str, Any], user: str | None = None) -> None:
    """The kernel's connection file, which ipykernel in the container rewrites.

    ipykernel insists on mode 0600 and its own ownership, so the file belongs to
    the container's user (a numeric ``uid[:gid]``; root when none is set).
    """
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "kernel.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    if user:
        uid, _, gid = user.partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise ContainerError(f"Container user {user!r} must be numeric: uid or uid:gid")
        os.chown(path, int(uid), int(gid or uid))
