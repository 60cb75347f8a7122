"""The server's side of the kernel fork server: start it, ask it for kernels, hear of their ends."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from typing import IO, Any

from ..protocol.procs import live_argv
from ..protocol.stderr import StderrLines

log = logging.getLogger("jls.kernels")

SERVER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")
#: Bytes of command line each forked kernel can show as its own (see server.py's ROOM).
TITLE_ROOM = 4096
#: Seconds the fork server may take to import ipykernel before kernels are launched without it.
READY_TIMEOUT = 60.0
#: Seconds the fork server has to exit when the server stops before it is killed.
CLOSE_TIMEOUT = 5.0


class ForkedProcess:
    """A kernel forked by the fork server, with the parts of ``Popen`` that jupyter_client's
    local provisioner uses. Not this server's child: its end is told by the fork server."""

    stdin = None
    stdout = None
    #: Its end was not reported (the fork server was gone): how it ended is not known.
    ended_unseen = False

    def __init__(self, pid: int, stderr: IO[bytes] | None, forker: KernelForker) -> None:
        self.pid = pid
        self.stderr = stderr
        self.returncode: int | None = None
        self._forker = forker

    def poll(self) -> int | None:
        lost = self._forker.state is ForkerState.LOST  # no one left to report its end
        if self.returncode is None and lost and live_argv(self.pid) is None:
            self.returncode, self.ended_unseen = 1, True
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """The return code once ended (jupyter_client waits by polling first); never blocks."""
        return self.poll()

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkerState(enum.Enum):
    NOT_STARTED = "not started"
    STARTING = "starting"  # importing ipykernel
    READY = "ready"
    FAILED = "failed"  # could not start: kernels are launched without it
    LOST = "lost"  # ended while the server runs: kernels are launched without it
    CLOSED = "closed"  # the server is stopping


