"""The ``spec`` provider: kernels from installed kernelspecs.

Kernel names are the plain kernelspec names (``python3``), so a notebook's
``metadata.kernelspec.name`` resolves as it does in jupyter_server.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from jupyter_client.kernelspec import NoSuchKernel

from ...compat.jupyter_client import LeanKernelSpecManager
from .base import KernelProvider, KernelStartError, KernelType, LaunchedKernel, LaunchRequest
from .local import adopt_local, close_local, forks_kernels, launch_local


def resources_of(resource_dir: str) -> dict[str, str]:
    """Resource files of a kernelspec directory, keyed as jupyter_server keys them."""
    found: dict[str, str] = {}
    try:
        entries = list(os.scandir(resource_dir))
    except OSError:
        return found
    for entry in entries:
        if entry.is_file() and entry.name != "kernel.json":
            stem, _ = os.path.splitext(entry.name)
            found[stem if stem.startswith("logo-") else entry.name] = entry.path
    return found


class KernelSpecProvider(KernelProvider):
    """Installed kernelspecs, found on the Jupyter data path."""

    #: Seconds during which the listing is served from memory without a look at the disk.
    recheck_interval = 1.0

    def __init__(self, config=None) -> None:
        super().__init__(config)
        # The server's own ipykernel is the pyimport provider's business.
        self.spec_manager = LeanKernelSpecManager(config=config, ensure_native_kernel=False)
        self._cache: list[KernelType] | None = None
        self._fingerprint: tuple = ()
        self._checked_at = 0.0

    def _current_fingerprint(self) -> tuple:
        """Modification times of every kernels directory and kernel.json: cheap stats."""
        stamps = []
        for directory in self.spec_manager.kernel_dirs:
            try:
                entries = list(os.scandir(directory))
                stamps.append((directory, os.stat(directory).st_mtime_ns))
            except OSError:
                continue
            for entry in entries:
                try:
                    spec_file = os.path.join(entry.path, "kernel.json")
                    stamps.append((spec_file, os.stat(spec_file).st_mtime_ns))
                except OSError:
                    continue
        return tuple(stamps)

    def _refresh(self) -> list[KernelType]:
        fingerprint = self._current_fingerprint()
        if self._cache is None or fingerprint != self._fingerprint:
            self._cache = self._scan()
            self._fingerprint = fingerprint
        return self._cache

    def _scan(self) -> list[KernelType]:
        kernels = []
        for name, info in self.spec_manager.get_all_specs().items():
            spec = info["spec"]
            kernels.append(
                KernelType(
                    name=name,
                    spec={
                        "argv": spec.get("argv", []),
                        "display_name": spec.get("display_name", name),
                        "language": spec.get("language", ""),
                        "interrupt_mode": spec.get("interrupt_mode", "signal"),
                        "env": spec.get("env", {}),
                        "metadata": spec.get("metadata", {}),
                    },
                    resources=resources_of(info["resource_dir"]),
                )
            )
        return kernels

    async def find_kernels(self) -> list[KernelType]:
        """Installed kernelspecs, re-read only when a kernel directory changed."""
        now = time.monotonic()
        if self._cache is not None and now - self._checked_at < self.recheck_interval:
            return self._cache
        self._checked_at = now
        return await asyncio.get_running_loop().run_in_executor(None, self._refresh)

    async def launch(self, name: str, request: LaunchRequest) -> LaunchedKernel:
        loop = asyncio.get_running_loop()
        try:
            spec = await loop.run_in_executor(None, self.spec_manager.get_kernel_spec, name)
        except NoSuchKernel as exc:
            raise KernelStartError(f"No kernelspec named {name!r}") from exc
        fork = forks_kernels(self.config)
        return await launch_local(spec, name, request, self.spec_manager, fork=fork)

    async def close(self) -> None:
        await close_local()

    async def reattach(
        self, name: str, kernel_id: str, connection_info: dict[str, Any], info: dict[str, Any]
    ) -> LaunchedKernel | None:
        loop = asyncio.get_running_loop()
        try:
            spec = await loop.run_in_executor(None, self.spec_manager.get_kernel_spec, name)
        except NoSuchKernel:
            # Still controllable by PID; interrupt and restart need the spec's defaults.
            from jupyter_client.kernelspec import KernelSpec

            spec = KernelSpec(resource_dir="", argv=[], display_name=name)
        return await adopt_local(spec, name, kernel_id, connection_info, info, self.spec_manager)
