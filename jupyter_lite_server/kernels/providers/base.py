"""The kernel provider interface.

A provider is a class registered under the ``jupyter_lite_server.kernel_providers``
entry-point group (the entry-point name is its id). It lists the kernel types it
can start and launches them. What it returns from :meth:`KernelProvider.launch`
is a :class:`LaunchedKernel`: every lifecycle operation (interrupt, restart,
shutdown, liveness) is a method of that object, so a kernel running in a
container or behind a remote gateway is handled by its provider, never by
``os.kill`` in the server.

The server talks to the kernel over ZMQ using ``connection_info`` (transport,
ip, the five ports, key and signature scheme), exactly as a jupyter_client
connection file describes it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from abc import ABC, ABCMeta, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from traitlets import MetaHasTraits
from traitlets.config import Config, LoggingConfigurable


@dataclass(frozen=True, slots=True)
class KernelExit:
    """How a kernel's process ended, as far as its provider can tell."""

    code: int | None = None  # its exit status, if it exited
    signal: int | None = None  # the signal that killed it, if one did
    #: "killed": the OOM killer did it (a container engine says so); "likely": the
    #: kernel's cgroup counted an OOM kill while it ran; "": no sign of it.
    out_of_memory: str = ""

    @property
    def how(self) -> str:
        """A label for metrics: oom, signal, exit or unknown."""
        if self.out_of_memory:
            return "oom"
        return "signal" if self.signal is not None else "exit" if self.code is not None else (
            "unknown"
        )  # fmt: skip

    def describe(self) -> str:
        """``killed by signal 9 (SIGKILL) (out of memory?)``, ``exited with code 3``..."""
        if self.signal is not None:
            try:
                name = f" ({signal.Signals(self.signal).name})"
            except ValueError:
                name = ""
            text = f"killed by signal {self.signal}{name}"
        elif self.code is not None:
            text = f"exited with code {self.code}"
        else:
            text = "ended; the cause is not known"
        if self.out_of_memory:
            text += " (out of memory)" if self.out_of_memory == "killed" else " (out of memory?)"
        return text


class KernelStartError(RuntimeError):
    """A kernel could not be started; the message says why (stderr tail included)."""

    #: The HTTP status a client gets: 500 for a kernel that failed here, 502 when a
    #: remote service (a gateway, a container engine) failed or refused.
    http_status = 500


@dataclass(slots=True)
class KernelType:
    """One kind of kernel a provider can launch, as listed in /api/kernelspecs.

    ``spec`` has the kernelspec fields (``argv``, ``display_name``, ``language``,
    ``interrupt_mode``, ``env``, ``metadata``); ``resources`` maps a resource
    name (``logo-64x64``) to what ``KernelProvider.read_resource`` serves it from:
    a local file path by default (only its base name is shown to clients).
    """

    name: str
    spec: dict[str, Any]
    resources: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class LaunchRequest:
    """What the server asks of a launch: where, with which extra environment."""

    kernel_id: str
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    #: The server keeps kernels across its own restarts (sessions on file): launch
    #: the kernel detached from the server process if the provider can.
    persistent: bool = False
    #: What a kernel of this type ran with before (a notebook's recorded
    #: ``LaunchedKernel.environment()``): start exactly that again, or fail saying why.
    environment: Mapping[str, Any] | None = None


class LaunchedKernel(ABC):
    """A running kernel, as its provider controls it."""

    #: ZMQ connection info: transport, ip, shell_port, iopub_port, stdin_port,
    #: control_port, hb_port, key, signature_scheme.
    connection_info: dict[str, Any]

    @abstractmethod
    async def interrupt(self) -> None:
        """Interrupt the current execution (by signal or message, as the kernel wants)."""

    @abstractmethod
    async def restart(self, now: bool = False) -> None:
        """Stop the kernel and start it again with the same connection info."""

    @abstractmethod
    async def shutdown(self, now: bool = False) -> None:
        """Stop the kernel for good and release everything it held.

        ``now`` skips the polite steps and kills at once.
        """

    @abstractmethod
    async def is_alive(self) -> bool:
        """Whether the kernel is still running."""

    def describe(self) -> dict[str, Any]:
        """Provider-specific facts for logs and diagnostics (pid, container id...)."""
        return {}

    def environment(self) -> dict[str, Any]:
        """The exact environment this kernel runs in (an image digest...), JSON-able.

        Shown in the kernel model and recorded in the notebook, so that a later
        launch with ``LaunchRequest.environment`` set to it starts the same one.
        Empty for kernels whose environment cannot be named (local processes).
        """
        return {}

    def reattach_info(self) -> dict[str, Any]:
        """JSON-able facts the provider's ``reattach`` needs to find this kernel again.

        Stored by the server next to ``connection_info`` when kernels outlive it.
        """
        return {}

    def failure_details(self) -> str:
        """What the kernel said before it failed (an stderr tail), if known."""
        return ""

    def exit_details(self) -> KernelExit | None:
        """How the process ended, once ``is_alive()`` has said it did; None if unknown."""
        return None


class KernelProvider(ABC):
    """Finds kernel types and launches them.

    Subclasses are constructed with no arguments except an optional ``config``
    (a traitlets Config) so that third-party providers can be configured from
    ``jls_config.py`` under their class name.
    """

    #: Set by the finder from the entry-point name.
    id: str = ""
    #: Its kernels report an ``environment()`` worth recording in notebooks.
    records_environments: bool = False

    def __init__(self, config: Any = None) -> None:
        self.config = config

    def replaces_other_providers(self) -> bool:
        """True when only this provider's kernels should be offered (a remote gateway
        configured to stand in for local kernels)."""
        return False

    @abstractmethod
    async def find_kernels(self) -> list[KernelType]:
        """The kernel types this provider offers right now."""

    @abstractmethod
    async def launch(self, name: str, request: LaunchRequest) -> LaunchedKernel:
        """Start a kernel of type ``name``; raise KernelStartError on failure."""

    async def reattach(
        self, name: str, kernel_id: str, connection_info: dict[str, Any], info: dict[str, Any]
    ) -> LaunchedKernel | None:
        """Take control again of a kernel a previous server process launched.

        ``info`` is what the kernel's ``reattach_info()`` returned. Return None
        when the kernel is gone (its record is then dropped); raise
        KernelStartError when it may still run but cannot be controlled (the
        record is kept and the kernel left alone). The default: cannot.
        """
        raise KernelStartError(f"provider {self.id!r} cannot reattach kernels")

    async def close(self) -> None:
        """Release what the provider holds beyond its kernels (the server is stopping and
        has stopped them). The default: nothing to release."""
        return None

    async def read_resource(self, kernel_type: KernelType, filename: str) -> bytes | None:
        """The bytes of resource ``filename`` (a logo) of ``kernel_type``; None if it has
        none. The default reads the local file listed in ``kernel_type.resources``."""
        paths = {os.path.basename(p): p for p in kernel_type.resources.values()}
        path = paths.get(filename)
        if path is None:
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(None, _read_file, path)
        except OSError:
            return None


def _read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class _ProviderMeta(ABCMeta, MetaHasTraits):
    """Lets a provider be both a KernelProvider and a traitlets Configurable."""


class ConfigurableProvider(KernelProvider, LoggingConfigurable, metaclass=_ProviderMeta):
    """A provider with traitlets options, set as ``c.<ClassName>.<option>`` in jls_config.py."""

    def __init__(self, config: Any = None) -> None:
        LoggingConfigurable.__init__(self, config=config if config is not None else Config())
