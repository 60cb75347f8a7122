"""The iopub keeper: output a kernel publishes while no server is listening is kept.

A kernel's iopub is a ZMQ PUB socket, which drops messages when nobody is
subscribed, so whatever a kernel prints while the server is down (killed,
restarting for an upgrade) would be lost. For kernels that outlive the server
(sessions on file) the server therefore relays each kernel's iopub through a
keeper process of its own: a relay subscribes to the kernel's iopub and
republishes it on an XPUB socket the server subscribes to. XPUB tells the relay
when the server's subscription comes and goes; while there is none it buffers
(bounded, oldest dropped first), and when a server subscribes again it first
sends the buffered messages, each behind a ``jls-replay`` frame, then live ones.

One keeper process holds the relays of all the kernels a server starts (a relay
costs a few sockets and its buffer, where a process per kernel cost 20 MB). The
server starts it with the first kernel and sends it one JSON line per change
on its stdin: ``{"add": config}``, ``{"remove": kernel_id}``. The keeper
outlives the server: when its stdin closes it takes no new kernels and goes on
relaying. A relay ends when its kernel is removed or its heartbeat has been
silent for ``grace`` seconds, and the keeper exits when no relay is left, so
it never outlives its kernels for long. A next server starts its own keeper
for its own new kernels.

The keeper runs as ``python -m jupyter_lite_server.kernels.persistence.iopub_keeper --host``.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..protocol.ports import channel_url, pick_ports
from ..protocol.procs import live_argv
from ..protocol.wire import REPLAY_FRAME

HEARTBEAT_INTERVAL = 5.0
HOST_FLAG = "--host"


@dataclass(slots=True)
class KeeperHandle:
    """The server's view of one kernel's relay: where to subscribe, how to end it."""

    pid: int
    url: str
    kernel_id: str = ""
    #: This server's keeper process, which takes ``remove``; None for a keeper an
    #: earlier server started (its relay ends with the kernel's heartbeat).
    host: KeeperHost | None = field(default=None, repr=False)
    #: False only for the one-kernel keeper processes of servers before 0.3.
    shared: bool = True

    def stop(self) -> None:
        if self.host is not None:
            self.host.remove(self.kernel_id)
        elif not self.shared:  # that kernel's own process
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGTERM)

    def to_record(self) -> dict[str, Any]:
        return {"pid": self.pid, "url": self.url, "shared": self.shared}


class KeeperHost:
    """This server's keeper process: started with the first kernel that needs it."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def add(
        self, kernel_id: str, connection_info: dict[str, Any], limit_bytes: int, grace: float
    ) -> KeeperHandle:
        ip = "127.0.0.1"
        config = {
            "kernel_id": kernel_id,
            "iopub": channel_url(connection_info, "iopub"),
            "hb": channel_url(connection_info, "hb"),
            "bind": f"tcp://{ip}:{pick_ports(ip, 1)[0]}",
            "limit": limit_bytes,
            "grace": grace,
        }
        try:
            process = self._send({"add": config})
        except OSError:  # the keeper died: a fresh one for this kernel and the next
            self._process = None
            process = self._send({"add": config})
        return KeeperHandle(pid=process.pid, url=str(config["bind"]), kernel_id=kernel_id,
                            host=self)  # fmt: skip

    def remove(self, kernel_id: str) -> None:
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(OSError):
                self._send({"remove": kernel_id})

    def _send(self, command: dict[str, Any]) -> subprocess.Popen[bytes]:
        """One line to the keeper (a pipe write of a few hundred bytes)."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", __name__, HOST_FLAG],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # outlives the server, deaf to its terminal
                    close_fds=True,
                )
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(command).encode() + b"\n")
            self._process.stdin.flush()
            return self._process

    def close(self) -> None:
        """The server ends: the keeper takes no more kernels and relays on."""
        process, self._process = self._process, None
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
            threading.Thread(target=process.wait, daemon=True).start()  # no zombie


def keeper_runs(record: dict[str, Any], kernel_id: str) -> bool:
    """Whether the keeper in ``record`` is still running (and relaying ``kernel_id``)."""
    pid = record.get("pid")
    argv = live_argv(pid) if isinstance(pid, int) else None
    if not argv:
        return False
    command = b"\0".join(argv)
    if record.get("shared"):
        return __name__.encode() in command and HOST_FLAG.encode() in argv
    # A one-kernel keeper of an older server (kernels.keeper: its name before 0.2).
    named = b"kernels.persistence.iopub_keeper" in command or b"kernels.keeper" in command
    return named and kernel_id.encode() in command


# --- the keeper process ------------------------------------------------------------


class _Relay:
    """One kernel's iopub: relayed while a server subscribes, kept while none does."""

    def __init__(self, context: Any, config: dict[str, Any]) -> None:
        import zmq

        self.kernel_id = str(config["kernel_id"])
        self.upstream = context.socket(zmq.SUB)
        self.upstream.setsockopt(zmq.RCVHWM, 0)
        self.upstream.setsockopt(zmq.SUBSCRIBE, b"")
        self.upstream.setsockopt(zmq.LINGER, 0)
        self.upstream.connect(config["iopub"])
        self.downstream = context.socket(zmq.XPUB)
        self.downstream.setsockopt(zmq.SNDHWM, 0)
        self.downstream.setsockopt(zmq.LINGER, 0)
        try:
            self.downstream.bind(config["bind"])
        except zmq.ZMQError:
            self.upstream.close()
            self.downstream.close()
            raise
        self.limit, self.grace = int(config["limit"]), float(config["grace"])
        self.kept: collections.deque[list[bytes]] = collections.deque()
        self.kept_bytes = 0
        self.subscribed = False
        self.heart = _Heartbeat(context, config["hb"])

    def from_server(self) -> None:
        event = self.downstream.recv()
        if event[:1] == b"\x01":
            self.subscribed = True
            while self.kept:
                self.downstream.send_multipart([REPLAY_FRAME, *self.kept.popleft()], copy=False)
            self.kept_bytes = 0
        elif event[:1] == b"\x00":
            self.subscribed = False

    def from_kernel(self) -> None:
        frames = self.upstream.recv_multipart(copy=True)
        if self.subscribed:
            self.downstream.send_multipart(frames, copy=False)
            return
        self.kept.append(frames)
        self.kept_bytes += sum(map(len, frames))
        while self.kept_bytes > self.limit and self.kept:
            self.kept_bytes -= sum(map(len, self.kept.popleft()))

    def close(self) -> None:
        self.heart.close()
        self.upstream.close()
        self.downstream.close()


