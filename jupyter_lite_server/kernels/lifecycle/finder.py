"""KernelFinder: the kernel types of every installed provider, under one namespace.

Providers come from the ``jupyter_lite_server.kernel_providers`` entry-point
group. Names as clients see them:

* a name offered by exactly one provider is listed as is;
* when several providers offer the same name, the first in
  ``provider_order`` gets the plain name; the others are reachable (and,
  with ``show_shadowed``, listed) as ``<provider id>-<name>``;
* ``<provider id>-<name>`` always resolves, for any provider;
* a provider whose ``replaces_other_providers()`` is true (a gateway standing in
  for local kernels) hides every other provider.

Kernelspec names must match ``[\\w.\\-%]+`` in URLs, so ``-`` is the separator.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from traitlets import Bool, List, Unicode
from traitlets.config import Configurable

from ..providers.base import (
    KernelProvider,
    KernelStartError,
    KernelType,
    LaunchedKernel,
    LaunchRequest,
)

log = logging.getLogger("jls.kernels")

ENTRY_POINT_GROUP = "jupyter_lite_server.kernel_providers"


class NoSuchKernel(KeyError):
    """No provider offers a kernel by that name."""

    def __str__(self) -> str:
        return f"No such kernel: {self.args[0]!r}"


@dataclass(slots=True)
class FoundKernel:
    """A kernel type under the name clients use, with the provider behind it."""

    name: str
    provider: KernelProvider
    kernel_type: KernelType


class KernelFinder(Configurable):
    """Lists and launches kernels across providers."""

    provider_order = List(
        Unicode(), ["spec", "pyimport"], help="Providers that win a shared kernel name, in order."
    ).tag(config=True)
    disabled_providers = List(Unicode(), help="Provider ids not to load.").tag(config=True)
    show_shadowed = Bool(
        False, help="Also list kernels hidden by a same-named kernel of an earlier provider."
    ).tag(config=True)

    def __init__(self, providers: list[KernelProvider] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.providers = providers if providers is not None else self._load_entry_points()

    def _load_entry_points(self) -> list[KernelProvider]:
        """Instantiate every registered provider; a broken one is logged and skipped."""
        from importlib.metadata import entry_points

        loaded: dict[str, KernelProvider] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self.disabled_providers or ep.name in loaded:
                continue
            try:
                provider_class = ep.load()
                provider = provider_class(config=self.config)
                if not isinstance(provider, KernelProvider):
                    raise TypeError(f"{ep.value} is not a KernelProvider")
            except Exception:
                log.exception(
                    "Kernel provider %r (%s) failed to load; skipping it", ep.name, ep.value
                )
                continue
            provider.id = ep.name
            loaded[ep.name] = provider
        order = list(self.provider_order)

        def rank(pid: str) -> tuple[int, str]:
            return (order.index(pid) if pid in order else len(order), pid)

        log.info("Kernel providers: %s", ", ".join(sorted(loaded, key=rank)) or "none")
        return [loaded[pid] for pid in sorted(loaded, key=rank)]

    async def close(self) -> None:
        """Let every provider release what it holds; one that fails is logged, not fatal."""
        for provider in self.providers:
            try:
                await provider.close()
            except Exception:
                log.exception("Kernel provider %r failed to close", provider.id)

    async def _offers(self, provider: KernelProvider) -> list[KernelType]:
        try:
            return await provider.find_kernels()
        except Exception:
            log.exception("Kernel provider %r failed to list its kernels; skipping it", provider.id)
            return []

    async def _all(self) -> tuple[list[FoundKernel], dict[str, FoundKernel]]:
        """(listed kernels, every resolvable name → kernel)."""
        providers = self.providers
        replacing = [p for p in providers if p.replaces_other_providers()]
        if replacing:  # e.g. a gateway standing in for local kernels
            providers = replacing
        offers = await asyncio.gather(*(self._offers(p) for p in providers))
        listed: list[FoundKernel] = []
        resolvable: dict[str, FoundKernel] = {}
        for provider, kernel_types in zip(providers, offers, strict=True):
            for kernel_type in kernel_types:
                qualified = f"{provider.id}-{kernel_type.name}"
                if kernel_type.name not in resolvable:
                    found = FoundKernel(kernel_type.name, provider, kernel_type)
                    listed.append(found)
                    resolvable[kernel_type.name] = found
                else:
                    found = FoundKernel(qualified, provider, kernel_type)
                    if self.show_shadowed:
                        listed.append(found)
                resolvable.setdefault(qualified, found)
        return listed, resolvable

    async def find_kernels(self) -> list[FoundKernel]:
        listed, _ = await self._all()
        return listed

    async def resolve(self, name: str) -> FoundKernel:
        _, resolvable = await self._all()
        try:
            return resolvable[name]
        except KeyError:
            raise NoSuchKernel(name) from None

    async def launch(self, name: str, request: LaunchRequest) -> tuple[FoundKernel, LaunchedKernel]:
        found = await self.resolve(name)
        launched = await found.provider.launch(found.kernel_type.name, request)
        return found, launched

    async def reattach(
        self,
        provider_id: str,
        type_name: str,
        kernel_id: str,
        connection_info: dict[str, Any],
        info: dict[str, Any],
    ) -> LaunchedKernel | None:
        """Hand a stored kernel back to the provider that launched it."""
        for provider in self.providers:
            if provider.id == provider_id:
                return await provider.reattach(type_name, kernel_id, connection_info, info)
        raise KernelStartError(f"kernel provider {provider_id!r} is not installed (any more)")