class KernelForker:
    """One fork server per server process, started at the first kernel that can use it."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self.state = ForkerState.NOT_STARTED
        #: The fork server's PID, once ready: its kernels' parent.
        self.pid: int | None = None
        #: The environment the fork server started with: what a forked kernel's
        #: interpreter was initialised from.
        self.start_env: Mapping[str, str] = {}
        self._channel: socket.socket | None = None
        self._process: subprocess.Popen | None = None
        self._replies: collections.deque[asyncio.Future[dict]] = collections.deque()
        self._children: dict[int, ForkedProcess] = {}
        self._reader: asyncio.Task | None = None
        self._stderr: asyncio.BaseTransport | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=5)

    def ready(self) -> bool:
        """Whether kernels can be forked now. The first call starts the fork server; until
        it has imported ipykernel, kernels are launched the usual way (no one waits for it)."""
        if self.state is ForkerState.NOT_STARTED:
            self._start()
        return self.state is ForkerState.READY

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.start_env = dict(os.environ)
        try:
            self._process = subprocess.Popen(
                [self.python, SERVER_SCRIPT, str(theirs.fileno()), " " * TITLE_ROOM],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stderr=subprocess.PIPE,  # logged line by line, as a kernel's is
                start_new_session=True,  # a Ctrl-C at the terminal is the server's, not its
            )
        except OSError as exc:
            ours.close()
            self._give_up(ForkerState.FAILED, f"could not start the kernel fork server: {exc}")
            return
        finally:
            theirs.close()
        ours.setblocking(False)
        self._channel = ours
        self.state = ForkerState.STARTING
        loop = asyncio.get_running_loop()
        self._reader = loop.create_task(self._read(ours), name="kernel fork server")
        loop.call_later(READY_TIMEOUT, self._not_ready_in_time)

    async def close(self) -> None:
        """Stop the fork server (the server has stopped its kernels) and wait for its end."""
        process, was = self._process, self.state
        if was not in (ForkerState.STARTING, ForkerState.READY) or process is None:
            return
        self.state = ForkerState.CLOSED
        if self._reader is not None:
            self._reader.cancel()
        if self._channel is not None:
            self._channel.close()  # end of file: it exits
            self._channel = None
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, process.wait), CLOSE_TIMEOUT)
        except TimeoutError:
            process.kill()
            await loop.run_in_executor(None, process.wait)
        if self._stderr is not None:
            self._stderr.close()

    def _not_ready_in_time(self) -> None:
        if self.state is ForkerState.STARTING:
            self._give_up(ForkerState.FAILED, f"not ready within {READY_TIMEOUT:.0f} s")

    async def spawn(
        self, argv: list[str], env: Mapping[str, str], cwd: str, stdout: int | None
    ) -> ForkedProcess:
        """Fork a kernel running ``argv``: stdout as the server's (None) or /dev/null
        (``subprocess.DEVNULL``), stderr to a pipe read by the server. Raises OSError."""
        channel = self._channel
        if self.state is not ForkerState.READY or channel is None:
            raise OSError(f"the kernel fork server is {self.state.value}")
        read_end, write_end = os.pipe()
        null = os.open(os.devnull, os.O_RDWR)
        try:
            out = null if stdout == subprocess.DEVNULL else 1  # the server's own stdout
            message = json.dumps({"argv": argv, "env": dict(env), "cwd": cwd}).encode()
            await _send_with_fds(channel, message, [null, out, write_end])
            # Replies come in the order of the requests; nothing ran between the send
            # and this line, so this future is in the same place as its request.
            reply = asyncio.get_running_loop().create_future()
            self._replies.append(reply)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
            os.close(null)
        answer = await reply
        if "spawned" not in answer:
            os.close(read_end)
            raise OSError(answer.get("refused") or f"the kernel fork server is {self.state.value}")
        stderr = open(read_end, "rb", buffering=0)  # noqa: SIM115 -- closed with the process
        process = ForkedProcess(answer["spawned"], stderr, self)
        self._children[process.pid] = process
        return process

    async def _read(self, channel: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        if self._process is not None and self._process.stderr is not None:
            stderr = StderrLines("kernel fork server", self._stderr_tail, log)
            self._stderr, _ = await loop.connect_read_pipe(lambda: stderr, self._process.stderr)
        try:
            while data := await loop.sock_recv(channel, 65536):
                self._receive(json.loads(data))
        except (OSError, ValueError) as exc:
            log.warning("Kernel fork server: %s", exc)
        if self.state is ForkerState.READY:
            self._give_up(ForkerState.LOST, "ended (its kernels end with it)")
        elif self.state is ForkerState.STARTING:
            self._give_up(ForkerState.FAILED, "ended before it was ready")

    def _receive(self, message: dict[str, Any]) -> None:
        if "exited" in message:
            process = self._children.pop(message["exited"], None)
            if process is not None:
                process.returncode = message["returncode"]
        elif "ready" in message:
            self.state = ForkerState.READY
            self.pid = message["ready"]
            log.info("Kernel fork server ready (pid %s): kernels start as its forks", self.pid)
        elif "failed" in message:
            self._give_up(ForkerState.FAILED, message["failed"])
        elif self._replies:
            reply = self._replies.popleft()
            if not reply.done():
                reply.set_result(message)
            elif "spawned" in message:  # the start was cancelled meanwhile: leave nothing
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(message["spawned"], signal.SIGKILL)

    def _give_up(self, state: ForkerState, why: str) -> None:
        """Stop using the fork server: later kernels are launched the usual way."""
        self.state = state
        said = " / ".join(self._stderr_tail)
        log.warning(
            "Kernel fork server %s%s; kernels start as new processes from now on",
            why,
            f" (it said: {said})" if said else "",
        )
        while self._replies:
            reply = self._replies.popleft()
            if not reply.done():
                reply.set_result({})
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        process = self._process
        if process is not None and process.poll() is None and state is ForkerState.FAILED:
            process.kill()
        if process is not None:  # reap it without waiting on the loop
            asyncio.get_running_loop().run_in_executor(None, process.wait)


async def _send_with_fds(channel: socket.socket, message: bytes, fds: list[int]) -> None:
    """One datagram with descriptors attached, waiting (not blocking) while the socket is full."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            socket.send_fds(channel, [message], fds)
            return
        except BlockingIOError:
            writable = loop.create_future()
            loop.add_writer(channel, writable.set_result, None)
            try:
                await writable
            finally:
                loop.remove_writer(channel)


_forker: KernelForker | None = None


def the_forker() -> KernelForker:
    """The server process's one fork server (like its one ZMQ context)."""
    global _forker
    if _forker is None:
        _forker = KernelForker()
    return _forker
