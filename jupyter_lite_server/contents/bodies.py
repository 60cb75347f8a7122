"""Contents request and response bodies, shared by the server and its worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from typing import Any

from ..web import jsonbody
from .errors import InvalidContent


def save_request(body: bytes) -> dict[str, Any]:
    """A PUT body as a save model; InvalidContent (400) for anything else."""
    try:
        model = jsonbody.parse_object(body, required=True)
    except jsonbody.BodyError as exc:
        raise InvalidContent(str(exc)) from None
    if model.get("copy_from"):
        raise InvalidContent("Cannot copy with PUT, only POST")
    return model


def apply_metadata(model: dict[str, Any], sections: dict[str, dict[str, Any]]) -> None:
    """Merge ``{section: {key: value}}`` into a notebook save model's metadata."""
    content = model.get("content")
    if not sections or model.get("type") != "notebook" or not isinstance(content, dict):
        return
    metadata = content.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        return  # not a notebook: validation refuses it
    for name, entries in sections.items():
        section = metadata.setdefault(name, {})
        if isinstance(section, dict):
            section.update(entries)


def dumps_model(model: dict[str, Any]) -> bytes:
    """The model as JSON bytes; a listing entry by entry, so that a thread doing this
    for 20,000 files lets the event loop run in between."""
    content = model.get("content")
    if not isinstance(content, list) or len(content) < 256:
        return _dumps(model)
    head = _dumps({key: value for key, value in model.items() if key != "content"})
    entries = b",".join(_dumps(entry) for entry in content)
    return head[:-1] + b',"content":[' + entries + b"]}"

def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class Spooled:
    """A large body in a private temporary file: between the server and a worker,
    neither side holds or copies it whole; whoever has it last removes it."""

    CHUNK = 1 << 20

    def __init__(self, data: bytes | None = None) -> None:
        fd, self.path = tempfile.mkstemp(prefix="jls-body-")
        with os.fdopen(fd, "wb") as f:
            if data is not None:
                f.write(data)

    def append(self, data: bytes) -> None:
        with open(self.path, "ab") as f:
            f.write(data)

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class IncomingBody:
    """A request body as it arrives: in memory while small, written to a spool file
    (off the event loop) once it reaches ``spill_at``, so a 50 MB save is never
    joined into one buffer in the server."""

    def __init__(self, spill_at: int, keep: bool = True) -> None:
        self._spill_at = spill_at
        self._keep = keep
        self._chunks: list[bytes] = []
        self._held = 0
        self.spooled: Spooled | None = None

    async def add(self, chunk: bytes) -> None:
        if not self._keep:
            return  # a refused request's body: read so the client gets its answer, kept nowhere
        self._chunks.append(chunk)
        self._held += len(chunk)
        if self._held >= (Spooled.CHUNK if self.spooled else self._spill_at):
            await self._spill()

    async def _spill(self) -> None:
        data, self._chunks, self._held = b"".join(self._chunks), [], 0
        loop = asyncio.get_running_loop()
        if self.spooled is None:
            self.spooled = await loop.run_in_executor(None, Spooled)
        await loop.run_in_executor(None, self.spooled.append, data)

    async def complete(self) -> bytes | Spooled:
        """The whole body: bytes, or the spool file (the caller removes it)."""
        if self.spooled is None:
            return b"".join(self._chunks)
        await self._spill()
        return self.spooled

    def discard(self) -> None:
        if self.spooled is not None:
            self.spooled.discard()
