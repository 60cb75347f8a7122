"""The least server CPU an execute round trip can cost on this machine, in Python.

    python3 benchmarks/relay_floor.py [--round-trips 1500] [--sustained 32x5,16x10]
        [--seconds 60] [--json out.json]

A bare relay between real kernels (ipykernel, started by jupyter_client) and a
client, doing only what any Jupyter server must do for each message and
nothing else: wake up, receive, check the HMAC, parse the header, frame it for
the client, send it; and for the request, parse the client's JSON, serialise
and sign the parts, send them to the kernel. No HTTP, no websocket (frames are
a 4-byte length and the JSON: no masking, no handshake), no sessions, no
state, no bookkeeping. Same loop (asyncio), same ZMQ binding (pyzmq, one
context with one I/O thread) as jls, in one process pinned nowhere.

Its CPU per request (all threads, as jbench measures a server) is a floor for
jls's "server CPU per execute" (one kernel, sequential round trips) and "server
CPU per request" under a sustained load (KERNELSxRATE: that many kernels, each
sent that many requests per second, for --seconds): a ratio target for jls is
only within reach if it lies above this floor. It also reports the CPU a bare asyncio
reader spends per wake-up at the same pacing (a TCP peer sending 200 bytes
every 2 ms): on a virtual machine that price alone dominates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import multiprocessing
import os
import selectors
import socket
import struct
import time
import uuid
from typing import Any

import zmq

_EVENTS, _POLLIN, _NOBLOCK = int(zmq.EVENTS), int(zmq.POLLIN), int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.SNDMORE) | _NOBLOCK
_DELIMITER = b"<IDS|MSG>"
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def cpu_seconds() -> float:
    """This process's CPU, all threads (user + system)."""
    times = os.times()
    return times.user + times.system


def execute_request(session: str) -> tuple[str, bytes]:
    """An execute request of ``1`` as the client sends it: (msg_id, length-prefixed JSON)."""
    msg_id = uuid.uuid4().hex
    request = {"header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                          "username": "", "version": "5.3", "date": ""},
               "parent_header": {}, "metadata": {}, "channel": "shell",
               "content": {"code": "1", "silent": False, "store_history": True,
                           "user_expressions": {}, "allow_stdin": False}}  # fmt: skip
    body = json.dumps(request).encode()
    return msg_id, struct.pack("!I", len(body)) + body


