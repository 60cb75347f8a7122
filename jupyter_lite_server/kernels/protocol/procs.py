"""Looking at a process by PID: is it still running, and what is its command line."""

from __future__ import annotations

import os


def live_argv(pid: int) -> list[bytes] | None:
    """The command line of a live, non-zombie process we may signal; None otherwise.

    Where there is no /proc the command line cannot be read: ``[]`` then means
    "alive, command line unknown".
    """
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return None  # gone, or someone else's process
    if not os.path.isdir("/proc/self"):
        return []
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().split(b"\0")
    except (OSError, IndexError):
        return None
    return None if state == b"Z" else argv
