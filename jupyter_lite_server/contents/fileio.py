"""Blocking file operations that never leave a half-written file behind.

Every write goes to a temporary file in the target's directory, is fsynced,
and is renamed over the target: a crash at any moment leaves either the old
file or the new one, never a truncated mix. Chunked uploads accumulate in a
hidden staging file and replace the target only when the last chunk arrives.
These functions block; the manager runs them in an executor.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile

STAGING_PREFIX = ".~jls-upload-"


def atomic_write(os_path: str, data: bytes) -> None:
    """Replace ``os_path`` with ``data`` atomically, keeping its permissions."""
    directory = os.path.dirname(os_path)
    try:
        mode = stat.S_IMODE(os.stat(os_path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    # A short name of our own: the user's name plus any affix could pass the file
    # system's limit (255 bytes) where the name itself does not.
    fd, tmp_path = tempfile.mkstemp(prefix=".~jls-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, os_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def staging_path(os_path: str) -> str:
    """Where an upload to ``os_path`` accumulates: the same place for every chunk, and a
    short name whatever the length of the target's."""
    directory, name = os.path.split(os_path)
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:24]
    return os.path.join(directory, STAGING_PREFIX + digest)


def write_chunk(os_path: str, data: bytes, chunk: int) -> bool:
    """Add chunk number ``chunk`` (1, 2, ..., -1 for the last) of an upload.

    Returns True when the upload is complete and the target was replaced.
    """
    staged = staging_path(os_path)
    if chunk == 1:
        with open(staged, "wb") as f:
            f.write(data)
        return False
    if not os.path.exists(staged):
        raise FileNotFoundError(staged)
    with open(staged, "ab") as f:
        f.write(data)
        if chunk == -1:
            f.flush()
            os.fsync(f.fileno())
    if chunk == -1:
        try:
            mode = stat.S_IMODE(os.stat(os_path).st_mode)
            os.chmod(staged, mode)
        except FileNotFoundError:
            pass
        os.replace(staged, os_path)
        _fsync_dir(os.path.dirname(os_path))
        return True
    return False


def read_bytes(os_path: str) -> bytes:
    with open(os_path, "rb") as f:
        return f.read()
