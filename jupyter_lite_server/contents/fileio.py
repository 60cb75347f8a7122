"""Blocking file operations that reach the user's file and never leave a half-written one.

A save writes the file the user meant: through a symlink to its target, and
keeping the target's owner, group and mode. Where it can, it writes a
temporary file beside the target, fsyncs it and renames it over the target, so
a crash leaves the old file or the new one, never a mix. Where a rename would
lose something the user relies on — a hard link (the other names would keep
the old bytes) or an owner the server may not give the new file — it writes in
place instead, after copying the old bytes to a backup beside it that is
removed once the new bytes are on disk (the backup is what is left to recover
from if the machine dies mid-write). docs/security.md, "Saving".

Only regular files are opened, and the check is made on the opened descriptor
(opened non-blocking, so a FIFO never blocks a worker thread). These
functions block; the manager runs them in an executor.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from typing import BinaryIO

from .errors import InvalidContent, NotRegularFile

STAGING_PREFIX = ".~jls-upload-"
_TEMP_PREFIX = ".~jls-"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def refuse_unless_regular(st: os.stat_result, os_path: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", os_path)
    if not stat.S_ISREG(st.st_mode):
        name = os.path.basename(os_path)
        raise NotRegularFile(f"{name} is {_kind(st.st_mode)}: only regular files can be opened")


def open_regular(os_path: str, flags: int = os.O_RDONLY) -> tuple[int, os.stat_result]:
    """A descriptor on ``os_path``, refused unless it is a regular file."""
    fd = os.open(os_path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        refuse_unless_regular(st, os_path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_bytes(os_path: str) -> bytes:
    fd, _ = open_regular(os_path)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def open_for_download(os_path: str) -> BinaryIO:
    """A binary file object on a regular file (a FIFO is refused, never waited on)."""
    fd, _ = open_regular(os_path)
    return os.fdopen(fd, "rb")


def existing_target(os_path: str) -> tuple[str, os.stat_result | None]:
    """The file a write to ``os_path`` must change (a symlink's target) and its stat."""
    target = os.path.realpath(os_path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    refuse_unless_regular(st, os_path)
    return target, st


def atomic_write(os_path: str, data: bytes) -> None:
    """Make ``os_path`` (or the file it links to) hold ``data``; see the module docstring."""
    target, st = existing_target(os_path)
    fd, tmp_path = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp_path, target, st)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)


def _commit(tmp_path: str, target: str, st: os.stat_result | None) -> None:
    """Put the finished ``tmp_path`` in place of ``target`` (stat ``st``, None if new)."""
    if st is None:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
    elif st.st_nlink > 1 or not _take_owner(tmp_path, st):
        _write_in_place(tmp_path, target)
        return
    else:
        os.chmod(tmp_path, stat.S_IMODE(st.st_mode))
    os.replace(tmp_path, target)
    _fsync_dir(os.path.dirname(target))


def _take_owner(tmp_path: str, st: os.stat_result) -> bool:
    """Give ``tmp_path`` the owner and group of the file it replaces; False if not allowed."""
    mine = os.stat(tmp_path)
    if (mine.st_uid, mine.st_gid) == (st.st_uid, st.st_gid):
        return True
    try:
        os.chown(tmp_path, st.st_uid, st.st_gid)
    except PermissionError:
        return False
    return True


def _write_in_place(source_path: str, target: str) -> None:
    """Copy ``source_path`` over ``target``'s bytes, keeping its inode (links, owner).

    The old bytes go to a backup beside the target first; a failed write puts
    them back, and the backup is removed once the new bytes are on disk.
    """
    fd, _ = open_regular(target, os.O_RDWR)
    with os.fdopen(fd, "r+b") as f:
        old = f.read()
        backup_fd, backup = tempfile.mkstemp(
            prefix=_TEMP_PREFIX, suffix=".bak", dir=os.path.dirname(target)
        )
        with os.fdopen(backup_fd, "wb") as b:
            b.write(old)
            b.flush()
            os.fsync(b.fileno())
        try:
            with open(source_path, "rb") as src:
                _overwrite(f, src.read())
        except BaseException:
            _overwrite(f, old)
            os.unlink(backup)
            raise
    os.unlink(backup)


def _overwrite(f: BinaryIO, data: bytes) -> None:
    f.seek(0)
    f.write(data)
    f.truncate()
    f.flush()
    os.fsync(f.fileno())


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
    """Where an upload to ``os_path`` accumulates: beside the file it will replace (a
    symlink's target), the same for every chunk, short whatever the target's name."""
    directory, name = os.path.split(os.path.realpath(os_path))
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:24]
    return os.path.join(directory, STAGING_PREFIX + digest)


def write_chunk(os_path: str, data: bytes, chunk: int) -> bool:
    """Add chunk number ``chunk`` (1, 2, ..., -1 for the last) of an upload.

    Returns True when the upload is complete and the target was replaced.
    """
    existing_target(os_path)  # uploading over a FIFO is refused at once
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
            _commit(staged, *existing_target(os_path))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)
        return True
    return False


def send_to_trash(os_path: str, api_path: str) -> None:
    """Move a file or folder to the trash (send2trash: the freedesktop.org trash of its
    file system on Linux). A file system with no usable trash is a clear error."""
    from send2trash import send2trash
    from send2trash.exceptions import TrashPermissionError

    try:
        send2trash(os_path)
    except (TrashPermissionError, OSError) as exc:
        if isinstance(exc, FileNotFoundError) and not os.path.lexists(os_path):
            raise
        raise InvalidContent(
            f"Could not move {api_path} to the trash ({exc}); the server can delete for "
            "good instead with ContentsManager.delete_to_trash = False"
        ) from None
