"""The iopub keeper: output a kernel publishes while no server is listening is kept.

A kernel's iopub is a ZMQ PUB socket, which drops messages when nobody is
subscribed, so whatever a kernel prints while the server is down (killed,
restarting for an upgrade) would be lost. For kernels that outlive the server
(sessions on file) the server therefore starts, next to each kernel, a small
keeper process of its own: it subscribes to the kernel's iopub and republishes
it on an XPUB socket the server subscribes to. XPUB tells the keeper when the
server's subscription comes and goes; while there is none it buffers (bounded,
oldest dropped first), and when a server subscribes again it first sends the
buffered messages, each behind a ``jls-replay`` frame, then live ones.

The keeper runs as ``python -m jupyter_lite_server.kernels.persistence.iopub_keeper CONFIG``. It
ends on SIGTERM (the server stops it with its kernel) or by itself when the
kernel's heartbeat has been silent for ``grace`` seconds, so it never outlives
its kernel for long.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..protocol.ports import channel_url, pick_ports
from ..protocol.procs import live_argv
from ..protocol.wire import REPLAY_FRAME

HEARTBEAT_INTERVAL = 5.0


@dataclass(slots=True)
class KeeperHandle:
    """The server's view of a keeper: where to subscribe and which process to stop."""

    pid: int
    url: str
    #: Set when this server started the keeper (it must then reap it).
    process: subprocess.Popen | None = field(default=None, repr=False)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGTERM)
        if self.process is not None:  # no zombie left behind while the server runs
            threading.Thread(target=self.process.wait, daemon=True).start()

    def to_record(self) -> dict[str, Any]:
        return {"pid": self.pid, "url": self.url}


def start_keeper(
    kernel_id: str, connection_info: dict[str, Any], limit_bytes: int, grace: float
) -> KeeperHandle:
    """Launch a keeper for a kernel; it outlives the server (own session, no pipes)."""
    ip = "127.0.0.1"
    port = pick_ports(ip, 1)[0]
    config = {
        "kernel_id": kernel_id,
        "iopub": channel_url(connection_info, "iopub"),
        "hb": channel_url(connection_info, "hb"),
        "bind": f"tcp://{ip}:{port}",
        "limit": limit_bytes,
        "grace": grace,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", __name__, json.dumps(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    return KeeperHandle(pid=process.pid, url=str(config["bind"]), process=process)


def keeper_runs(record: dict[str, Any], kernel_id: str) -> bool:
    """Whether the keeper in ``record`` is still the live keeper of ``kernel_id``."""
    pid = record.get("pid")
    argv = live_argv(pid) if isinstance(pid, int) else None
    if not argv:
        return False
    command = b"\0".join(argv)
    # (kernels.keeper: the module's name before 0.2, for keepers of an older server)
    named = b"kernels.persistence.iopub_keeper" in command or b"kernels.keeper" in command
    return named and kernel_id.encode() in command


# --- the keeper process ------------------------------------------------------------


def run(config: dict[str, Any]) -> None:
    import zmq

    context = zmq.Context()
    upstream = context.socket(zmq.SUB)
    upstream.setsockopt(zmq.RCVHWM, 0)
    upstream.setsockopt(zmq.SUBSCRIBE, b"")
    upstream.connect(config["iopub"])
    downstream = context.socket(zmq.XPUB)
    downstream.setsockopt(zmq.SNDHWM, 0)
    downstream.setsockopt(zmq.LINGER, 0)
    downstream.bind(config["bind"])
    limit, grace = int(config["limit"]), float(config["grace"])
    kept: collections.deque[list[bytes]] = collections.deque()
    kept_bytes = 0
    subscribed = False
    heart = _Heartbeat(context, config["hb"])
    poller = zmq.Poller()
    poller.register(upstream, zmq.POLLIN)
    poller.register(downstream, zmq.POLLIN)
    while True:
        events = dict(poller.poll(1000))
        if downstream in events:
            event = downstream.recv()
            if event[:1] == b"\x01":
                subscribed = True
                while kept:
                    downstream.send_multipart([REPLAY_FRAME, *kept.popleft()], copy=False)
                kept_bytes = 0
            elif event[:1] == b"\x00":
                subscribed = False
        if upstream in events:
            frames = upstream.recv_multipart(copy=True)
            if subscribed:
                downstream.send_multipart(frames, copy=False)
            else:
                kept.append(frames)
                kept_bytes += sum(map(len, frames))
                while kept_bytes > limit and kept:
                    kept_bytes -= sum(map(len, kept.popleft()))
        if heart.silent_for() > grace:
            return  # the kernel is gone for good


class _Heartbeat:
    """Pings the kernel's heartbeat channel; knows for how long it has been silent."""

    def __init__(self, context: Any, url: str) -> None:
        self._context, self._url = context, url
        self._socket: Any = None
        self._sent_at = 0.0
        self._last_answer = time.monotonic()

    def silent_for(self) -> float:
        import zmq

        now = time.monotonic()
        if self._socket is not None and self._socket.poll(0, zmq.POLLIN):
            self._socket.recv()
            self._last_answer = now
            self._close()
        if self._socket is None and now - self._sent_at >= HEARTBEAT_INTERVAL:
            self._socket = self._context.socket(zmq.REQ)
            self._socket.setsockopt(zmq.LINGER, 0)
            self._socket.connect(self._url)
            self._socket.send(b"ping")
            self._sent_at = now
        elif self._socket is not None and now - self._sent_at >= HEARTBEAT_INTERVAL:
            self._close()  # unanswered: try again on a fresh socket next time
        return now - self._last_answer

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C of the server's terminal
    run(json.loads(sys.argv[1]))


if __name__ == "__main__":
    main()
