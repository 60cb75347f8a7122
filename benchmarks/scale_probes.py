"""Servers and probes for benchmarks/scale.py: start either server, watch its loop.

A probe process runs two loops side by side against a running server: ``GET
/api/status`` one after another, and execute round trips (``1``) on a kernel
of its own over the websocket. Each records (start, seconds) on the shared
monotonic clock, so the parent can pick the probes that overlapped one
operation. The probes live in their own process so that the operation the
parent drives (sending or reading 50 MB) cannot delay them in the client.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import os
import secrets
import shlex
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

JS_FLAGS = (
    "--no-browser --allow-root --ServerApp.ip=127.0.0.1 --port={port} "
    "--ServerApp.port_retries=0 --IdentityProvider.token={token} --ServerApp.root_dir={root}"
)

#: jupyter_server drops iopub output beyond 1 MB/s unless told not to; jls never drops it.
JS_NO_RATE_LIMIT = "--ZMQChannelsWebsocketConnection.limit_rate=False"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One server process on 127.0.0.1, started from a command template."""

    label: str
    template: str
    root: str
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen | None = None

    def start(self, log_path: str) -> Server:
        cmd = self.template.format(port=self.port, token=self.token, root=self.root)
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=os.path.join(self.root, ".runtime"))
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(shlex.split(cmd), cwd=self.root, stdout=log,
                                         stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/api/status", timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited at start-up; see {log_path}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.label} did not answer within 60 s; see {log_path}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole session (kernels left behind included)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def request(
        self, method: str, path: str, body: bytes | None = None, timeout: float = 300
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = self.headers()
            if body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, payload: Any = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.request(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{self.label} {method} {path}: {status} {data[:300]!r}")
        return json.loads(data) if data else None

    def ws_url(self, kernel_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels"


def execute_message(code: str) -> tuple[str, str]:
    msg_id = uuid.uuid4().hex
    message = {
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "bench",
                   "session": "bench", "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False},
    }
    return msg_id, json.dumps(message)


def round_trip(ws: Any, code: str = "1", timeout: float = 60) -> float:
    """Send one execute_request; seconds until its execute_reply."""
    msg_id, text = execute_message(code)
    t0 = time.monotonic()
    ws.send(text)
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        reply = json.loads(ws.recv())
        if reply.get("msg_type") == "execute_reply" and \
                reply.get("parent_header", {}).get("msg_id") == msg_id:  # fmt: skip
            return time.monotonic() - t0
    raise TimeoutError("no execute_reply")


def print_and_receive(
    server: Server, kernel_id: str, size: int, timeout: float = 300
) -> tuple[int, bytes]:
    """One write of ``size`` characters on ``kernel_id``'s stdout; done once a client
    (the default protocol) has every character and the reply.

    The client leaves the UTF-8 check of text frames to ``json.loads``, as a browser
    leaves it to native code: websocket-client's own check is a Python loop that took
    17-30 s for 50 MB and kept a core busy throughout, so on two cores the probes
    measured that contention more than either server."""
    import websocket  # websocket-client: the harness's own client

    ws = websocket.create_connection(server.ws_url(kernel_id), header=server.headers(),
                                     timeout=timeout, skip_utf8_validation=True)  # fmt: skip
    try:
        msg_id, text = execute_message(
            f"import sys; sys.stdout.write('x' * {size}); sys.stdout.flush()"
        )
        ws.send(text)
        received, replied = 0, False
        while received < size or not replied:
            message = json.loads(ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message.get("msg_type") == "stream":
                received += len(message["content"]["text"])
            elif message.get("msg_type") == "execute_reply":
                replied = True
        return 200, b""
    finally:
        ws.close()


def _probe_main(port: int, token: str, kernel_id: str, stop: Any, out: Any) -> None:
    import websocket  # websocket-client: the harness's own client

    server = Server("probe", "", "", port=port, token=token)
    status: list[tuple[float, float]] = []
    execute: list[tuple[float, float]] = []

    def status_loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while not stop.is_set():
            t0 = time.monotonic()
            conn.request("GET", "/api/status", headers=server.headers())
            conn.getresponse().read()
            status.append((t0, time.monotonic() - t0))
            time.sleep(0.005)
        conn.close()

    def execute_loop() -> None:
        ws = websocket.create_connection(server.ws_url(kernel_id), header=server.headers(),
                                         timeout=60)  # fmt: skip
        while not stop.is_set():
            t0 = time.monotonic()
            execute.append((t0, round_trip(ws)))
            time.sleep(0.005)
        ws.close()

    threads = [threading.Thread(target=status_loop), threading.Thread(target=execute_loop)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"status": status, "execute": execute})


class Probes:
    """Loop probes in a separate process while the parent runs an operation."""

    def __init__(self, server: Server, kernel_id: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._out = ctx.Queue()
        self._proc = ctx.Process(
            target=_probe_main, args=(server.port, server.token, kernel_id, self._stop, self._out)
        )

    def __enter__(self) -> Probes:
        self._proc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def results(self) -> dict[str, list[tuple[float, float]]]:
        data = self._out.get(timeout=120)
        self._proc.join(30)
        return data


def worst_during(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """Longest probe that overlapped [start, end] (ms)."""
    overlapping = [dt for t0, dt in samples if t0 <= end and t0 + dt >= start]
    return round(1000 * max(overlapping), 1) if overlapping else float("nan")


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def proc_pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Every descendant of ``pid``."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        path = f"/proc/{parent}/task/{parent}/children"
        try:
            with open(path) as f:
                kids = [int(x) for x in f.read().split()]
        except FileNotFoundError:
            kids = []
        found += kids
        todo += kids
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""
