"""The ``pyimport`` provider: ipykernel in the server's own environment.

Present even when no kernelspec is installed. Its kernel is named ``python3``
like ipykernel's own kernelspec; when the ``spec`` provider also offers
``python3``, the finder lists the installed kernelspec under that name and this
one only under its qualified name ``pyimport-python3``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from jupyter_client.kernelspec import KernelSpec

from .base import KernelProvider, KernelStartError, KernelType, LaunchedKernel, LaunchRequest
from .local import adopt_local, close_local, forks_kernels, launch_local

KERNEL_NAME = "python3"


def _ipykernel_resources() -> dict[str, str]:
    spec = importlib.util.find_spec("ipykernel")
    if spec is None or not spec.submodule_search_locations:
        return {}
    resource_dir = os.path.join(spec.submodule_search_locations[0], "resources")
    from .spec import resources_of

    return resources_of(resource_dir)


class IPykernelProvider(KernelProvider):
    """ipykernel started with this server's Python interpreter."""

    def _spec(self) -> dict:
        major = sys.version_info[0]
        return {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python {major} (ipykernel)",
            "language": "python",
            "interrupt_mode": "signal",
            "env": {},
            "metadata": {"debugger": True},
        }

    _offer: list[KernelType] | None = None

    async def find_kernels(self) -> list[KernelType]:
        if self._offer is None:  # the server's own environment does not change under it
            if importlib.util.find_spec("ipykernel") is None:
                self._offer = []
            else:
                resources = _ipykernel_resources()
                self._offer = [KernelType(name=KERNEL_NAME, spec=self._spec(), resources=resources)]
        return self._offer

    async def launch(self, name: str, request: LaunchRequest) -> LaunchedKernel:
        if name != KERNEL_NAME or importlib.util.find_spec("ipykernel") is None:
            raise KernelStartError(
                f"pyimport offers only {KERNEL_NAME!r} when ipykernel is installed"
            )
        spec = KernelSpec(resource_dir="", **self._spec())
        return await launch_local(spec, name, request, None, fork=forks_kernels(self.config))

    async def close(self) -> None:
        await close_local()

    async def reattach(
        self, name: str, kernel_id: str, connection_info: dict[str, Any], info: dict[str, Any]
    ) -> LaunchedKernel | None:
        spec = KernelSpec(resource_dir="", **self._spec())
        return await adopt_local(spec, name, kernel_id, connection_info, info, None)
