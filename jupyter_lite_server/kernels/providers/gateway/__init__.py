"""The ``gateway`` kernel provider: kernels on a remote Jupyter (Enterprise) Kernel Gateway."""

from .provider import GatewayKernel, GatewayProvider

__all__ = ["GatewayKernel", "GatewayProvider"]
