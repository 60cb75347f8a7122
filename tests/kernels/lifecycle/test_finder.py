"""Unit tier: how the finder names kernels across providers."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jupyter_lite_server.kernels.lifecycle.finder import KernelFinder, NoSuchKernel
from jupyter_lite_server.kernels.providers.base import (
    KernelProvider,
    KernelStartError,
    KernelType,
    LaunchedKernel,
    LaunchRequest,
)


class ListingProvider(KernelProvider):
    """A provider that offers fixed kernel types (it never launches in these tests)."""

    def __init__(self, pid: str, names: list[str], replaces: bool = False) -> None:
        super().__init__()
        self.id = pid
        self.names = names
        self.replaces = replaces

    def replaces_other_providers(self) -> bool:
        return self.replaces

    async def find_kernels(self) -> list[KernelType]:
        spec = {"language": "python"}
        return [KernelType(name, {**spec, "display_name": name}) for name in self.names]

    async def launch(self, name: str, request: LaunchRequest) -> LaunchedKernel:
        raise KernelStartError("not in a unit test")


class BrokenProvider(ListingProvider):
    async def find_kernels(self) -> list[KernelType]:
        raise OSError("the registry is unreachable")


def finder(*providers: KernelProvider, show_shadowed: bool = False) -> KernelFinder:
    config = Config({"KernelFinder": {"show_shadowed": show_shadowed}})
    return KernelFinder(providers=list(providers), config=config)


async def test_a_name_offered_once_is_listed_as_is_and_qualified_names_always_resolve():
    found = finder(ListingProvider("spec", ["python3"]), ListingProvider("docker", ["r"]))
    assert [k.name for k in await found.find_kernels()] == ["python3", "r"]
    assert (await found.resolve("docker-r")).provider.id == "docker"
    assert (await found.resolve("spec-python3")).kernel_type.name == "python3"


async def test_the_first_provider_wins_a_shared_name_and_the_other_is_qualified():
    first, second = ListingProvider("spec", ["python3"]), ListingProvider("pyimport", ["python3"])
    assert [k.name for k in await finder(first, second).find_kernels()] == ["python3"]
    shown = finder(first, second, show_shadowed=True)
    assert [k.name for k in await shown.find_kernels()] == ["python3", "pyimport-python3"]
    assert (await shown.resolve("python3")).provider is first
    assert (await shown.resolve("pyimport-python3")).provider is second


async def test_a_replacing_provider_hides_every_other():
    local = ListingProvider("spec", ["python3"])
    gateway = ListingProvider("gateway", ["python3", "scala"], replaces=True)
    found = finder(local, gateway)
    assert [(k.name, k.provider.id) for k in await found.find_kernels()] == [
        ("python3", "gateway"),
        ("scala", "gateway"),
    ]
    with pytest.raises(NoSuchKernel):
        await found.resolve("spec-python3")


async def test_a_broken_provider_is_skipped_and_unknown_names_are_refused():
    found = finder(BrokenProvider("broken", []), ListingProvider("spec", ["python3"]))
    assert [k.name for k in await found.find_kernels()] == ["python3"]
    with pytest.raises(NoSuchKernel, match="nope"):
        await found.resolve("nope")
    with pytest.raises(KernelStartError, match="not installed"):
        await found.reattach("gone", "python3", "id", {}, {})
