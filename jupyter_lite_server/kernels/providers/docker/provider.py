"""Kernels in Docker containers, one image per kernel type (``docker`` provider).

Configured per kernel name::

    c.DockerProvider.kernels = {
        "python-prod": {
            "image": "registry.example.org/kernels/python:2026.11",
            "display_name": "Python (production)",
            "mem_limit": "2g", "cpus": 1.5,
        },
    }

The image a kernel ran with is named exactly (image id and registry
digests) in its ``environment()``: a notebook that records it starts that
same image later, even after the tag has moved on (sessions/environments.py).
The Docker Engine is reached through the ``docker`` client package (extra
``jupyter_lite_server[docker]``), at ``base_url`` or the usual DOCKER_HOST.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from typing import Any

from jupyter_core.paths import jupyter_runtime_dir
from traitlets import Bool, Dict, Float, Unicode

from ...protocol.ports import pick_ports
from ...protocol.procs import live_argv
from ..base import ConfigurableProvider, KernelType, LaunchedKernel, LaunchRequest
from .container import LABEL, ContainerError, ContainerKernel, ContainerSpec, write_connection_file

DEFAULT_ARGV = ["python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
_SPEC_KEYS = {
    "image", "display_name", "language", "argv", "env", "mem_limit", "cpus", "pids_limit",
    "user", "mount_cwd", "interrupt_mode", "metadata",
}  # fmt: skip


class DockerProvider(ConfigurableProvider):
    """Each kernel in its own container from the image configured for its name."""

    records_environments = True

    kernels = Dict(
        help="Kernel name → {image, display_name, language, argv, env, mem_limit, cpus, "
        "pids_limit, user, mount_cwd, interrupt_mode}. Only image is required."
    ).tag(config=True)
    base_url = Unicode(
        "", help="Docker Engine address (unix:///var/run/docker.sock); default: DOCKER_HOST."
    ).tag(config=True)
    engine_timeout = Float(60.0, help="Seconds for one Docker Engine API call.").tag(config=True)
    stop_timeout = Float(
        5.0, help="Seconds a kernel has to exit after shutdown_request, then after SIGTERM."
    ).tag(config=True)
    pull = Bool(False, help="Pull an image that is not on the engine (else refuse).").tag(
        config=True
    )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._engine: Any = None
        self._reaped = False
        self._background: asyncio.Future | None = None
        self.records_environments = bool(self.kernels)  # nothing to record until configured
        for name, entry in self.kernels.items():
            unknown = set(entry) - _SPEC_KEYS
            if unknown or not entry.get("image"):
                raise ValueError(
                    f"DockerProvider.kernels[{name!r}]: needs 'image'"
                    + (f"; unknown keys {sorted(unknown)}" if unknown else "")
                )

    # --- the engine -------------------------------------------------------------------

    async def engine(self) -> Any:
        if self._engine is None:
            try:
                import docker
            except ImportError as exc:
                raise ContainerError(
                    "The docker provider needs the 'docker' package: "
                    "pip install 'jupyter_lite_server[docker]'"
                ) from exc
            try:
                if self.base_url:
                    client = docker.DockerClient(
                        base_url=self.base_url, timeout=self.engine_timeout
                    )
                else:
                    client = docker.from_env(timeout=self.engine_timeout)
                await asyncio.to_thread(client.ping)
            except Exception as exc:
                where = self.base_url or os.environ.get("DOCKER_HOST", "its default socket")
                raise ContainerError(f"Docker engine at {where} is not reachable: {exc}") from exc
            self._engine = client
        if not self._reaped:
            self._reaped = True
            await asyncio.to_thread(self._reap_orphans, self._engine)
        return self._engine

    def _reap_orphans(self, engine: Any) -> None:
        """Remove kernel containers whose server died without stopping them.

        Containers of kernels meant to outlive their server (sessions on file)
        are left for that server's reattach.
        """
        host = socket.gethostname()
        for container in engine.containers.list(all=True, filters={"label": f"{LABEL}.kernel"}):
            labels = container.labels
            if labels.get(f"{LABEL}.persistent") == "1" or labels.get(f"{LABEL}.host") != host:
                continue
            pid = int(labels.get(f"{LABEL}.server-pid", "0") or 0)
            if pid and live_argv(pid) is not None:
                continue
            self.log.warning(
                "Removing kernel container %s left by a server (pid %s) that is gone",
                container.short_id, pid,
            )  # fmt: skip
            try:
                container.remove(force=True, v=True)
            except Exception as exc:
                self.log.error("Could not remove container %s: %s", container.short_id, exc)

    async def _reap_soon(self) -> None:
        try:
            await self.engine()
        except ContainerError as exc:
            self.log.warning("%s", exc)

    # --- kernel types -----------------------------------------------------------------

    async def find_kernels(self) -> list[KernelType]:
        """The configured kernel types (no engine call: listing stays fast).

        The first listing also clears containers a dead server left behind.
        """
        if self.kernels and not self._reaped:
            task = asyncio.ensure_future(self._reap_soon())
            self._background = task  # keep a reference until it is done
        found = []
        for name, entry in sorted(self.kernels.items()):
            spec = {
                "argv": list(entry.get("argv") or DEFAULT_ARGV),
                "display_name": entry.get("display_name") or f"{name} ({entry['image']})",
                "language": entry.get("language", "python"),
                "interrupt_mode": entry.get("interrupt_mode", "signal"),
                "env": {},
                "metadata": {**(entry.get("metadata") or {}), "image": entry["image"]},
            }
            found.append(KernelType(name=name, spec=spec))
        return found

    def _spec(self, name: str) -> ContainerSpec:
        entry = self.kernels[name]
        return ContainerSpec(
            image=entry["image"],
            argv=list(entry.get("argv") or DEFAULT_ARGV),
            env=dict(entry.get("env") or {}),
            mem_limit=entry.get("mem_limit"),
            cpus=entry.get("cpus"),
            pids_limit=entry.get("pids_limit"),
            user=entry.get("user"),
            mount_cwd=entry.get("mount_cwd", True),
            interrupt_mode=entry.get("interrupt_mode", "signal"),
        )

    # --- images -----------------------------------------------------------------------

    async def _image(
        self, engine: Any, name: str, pinned: dict[str, Any] | None
    ) -> tuple[Any, str]:
        """(image, reference shown to users): the pinned image if any, else the configured tag."""
        if pinned:
            candidates = [pinned.get("image_id"), *(pinned.get("repo_digests") or [])]
            for ref in filter(None, candidates):
                image = await self._get_image(engine, ref, pull=self.pull and "@" in ref)
                if image is not None:
                    return image, str(pinned.get("image") or ref)
            raise ContainerError(
                f"The notebook was last run with image {pinned.get('image')!r} "
                f"({pinned.get('image_id')}) for kernel {name!r}; this Docker engine does not "
                "have it"
                + ("" if self.pull else " (and pulling is off: DockerProvider.pull)")
                + ". Load that image, or pick the kernel again to use the current one."
            )
        ref = self.kernels[name]["image"]
        image = await self._get_image(engine, ref, pull=self.pull)
        if image is None:
            raise ContainerError(
                f"Image {ref!r} for kernel {name!r} is not on this Docker engine"
                + ("" if self.pull else " (and pulling is off: DockerProvider.pull)")
            )
        return image, ref

    async def _get_image(self, engine: Any, ref: str, pull: bool) -> Any:
        import docker.errors

        try:
            return await asyncio.to_thread(engine.images.get, ref)
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise ContainerError(f"Docker engine: looking up image {ref!r} failed: {exc}") from exc
        if not pull:
            return None
        try:
            return await asyncio.to_thread(engine.images.pull, ref)
        except docker.errors.APIError as exc:
            raise ContainerError(f"Pulling image {ref!r} failed: {exc.explanation}") from exc

    # --- launching --------------------------------------------------------------------

    async def launch(self, name: str, request: LaunchRequest) -> LaunchedKernel:
        engine = await self.engine()
        image, ref = await self._image(engine, name, dict(request.environment or {}) or None)
        kernel = self._kernel(engine, name, image, ref, request.kernel_id, request, None)
        write_connection_file(kernel.connection_dir, kernel.connection_info, kernel.spec.user)
        try:
            await kernel.run()
        except BaseException:
            await kernel.shutdown(now=True)
            raise
        return kernel

    def _kernel(
        self,
        engine: Any,
        name: str,
        image: Any,
        ref: str,
        kernel_id: str,
        request: LaunchRequest | None,
        stored: dict[str, Any] | None,
    ) -> ContainerKernel:
        connection_info = stored or {
            "transport": "tcp",
            "ip": "127.0.0.1",
            **dict(
                zip(
                    ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"),
                    pick_ports("127.0.0.1", 5),
                    strict=True,
                )
            ),
            "key": uuid.uuid4().hex,
            "signature_scheme": "hmac-sha256",
            "kernel_name": name,
        }
        persistent = request.persistent if request is not None else True
        labels = {
            f"{LABEL}.kernel": kernel_id,
            f"{LABEL}.kernel-type": name,
            f"{LABEL}.server-pid": str(os.getpid()),
            f"{LABEL}.host": socket.gethostname(),
            f"{LABEL}.persistent": "1" if persistent else "0",
        }
        kernel = ContainerKernel(
            engine,
            self._spec(name),
            image,
            ref,
            kernel_id,
            connection_info,
            os.path.join(jupyter_runtime_dir(), "jls-containers", kernel_id),
            request.cwd if request is not None else "",
            {k: v for k, v in (request.env if request is not None else {}).items()},
            labels,
        )
        kernel.stop_grace = self.stop_timeout
        return kernel

    async def reattach(
        self, name: str, kernel_id: str, connection_info: dict[str, Any], info: dict[str, Any]
    ) -> LaunchedKernel | None:
        """The container an earlier server started, if it still runs."""
        import docker.errors

        if name not in self.kernels:
            raise ContainerError(f"Kernel type {name!r} is no longer configured")
        engine = await self.engine()
        try:
            container = await asyncio.to_thread(engine.containers.get, info.get("container_id"))
            image = await asyncio.to_thread(engine.images.get, info.get("image_id"))
        except docker.errors.NotFound:
            return None
        if container.status != "running":
            await asyncio.to_thread(container.remove, force=True, v=True)
            return None
        kernel = self._kernel(engine, name, image, info.get("image_ref", ""), kernel_id, None,
                              dict(connection_info))  # fmt: skip
        kernel.connection_dir = info.get("connection_dir") or kernel.connection_dir
        kernel.cwd = info.get("cwd") or ""
        kernel.env = dict(info.get("env") or {})
        kernel.labels = dict(container.labels)
        kernel.container = container
        return kernel