def client(port: int, round_trips: int) -> None:
    """Sequential execute round trips, each until its reply and idle status."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb")
    session = uuid.uuid4().hex
    for _ in range(round_trips):
        msg_id, request = execute_request(session)
        sock.sendall(request)
        replied = idle = False
        while not (replied and idle):
            (length,) = struct.unpack("!I", reader.read(4))
            msg = json.loads(reader.read(length))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            replied = replied or msg["msg_type"] == "execute_reply"
            idle = idle or (msg["msg_type"] == "status"
                            and msg["content"]["execution_state"] == "idle")  # fmt: skip
    sock.close()


def paced_client(ports: list[int], rate: float, seconds: float) -> None:
    """``rate`` requests per second to each kernel for ``seconds`` (sent when due, whether
    or not the last was answered, as jbench's sustained load does), then every reply."""
    sockets = [socket.create_connection(("127.0.0.1", port)) for port in ports]
    selector = selectors.DefaultSelector()
    inboxes = {sock: b"" for sock in sockets}
    for sock in sockets:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        selector.register(sock, selectors.EVENT_READ)
    session = uuid.uuid4().hex
    start = time.monotonic()
    due = {sock: start + i / rate / len(sockets) for i, sock in enumerate(sockets)}
    waiting = 0
    give_up = start + seconds + 120
    while (time.monotonic() < start + seconds or waiting) and time.monotonic() < give_up:
        now = time.monotonic()
        if now < start + seconds:
            for sock, when in due.items():
                if when <= now:
                    sock.sendall(execute_request(session)[1])
                    waiting += 1
                    due[sock] = when + 1 / rate
        timeout = max(0.0, min(due.values()) - time.monotonic())
        for key, _ in selector.select(min(timeout, 0.05)):
            sock = key.fileobj  # type: ignore[assignment]
            inboxes[sock] += sock.recv(65536)
            while len(inboxes[sock]) >= 4:
                (length,) = struct.unpack_from("!I", inboxes[sock])
                if len(inboxes[sock]) < 4 + length:
                    break
                msg = json.loads(inboxes[sock][4 : 4 + length])
                inboxes[sock] = inboxes[sock][4 + length :]
                waiting -= msg["msg_type"] == "execute_reply"
    for sock in sockets:
        sock.close()


class Relay:
    """One kernel's shell and iopub to one client socket, per message as little as can be."""

    def __init__(self, connection: Any) -> None:
        self.loop = asyncio.get_running_loop()
        key = connection["key"]
        self.mac = hmac.new(key.encode() if isinstance(key, str) else key,
                            digestmod=hashlib.sha256)  # fmt: skip
        context: zmq.Context[Any] = zmq.Context.instance()
        url = f"tcp://{connection['ip']}:%d"
        self.shell = context.socket(zmq.DEALER)
        self.shell.connect(url % connection["shell_port"])
        self.iopub = context.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(url % connection["iopub_port"])
        self.peer: socket.socket | None = None
        self.inbox = b""
        self.replies = 0
        for channel, name in ((self.shell, "shell"), (self.iopub, "iopub")):
            self.loop.add_reader(channel.getsockopt(zmq.FD), self.drain, channel, name)
        self.closed = self.loop.create_future()

    def attach(self, peer: socket.socket) -> None:
        """The client's socket, blocking: it is read only when readable, and a blocking
        ``sendall`` of a small frame costs no more than a send that may come up short."""
        peer.setblocking(True)
        peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.peer = peer
        self.loop.add_reader(peer.fileno(), self.from_client)

    def drain(self, channel: zmq.Socket[Any], name: str) -> None:
        while channel.getsockopt(_EVENTS) & _POLLIN:  # type: ignore[operator]
            parts: list[bytes] = []
            while True:
                frame = channel.recv(_NOBLOCK, copy=False)
                parts.append(frame.bytes)
                if not frame.more:
                    break
            index = parts.index(_DELIMITER)
            digest = self.mac.copy()
            for part in parts[index + 2 : index + 6]:
                digest.update(part)
            if self.peer is None or not hmac.compare_digest(parts[index + 1],
                                                            digest.hexdigest().encode()):
                continue  # before the client came (ipykernel's welcome), or forged
            header, parent, metadata, content = parts[index + 2 : index + 6]
            msg_type = json.loads(header)["msg_type"]
            self.replies += msg_type == "execute_reply"
            body = b"".join((b'{"header":', header, b',"msg_type":', _ENCODER.encode(msg_type)
                             .encode(), b',"parent_header":', parent, b',"metadata":', metadata,
                             b',"content":', content, b',"buffers":[],"channel":"', name.encode(),
                             b'"}'))  # fmt: skip
            with contextlib.suppress(OSError):  # the client is done and gone
                self.peer.sendall(struct.pack("!I", len(body)) + body)

    def close(self) -> None:
        for channel in (self.shell, self.iopub):
            self.loop.remove_reader(channel.getsockopt(zmq.FD))
            channel.close(linger=0)
        if self.peer is not None:
            self.peer.close()

    def from_client(self) -> None:
        assert self.peer is not None
        try:
            data = self.peer.recv(65536)
        except ConnectionResetError:  # the client left with the last idle status unread
            data = b""
        if not data:
            self.loop.remove_reader(self.peer.fileno())
            self.closed.set_result(None)
            return
        self.inbox += data
        while len(self.inbox) >= 4:
            (length,) = struct.unpack_from("!I", self.inbox)
            if len(self.inbox) < 4 + length:
                break
            msg = json.loads(self.inbox[4 : 4 + length])
            self.inbox = self.inbox[4 + length :]
            parts = [_ENCODER.encode(msg[key]).encode()
                     for key in ("header", "parent_header", "metadata", "content")]  # fmt: skip
            digest = self.mac.copy()
            for part in parts:
                digest.update(part)
            frames = [_DELIMITER, digest.hexdigest().encode(), *parts]
            for frame in frames[:-1]:
                self.shell.send(frame, _MORE_NOBLOCK)
            self.shell.send(frames[-1], _NOBLOCK)
            if self.shell.getsockopt(_EVENTS) & _POLLIN:
                self.loop.call_soon(self.drain, self.shell, "shell")


async def relay_requests(kernels: int, rate: float, seconds: float,
                         round_trips: int) -> dict[str, float]:
    """One kernel and sequential round trips (``rate`` 0), or ``kernels`` kernels each
    sent ``rate`` requests per second for ``seconds``; the relay's CPU per request."""
    from jupyter_client.manager import KernelManager

    managers = [KernelManager(kernel_name="python3") for _ in range(kernels)]
    relays: list[Relay] = []
    try:
        for manager in managers:  # one at a time: ports picked for the next are then free
            manager.start_kernel()
            ready = manager.client()
            ready.start_channels()
            ready.wait_for_ready(timeout=120)
            ready.stop_channels()
        loop = asyncio.get_running_loop()
        relays += [Relay(manager.get_connection_info(session=False)) for manager in managers]
        await asyncio.sleep(1)  # subscribed to iopub before the first request goes out
        listeners = [socket.create_server(("127.0.0.1", 0)) for _ in managers]
        ports = [listener.getsockname()[1] for listener in listeners]
        peer_process = multiprocessing.get_context("spawn").Process(
            target=paced_client if rate else client,
            args=(ports, rate, seconds) if rate else (ports[0], round_trips), daemon=True)
        peer_process.start()
        for relay, listener in zip(relays, listeners, strict=True):
            relay.attach((await loop.sock_accept(listener))[0])
        start_cpu, start = cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(relay.closed for relay in relays))
        elapsed, used = time.perf_counter() - start, cpu_seconds() - start_cpu
        peer_process.join()
    finally:
        for relay in relays:
            relay.close()
        for manager in managers:
            manager.shutdown_kernel(now=True)
    requests = sum(relay.replies for relay in relays)
    return {"requests": requests, "cpu_ms_per_request": round(used / requests * 1e3, 3),
            "seconds": round(elapsed, 1)}  # fmt: skip


