"""A tiny third-party kernel provider for jupyter_lite_server.

It offers one kernel type, ``hello``: ipykernel from the server's Python with
a greeting in its environment. Install it (``pip install ./examples/hello_provider``)
and `jls serve` lists ``hello`` in /api/kernelspecs; nothing else to configure.
"""

from __future__ import annotations

import sys

from jupyter_client.kernelspec import KernelSpec

from jupyter_lite_server.kernels.providers.base import (
    KernelProvider,
    KernelType,
    LaunchedKernel,
    LaunchRequest,
)
from jupyter_lite_server.kernels.providers.local import launch_local


class HelloProvider(KernelProvider):
    def _spec(self) -> dict:
        return {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Hello Python",
            "language": "python",
            "interrupt_mode": "message",
            "env": {"HELLO_PROVIDER": "hello from the provider"},
            "metadata": {},
        }

    async def find_kernels(self) -> list[KernelType]:
        return [KernelType(name="hello", spec=self._spec())]

    async def launch(self, name: str, request: LaunchRequest) -> LaunchedKernel:
        spec = KernelSpec(resource_dir="", **self._spec())
        return await launch_local(spec, name, request, None)