def serve(control: int) -> None:
    """Relay until the control pipe is closed and every relay has ended."""
    import zmq

    context = zmq.Context()
    poller = zmq.Poller()
    poller.register(control, zmq.POLLIN)
    relays: dict[str, _Relay] = {}
    handlers: dict[Any, Callable[[], None]] = {}
    pending = b""
    control_open = True
    next_beat = 0.0

    def end(kernel_id: str) -> None:
        relay = relays.pop(kernel_id, None)
        if relay is not None:
            for sock in (relay.upstream, relay.downstream):
                poller.unregister(sock)
                handlers.pop(sock, None)
            relay.close()

    while control_open or relays:
        events = dict(poller.poll(1000))
        if control_open and control in events:
            data = os.read(control, 65536)
            if not data:  # the server is gone: no new kernels, the relays go on
                control_open = False
                poller.unregister(control)
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                command = json.loads(line)
                if "add" in command:
                    end(command["add"]["kernel_id"])
                    with contextlib.suppress(zmq.ZMQError):  # its port was taken meanwhile
                        relay = _Relay(context, command["add"])
                        relays[relay.kernel_id] = relay
                        for sock, handler in ((relay.upstream, relay.from_kernel),
                                              (relay.downstream, relay.from_server)):  # fmt: skip
                            poller.register(sock, zmq.POLLIN)
                            handlers[sock] = handler
                elif "remove" in command:
                    end(command["remove"])
        for sock in events:
            if (ready := handlers.get(sock)) is not None:
                ready()
        now = time.monotonic()
        if now >= next_beat:
            next_beat = now + 1.0
            for relay in list(relays.values()):
                if relay.heart.silent_for() > relay.grace:
                    end(relay.kernel_id)  # the kernel is gone for good


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
            self.close()
        if self._socket is None and now - self._sent_at >= HEARTBEAT_INTERVAL:
            self._socket = self._context.socket(zmq.REQ)
            self._socket.setsockopt(zmq.LINGER, 0)
            self._socket.connect(self._url)
            self._socket.send(b"ping")
            self._sent_at = now
        elif self._socket is not None and now - self._sent_at >= HEARTBEAT_INTERVAL:
            self.close()  # unanswered: try again on a fresh socket next time
        return now - self._last_answer

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C of the server's terminal
    if sys.argv[1:] != [HOST_FLAG]:
        sys.exit(f"usage: python -m {__name__} {HOST_FLAG} (started by jls serve)")
    serve(sys.stdin.fileno())


if __name__ == "__main__":
    main()
