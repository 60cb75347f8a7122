"""A small favicon (an orange square), so pages that ask for one get an answer."""

from __future__ import annotations

import struct
import zlib

from .base import BaseHandler


def _png(size: int = 16, rgba: tuple[int, int, int, int] = (243, 118, 38, 255)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack("!I", len(data))
            + kind
            + data
            + struct.pack("!I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + bytes(rgba) * size for _ in range(size))
    header = struct.pack("!IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + (chunk(b"IEND", b""))
    )


def _ico(png: bytes, size: int = 16) -> bytes:
    """An ICO container holding one PNG image."""
    return (
        struct.pack("<HHH", 0, 1, 1)
        + struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), 22)
        + png
    )


FAVICON = _ico(_png())


class FaviconHandler(BaseHandler):
    auth_required = False

    def get(self, name: str = "") -> None:
        self.set_header("Content-Type", "image/x-icon")
        self.set_header("Cache-Control", "public, max-age=86400")
        self.finish(FAVICON)
