"""Runtime files: how editors, ``jupyter server list`` and ``jls list``/``jls stop`` find us.

Each running server writes ``jpserver-<pid>.json`` (mode 0600: it holds the
token) in the Jupyter runtime directory with the fields jupyter_server
writes, and removes it on exit. A file whose process is gone is stale and is
removed by whoever lists it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from ..kernels.protocol.procs import live_argv

INFO_FILE = re.compile(r"jpserver-(\d+)\.json$")


def runtime_dir() -> str:
    from jupyter_core.paths import jupyter_runtime_dir

    return jupyter_runtime_dir()


class RuntimeFile:
    """This server's ``jpserver-<pid>.json``: written once listening, removed on exit."""

    def __init__(self, info: dict[str, Any], directory: str | None = None) -> None:
        self.info = info
        self.path = os.path.join(directory or runtime_dir(), f"jpserver-{info['pid']}.json")

    def write(self) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        temporary = f"{self.path}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.info, f, indent=2, sort_keys=True)
        os.replace(temporary, self.path)  # readers never see half a file

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def running_servers(directory: str | None = None) -> Iterator[dict[str, Any]]:
    """The servers whose runtime file names a live process (stale files are removed)."""
    directory = directory or runtime_dir()
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return
    for name in names:
        if not INFO_FILE.match(name):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError):
            continue  # being written, or not ours to judge
        pid = info.get("pid")
        if isinstance(pid, int) and live_argv(pid) is not None:
            yield info
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def display(info: dict[str, Any]) -> str:
    """``url?token=T :: root``, as ``jupyter server list`` prints a server."""
    url = info.get("url", "")
    token = info.get("token")
    return f"{url}?token={token} :: {info.get('root_dir', '')}" if token else (
        f"{url} :: {info.get('root_dir', '')}"
    )  # fmt: skip


def stop_server(info: dict[str, Any], timeout: float = 30.0) -> bool:
    """Ask a server to stop (``POST api/shutdown`` with its token; SIGTERM if that fails)
    and wait until its process is gone. True if it stopped."""
    pid = info["pid"]
    asked = False
    if not info.get("sock"):
        request = urllib.request.Request(
            f"{info['url'].rstrip('/')}/api/shutdown",
            method="POST",
            headers={"Authorization": f"token {info.get('token', '')}"},
        )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(request, timeout=10, context=_unverified()),
        ):
            asked = True
    if not asked:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if live_argv(pid) is None:
            return True
        time.sleep(0.1)
    return False


def _unverified() -> Any:
    """A server's own self-signed certificate must not stop ``jls stop`` on this machine."""
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
