"""Notebooks remember the exact kernel environment they ran in, and get it back.

A provider whose kernels can name their environment (the docker provider: an
image id and registry digests) reports it in ``LaunchedKernel.environment()``.
When a notebook with a live session is saved, that environment is written to
its metadata::

    "metadata": {"jupyter_lite_server": {"kernel_environment": {
        "kernel_name": "python-prod", "provider": "docker", "kernel_type": "python-prod",
        "environment": {"image": "...:latest", "image_id": "sha256:...", ...}}}}

When a session later starts a kernel of the same provider and type for that
notebook, on this server or another one, the provider is asked for exactly
that environment, even if the kernel name now points to a newer image.
Picking another kernel (or deleting the metadata) lets it move on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ..contents.errors import ContentsError
from ..contents.manager import ContentsManager
from ..kernels.lifecycle.finder import NoSuchKernel
from ..kernels.manager import MappingKernelManager, UnknownKernel

log = logging.getLogger("jls.sessions")

METADATA_KEY = "jupyter_lite_server"
ENTRY = "kernel_environment"


class EnvironmentPins:
    """Writes kernel environments into notebooks on save; reads them at kernel start."""

    def __init__(
        self,
        kernel_manager: MappingKernelManager,
        contents_manager: ContentsManager,
        kernel_for_path,
    ) -> None:
        self.kernel_manager = kernel_manager
        self.contents_manager = contents_manager
        self._kernel_for_path = kernel_for_path  # async (api path) -> kernel id or None

    async def before_save(self, path: str) -> dict[str, dict[str, Any]]:
        """The environment of the kernel of this notebook's session, to record, if any."""
        kernel_id = await self._kernel_for_path(path)
        if kernel_id is None:
            return {}
        try:
            kernel = self.kernel_manager.get(kernel_id)
        except UnknownKernel:
            return {}
        environment = kernel.launched.environment()
        if not environment:
            return {}
        provider, kernel_type = kernel.origin
        return {
            METADATA_KEY: {
                ENTRY: {
                    "kernel_name": kernel.name,
                    "provider": provider,
                    "kernel_type": kernel_type,
                    "environment": environment,
                }
            }
        }

    async def recorded(self, path: str, kernel_name: str | None) -> dict[str, Any] | None:
        """The environment ``path`` recorded for the kernel ``kernel_name`` resolves to."""
        if not path.endswith(".ipynb"):
            return None
        finder = self.kernel_manager.finder
        if not any(provider.records_environments for provider in finder.providers):
            return None  # the usual case: no provider can name an environment
        name = kernel_name or self.kernel_manager.default_kernel_name
        try:
            found = await finder.resolve(name)
        except NoSuchKernel:
            return None
        if not found.provider.records_environments:
            return None  # local kernels: no need to read the notebook
        entry = await asyncio.to_thread(self._read_entry, path)
        if (
            isinstance(entry, dict)
            and entry.get("provider") == found.provider.id
            and entry.get("kernel_type") == found.kernel_type.name
            and isinstance(entry.get("environment"), dict)
        ):
            log.info("%s starts the kernel environment it recorded: %s", path, entry["environment"])
            return entry["environment"]
        return None

    def _read_entry(self, path: str) -> Any:
        try:
            with open(self.contents_manager.os_path(path), "rb") as f:
                notebook = json.load(f)
        except (
            OSError,
            ValueError,
            ContentsError,
        ) as exc:  # new, unreadable or not JSON: nothing recorded
            log.debug("No recorded kernel environment in %s: %s", path, exc)
            return None
        metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
        section = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
        return section.get(ENTRY) if isinstance(section, dict) else None
