"""The ``spec`` provider: kernels from installed kernelspecs.

Kernel names are the plain kernelspec names (``python3``), so a notebook's
``metadata.kernelspec.name`` resolves as it does in jupyter_server.
"""

from __future__ import annotations

import asyncio
import os

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from .base import KernelProvider, KernelStartError, KernelType, LaunchedKernel, LaunchRequest
from .local import launch_local


def spec_to_dict(spec) -> dict:
    """The kernelspec fields as jupyter_server lists them."""
    return {
        "argv": list(spec.argv),
        "display_name": spec.display_name,
        "language": spec.language,
        "interrupt_mode": spec.interrupt_mode,
        "env": dict(spec.env),
        "metadata": dict(spec.metadata),
    }


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

    def __init__(self, config=None) -> None:
        super().__init__(config)
        # The server's own ipykernel is the pyimport provider's business.
        self.spec_manager = KernelSpecManager(config=config, ensure_native_kernel=False)

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
        return await asyncio.get_running_loop().run_in_executor(None, self._scan)

    async def launch(self, name: str, request: LaunchRequest) -> LaunchedKernel:
        loop = asyncio.get_running_loop()
        try:
            spec = await loop.run_in_executor(None, self.spec_manager.get_kernel_spec, name)
        except NoSuchKernel as exc:
            raise KernelStartError(f"No kernelspec named {name!r}") from exc
        return await launch_local(spec, name, request, self.spec_manager)
