"""The ``docker`` kernel provider: each kernel in a container of its own image."""

from .provider import DockerProvider

__all__ = ["DockerProvider"]