def _pinger(port: int, count: int, gap: float) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    for _ in range(count):
        sock.send(b"x" * 200)
        time.sleep(gap)
    sock.close()


async def wake_up_cost(count: int = 3000, gap: float = 0.002) -> float:
    """CPU per wake-up (µs) of an asyncio reader that only receives: the price of waking."""
    loop = asyncio.get_running_loop()
    server = socket.create_server(("127.0.0.1", 0))
    pinger = multiprocessing.get_context("spawn").Process(
        target=_pinger, args=(server.getsockname()[1], count, gap))
    pinger.start()
    peer, _ = await loop.sock_accept(server)
    peer.setblocking(False)
    done = loop.create_future()
    wake_ups = 0
    start_cpu = cpu_seconds()

    def on_readable() -> None:
        nonlocal wake_ups
        wake_ups += 1
        if not peer.recv(65536):
            loop.remove_reader(peer.fileno())
            done.set_result(None)

    loop.add_reader(peer.fileno(), on_readable)
    await done
    used = cpu_seconds() - start_cpu
    pinger.join()
    return round(used / wake_ups * 1e6, 1)


def measure(round_trips: int, loads: list[str], seconds: float, uvloop: bool = False
            ) -> dict[str, Any]:  # fmt: skip
    run: Any = asyncio.run
    if uvloop:  # not a dependency: only to show the floor does not hinge on the loop
        import uvloop as uv

        run = uv.run
    figures: dict[str, Any] = {
        "loop": "uvloop" if uvloop else "asyncio",
        "execute": run(relay_requests(1, 0, 0, round_trips)),
        "wake_up_us": run(wake_up_cost()),
    }
    for load in loads:
        kernels, _, rate = load.partition("x")
        figures[load] = run(relay_requests(int(kernels), float(rate), seconds, 0))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--round-trips", type=int, default=1500)
    parser.add_argument("--sustained", default="32x5,16x10",
                        help="KERNELSxRATE,...: also that many kernels at that many requests "
                        "per second each ('' for none)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--uvloop", action="store_true",
                        help="run on uvloop (pip install uvloop) instead of asyncio's loop")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    loads = [load for load in args.sustained.split(",") if load]
    figures = measure(args.round_trips, loads, args.seconds, args.uvloop)
    print(json.dumps(figures, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f)


if __name__ == "__main__":
    main()
