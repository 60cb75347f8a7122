"""One running kernel as the server holds it: state, iopub fan-out, readiness.

The server keeps a single iopub subscriber per kernel, connected from launch
on. Every iopub message is parsed (header only) once, updates
``execution_state`` and ``last_activity``, and is serialised at most once per
websocket protocol for all attached clients. Because the subscription exists
before any client attaches, nothing a kernel publishes right after a client
connects can be lost to the ZMQ slow-joiner race.

Shell, control and stdin get per-connection DEALER sockets (shell and stdin
share an identity, so a kernel's ``input_request`` reaches the client that
sent the ``execute_request``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from ...timeutil import isoformat, utcnow
from ..protocol import wire
from ..protocol.connection import KernelConnection, RequestChannel
from ..protocol.zmqio import ZMQChannel
from ..providers.base import KernelStartError, LaunchedKernel
from .parking import ParkedSession
from .state import KernelState, Lifecycle

log = logging.getLogger("jls.kernels")

#: Seconds between the start-up check's first kernel_info requests (then growing to 1 s
#: while the kernel stays silent).
FIRST_INTERVAL = 0.05


class ChannelClient(Protocol):
    """What a websocket connection offers the kernel: fan-out, and being told to go."""

    protocol: str  # "json" or "v1"
    session_id: str  # the client's session ("" if it named none)

    def write_frame(self, chunks: list[Any], binary: bool) -> None: ...

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...

    def release(self, park: bool = True) -> None: ...

    def close_for_kernel_shutdown(self) -> None: ...


class ManagedKernel:
    """A kernel launched by a provider, with the server-side state around it."""

    def __init__(self, kernel_id: str, name: str, launched: LaunchedKernel) -> None:
        self.id = kernel_id
        self.name = name
        self.launched = launched
        self.connection = KernelConnection(launched.connection_info)
        self.signer = self.connection.signer
        self.session_id = self.connection.session_id  # the server's own, for its requests
        self._own_session = f'"{self.session_id}"'.encode()
        self.lifecycle = Lifecycle()
        self.execution_state = "starting"
        self.last_activity = utcnow()
        #: Messages relayed (iopub, replies, client requests): for /metrics.
        self.relayed = 0
        #: Why the kernel's process last died unasked (shown in the model), if it did.
        self.death_reason = ""
        #: The raw header of the last execute_request a client sent: the parent of
        #: whatever that cell outputs, so a death notice lands in its output area.
        self.last_execute_header: bytes | memoryview = b"{}"
        #: The kernel's stderr tail when that request went out: what came after it is what
        #: the request's run wrote (a death report shows that, not start-up noise).
        self.stderr_before_execute = ""
        self.clients: set[ChannelClient] = set()
        self._iopub: ZMQChannel | None = None
        self._iopub_seen = asyncio.Event()
        self._check: asyncio.Task[None] | None = None
        self.parked: dict[str, ParkedSession] = {}
        #: Called with every iopub message (outputs/keeper.py follows requests whose
        #: client left); empty for almost every kernel, so the hot path pays a check.
        self.iopub_observers: list[Callable[[wire.KernelMessage], None]] = []
        #: Disconnected client sessions kept for replay (set by the manager's option).
        self.max_parked = 16
        #: (provider id, the provider's kernel type name): what a stored record needs.
        self.origin: tuple[str, str] = ("", name)
        #: (bytes, seconds) kept for each client session that is away.
        self.replay_limits: tuple[int, float] = (10 * 1024 * 1024, 3600.0)

    def __repr__(self) -> str:
        return f"<ManagedKernel {self.id} {self.name} {self.lifecycle.state.value}>"

    @property
    def state(self) -> KernelState:
        return self.lifecycle.state

    @property
    def is_ready(self) -> bool:
        return self.lifecycle.is_ready

    def touch(self) -> None:
        """A client spoke to the kernel: it is not idle (for culling)."""
        self.last_activity = utcnow()

    # --- model ------------------------------------------------------------------

    def model(self) -> dict[str, Any]:
        model = {
            "id": self.id,
            "name": self.name,
            "last_activity": isoformat(self.last_activity),
            "execution_state": self.execution_state,
            "connections": len(self.clients),
        }
        environment = self.launched.environment()
        if environment:  # e.g. the image digest of a container kernel
            model["environment"] = environment
        if self.death_reason:  # why its process last died (clients that do not know it ignore it)
            model["reason"] = self.death_reason
        return model

    # --- sockets ----------------------------------------------------------------

    def start_watching(self, url: str | None = None) -> None:
        """Subscribe to iopub now, before any client can attach.

        ``url`` is the kernel's iopub keeper when kernels outlive the server.
        """
        self._iopub = self.connection.subscribe(self._on_iopub, url)

    def _on_iopub(self, frames: list[Any]) -> None:
        replayed = bool(frames) and frames[0] == wire.REPLAY_FRAME
        if replayed:
            frames = frames[1:]
        channel = self._iopub
        if channel is not None and sum(map(len, frames)) >= wire.OFF_LOOP_BYTES:
            # Checked on a worker thread; the channel waits meanwhile, so that
            # what follows this message is still relayed after it.
            channel.pause()
            utf8 = any(client.protocol != "v1" for client in self.clients)
            checked = asyncio.get_running_loop().run_in_executor(
                None, wire.parse_zmq_checked, frames, self.signer, utf8
            )
            checked.add_done_callback(functools.partial(self._on_checked, replayed, channel))
            return
        try:
            msg = wire.parse_zmq(frames, self.signer)
        except wire.WireError as exc:
            log.warning("Kernel %s: dropped an iopub message: %s", self.id, exc)
            return
        self._relay_iopub(msg, replayed)

    def _on_checked(
        self, replayed: bool, channel: ZMQChannel, checked: asyncio.Future[wire.KernelMessage]
    ) -> None:
        try:
            if not checked.cancelled():
                self._relay_iopub(checked.result(), replayed)
        except wire.WireError as exc:
            log.warning("Kernel %s: dropped an iopub message: %s", self.id, exc)
        finally:
            channel.resume()

    def _relay_iopub(self, msg: wire.KernelMessage, replayed: bool) -> None:
        if replayed:
            for observer in self.iopub_observers:
                observer(msg)
            self._keep_for_absent_client(msg)
            return
        self._iopub_seen.set()
        self.relayed += 1
        if msg.msg_type == "iopub_welcome":
            return  # addressed to our subscription (ipykernel 7), not to clients
        self.last_activity = utcnow()
        # Our own probes (readiness, reattach) are not what clients mean by busy;
        # a substring test on the raw parent header spares parsing it.
        if msg.msg_type == "status" and self._own_session not in msg.parts[1]:
            with contextlib.suppress(ValueError):
                state = msg.content().get("execution_state", self.execution_state)
                self.execution_state = state
        for observer in self.iopub_observers:
            observer(msg)
        self.fan_out(msg, "iopub")

    def fan_out(self, msg: wire.KernelMessage, channel: str) -> None:
        """Send one message to every attached client, serialised once per protocol."""
        for parked in self.parked.values():
            parked.keep(msg, channel)
        if not self.clients:
            return
        frames: dict[str, tuple[list[wire.Frame], bool]] = {}
        for client in tuple(self.clients):
            frame = frames.get(client.protocol)
            if frame is None:
                if client.protocol == "v1":
                    frame = (wire.to_ws_v1(msg.parts, channel), True)
                else:
                    frame = wire.to_ws_json(msg, channel)
                frames[client.protocol] = frame
            client.write_frame(*frame)

    def broadcast_stderr(self, text: str) -> None:
        """A notice from the server, shown like the kernel's own stderr in the output of
        the request that was running (clients route output by its parent header)."""
        header = wire.new_header("stream", self.session_id, username="kernel")
        try:
            parent = json.loads(bytes(self.last_execute_header))
        except ValueError:
            parent = {}
        parts = wire.build_parts(header, parent, {}, {"name": "stderr", "text": text})
        self.fan_out(wire.KernelMessage(parts=parts, header=header), "iopub")

    def broadcast_status(self, state: str) -> None:
        """Tell clients the kernel is restarting/dead, as jupyter_server does."""
        self.execution_state = state
        header = wire.new_header("status", self.session_id, username="kernel")
        parts = wire.build_parts(header, {}, {}, {"execution_state": state})
        self.fan_out(wire.KernelMessage(parts=parts, header=header), "iopub")

    # --- readiness --------------------------------------------------------------

    def begin_ready_check(self, timeout: float, channel: str = "shell") -> asyncio.Future[None]:
        """Start (or restart) waiting for the kernel to answer kernel_info.

        Success moves the kernel to READY; failure fails the lifecycle's ready
        future and leaves the state to whoever decides what a failure means.
        ``control`` is for a kernel found running (re-attach): it answers there
        even while a long execution keeps its shell busy.
        """
        self.stop_ready_check()
        self._iopub_seen.clear()
        self._check = asyncio.ensure_future(self._check_ready(timeout, channel))
        return self.lifecycle.ready

    def stop_ready_check(self) -> None:
        """A restart is coming: the running check would only see the old process die."""
        if self._check is not None:
            self._check.cancel()
            self._check = None

    async def wait_ready(self, timeout: float | None = None) -> None:
        await self.lifecycle.wait_ready(timeout)

    async def answers_on_shell(self, timeout: float) -> bool:
        """Whether kernel_info on shell is answered within ``timeout`` (False: busy)."""
        with RequestChannel(self.connection, "shell", self.session_id.encode()) as requests:
            try:
                await requests.request("kernel_info_request", timeout=timeout)
            except TimeoutError:
                return False
        return True

    async def _check_ready(self, timeout: float, channel: str) -> None:
        """Send kernel_info_request until a reply and an iopub message arrive.

        A reply alone is not enough: iopub must be flowing, or output of the
        first request could be lost to the subscription race. Requests are
        repeated with a growing interval while the kernel is silent; once it
        answers, only the subscription is missing, and the next request (whose
        status messages prove it) goes out at the shortest interval.
        """
        deadline = time.monotonic() + timeout
        interval = FIRST_INTERVAL
        replies: list[asyncio.Future[wire.KernelMessage]] = []
        with RequestChannel(self.connection, channel, self.session_id.encode()) as requests:
            try:
                while time.monotonic() < deadline:
                    if not await self.launched.is_alive():
                        raise KernelStartError(self._died_message())
                    replies.append(requests.send("kernel_info_request"))
                    done, _ = await asyncio.wait(
                        replies, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                    )
                    if not done:
                        interval = min(interval * 2, 1.0)  # still starting: ask less often
                        continue
                    try:
                        await asyncio.wait_for(self._iopub_seen.wait(), FIRST_INTERVAL)
                    except TimeoutError:
                        interval = FIRST_INTERVAL
                        continue
                    # The kernel still runs our other requests, each with a SIGINT
                    # handler armed: an interrupt sent then can break ipykernel's shell
                    # loop (it lives on, deaf). They are answered within milliseconds.
                    await asyncio.wait(replies, timeout=2.0)
                    self._became_ready(channel)
                    return
                raise KernelStartError(
                    f"Kernel {self.name!r} did not answer kernel_info within {timeout:.0f} s"
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.lifecycle.fail_start(exc)

    def _became_ready(self, channel: str) -> None:
        if channel == "shell":
            # Only our kernel_info requests have run, and are answered (clients'
            # messages are held until now): the kernel is idle, whether or not the
            # status messages of those requests reached our subscription.
            self.execution_state = "idle"
        if self.state in (KernelState.STARTING, KernelState.RESTARTING):
            self.lifecycle.to(KernelState.READY)

    def _died_message(self) -> str:
        detail = self.launched.failure_details()
        message = f"Kernel {self.name!r} ({self.id}) died during start-up"
        return f"{message}. Its last output:\n{detail}" if detail else message

    # --- disconnected clients -------------------------------------------------

    def park(
        self, session_id: str, streams: dict[str, ZMQChannel], limit_bytes: int, timeout: float
    ) -> None:
        """Keep a departed client's sockets and buffer what it misses.

        At most ``max_parked`` sessions are kept per kernel (each holds three ZMQ
        sockets and up to ``limit_bytes``): the one that left longest ago goes first.
        """
        self.unpark(session_id, close=True)
        while len(self.parked) >= self.max_parked:
            oldest = next(iter(self.parked))
            log.info("Kernel %s: forgetting the output kept for session %s, the oldest of "
                     "%d disconnected sessions", self.id, oldest, len(self.parked))  # fmt: skip
            self.unpark(oldest, close=True)
        parked = ParkedSession(session_id, streams, limit_bytes)
        for channel, stream in streams.items():
            stream.on_message = parked.on_stream(channel, self.signer)
        parked.expiry = asyncio.get_running_loop().call_later(
            timeout, self.unpark, session_id, True
        )
        self.parked[session_id] = parked

    def _keep_for_absent_client(self, msg: wire.KernelMessage) -> None:
        """Output published while no server listened: for the session that asked for it."""
        if msg.msg_type == "iopub_welcome":
            return
        try:
            session_id = msg.parent_header().get("session")
        except ValueError:
            return
        if not session_id or session_id == self.session_id:
            return  # broadcast, or our own requests: nobody to give it to
        if session_id not in self.parked:
            limit_bytes, timeout = self.replay_limits
            self.park(session_id, {}, limit_bytes, timeout)
        self.parked[session_id].keep(msg, "iopub")

    def unpark(self, session_id: str, close: bool = False) -> ParkedSession | None:
        parked = self.parked.pop(session_id, None)
        if parked is not None:
            if parked.expiry is not None:
                parked.expiry.cancel()
            if close:
                parked.close()
        return parked

    async def discard_unstarted(self) -> None:
        """Stop a kernel that was launched but never put in service (its record or its
        sockets failed): nobody may ever reach it, so it must not run on."""
        self.close_streams()
        await self.launched.shutdown(now=True)

    def close_streams(self) -> None:
        for session_id in list(self.parked):
            self.unpark(session_id, close=True)
        self.stop_ready_check()
        if self._iopub is not None:
            self._iopub.close()
            self._iopub = None
