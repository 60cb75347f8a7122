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


def oom_kill_counter(pid: int) -> str | None:
    """The ``memory.events`` file of ``pid``'s cgroup (v2), if readable; None otherwise.

    Its ``oom_kill`` line counts processes of that cgroup killed by any OOM killer.
    """
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            path = os.path.join("/sys/fs/cgroup", line[3:].lstrip("/"), "memory.events")
            return path if oom_kills(path) is not None else None
    return None


def oom_kills(path: str) -> int | None:
    """The ``oom_kill`` count in a ``memory.events`` file, or None if unreadable."""
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        return None
    return None


def processes_with_env(name: str, value: str) -> dict[int, dict[str, str]]:
    """Live processes (that we may read) whose environment has ``name=value``: their
    environments, by PID. Empty where there is no /proc."""
    marker = f"\0{name}={value}\0".encode()
    found: dict[int, dict[str, str]] = {}
    try:
        pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                data = b"\0" + f.read()
        except OSError:
            continue  # gone, or not ours to read
        if marker in data and live_argv(pid) is not None:
            pairs = (item.partition(b"=") for item in data.split(b"\0") if item)
            found[pid] = {os.fsdecode(k): os.fsdecode(v) for k, _, v in pairs}
    return found
