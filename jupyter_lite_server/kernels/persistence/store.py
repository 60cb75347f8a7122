"""What the kernel manager remembers about kernels that may outlive the server.

The manager only sees this small interface; the sessions package implements
it on the sessions database, so the kernel code holds no SQL.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class KernelRecord:
    """One kernel as stored: enough for its provider to find and control it again."""

    kernel_id: str
    name: str  # as clients know it
    provider_id: str
    type_name: str  # the provider's own name for the kernel type
    connection_info: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)  # LaunchedKernel.reattach_info()
    #: No client holds it (in the warm pool, or being shut down): a next server stops
    #: it instead of reattaching it.
    pooled: bool = False
    keeper: dict[str, Any] = field(default_factory=dict)  # its iopub keeper: pid, url

    @staticmethod
    def json_safe_connection(info: dict[str, Any]) -> dict[str, Any]:
        """Connection info with the key as text (jupyter_client hands it as bytes)."""
        safe = dict(info)
        key = safe.get("key", "")
        if isinstance(key, bytes):
            try:
                safe["key"] = key.decode("ascii")
            except UnicodeDecodeError:
                safe["key"] = "base64:" + base64.b64encode(key).decode("ascii")
        return safe

    @staticmethod
    def key_bytes(key: str | bytes) -> bytes:
        if isinstance(key, bytes):
            return key
        if key.startswith("base64:"):
            return base64.b64decode(key[7:])
        return key.encode("ascii")


class KernelStore(Protocol):
    """Where kernel records live (the sessions database)."""

    #: Names this store (the database file's real path): kernels launched with it
    #: carry it in their environment.
    owner: str

    async def save(self, record: KernelRecord) -> None: ...

    async def remove(self, kernel_id: str) -> None: ...

    async def load_all(self) -> list[KernelRecord]: ...
