"""Small JSON documents kept as files (workspaces, front-end config sections).

Every file operation runs in the default executor: a slow disk never stalls
the event loop. Errors are domain errors; the handlers choose the statuses.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from ..contents.fileio import atomic_write

T = TypeVar("T")


class InvalidName(ValueError):
    """A document name that cannot be a file name here."""


class NoSuchDocument(KeyError):
    """No document by that name."""


class JsonFileStore:
    """One JSON file per named document, in one directory."""

    def __init__(self, directory: str, suffix: str) -> None:
        self.directory = directory
        self.suffix = suffix

    def path(self, name: str) -> str:
        safe = name.replace("/", "%2F").replace("\\", "%5C")
        if safe in ("", ".", "..") or "\0" in safe or len(safe.encode()) > 200:
            raise InvalidName(f"Invalid name {name[:80]!r}")
        return os.path.join(self.directory, safe + self.suffix)

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    async def read(self, name: str) -> dict[str, Any] | None:
        """The document, or None if there is none (or it is not readable JSON)."""
        return await self._run(self._read, self.path(name))

    async def write(self, name: str, value: dict[str, Any]) -> None:
        await self._run(self._write, self.path(name), json.dumps(value).encode())

    async def delete(self, name: str) -> None:
        try:
            await self._run(os.remove, self.path(name))
        except FileNotFoundError:
            raise NoSuchDocument(name) from None

    async def read_all(self) -> list[dict[str, Any]]:
        """Every readable document, in name order."""
        return await self._run(self._read_all)

    @staticmethod
    def _read(path: str) -> dict[str, Any] | None:
        try:
            with open(path) as f:
                value = json.load(f)
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def _write(self, path: str, data: bytes) -> None:
        os.makedirs(self.directory, exist_ok=True)
        atomic_write(path, data)

    def _read_all(self) -> list[dict[str, Any]]:
        try:
            entries = sorted(os.listdir(self.directory))
        except OSError:
            return []
        names = [e for e in entries if e.endswith(self.suffix)]
        values = [self._read(os.path.join(self.directory, e)) for e in names]
        return [v for v in values if v]
