"""Test clients: REST over requests, kernel websockets over websocket-client.

They speak the wire protocols independently of the server's own code, so a
framing bug in the server cannot be hidden by the same bug in the client.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import websocket

V1 = "v1.kernel.websocket.jupyter.org"


@dataclass
class Server:
    """A `jls serve` process started by a test."""

    proc: subprocess.Popen
    url: str
    token: str
    root: str
    log_path: str

    def api(self, token: str | None = None) -> Api:
        return Api(self.url, self.token if token is None else token)

    def log_text(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def isolated_env(base: str) -> dict[str, str]:
    """Jupyter dirs of the test's own, so no user config or runtime file leaks in."""
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("IPYTHONDIR", "ipython"),
        ("XDG_DATA_HOME", "xdg-data"),  # the trash, the notary's files: the test's own
    ):
        path = os.path.join(base, sub)
        os.makedirs(path, exist_ok=True)
        env[var] = path
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_server(
    root: str,
    workdir: str,
    *args: str,
    token: str = "secret-token",
    env: dict[str, str] | None = None,
    timeout: float = 30,
) -> Server:
    env = env or isolated_env(workdir)
    log_path = os.path.join(workdir, f"server-{uuid.uuid4().hex[:6]}.log")
    cmd = [
        sys.executable,
        "-m",
        "jupyter_lite_server",
        "serve",
        "--port",
        "0",
        "--token",
        token,
        "--root",
        root,
        *args,
    ]
    log = open(log_path, "w")  # noqa: SIM115 - owned by the process' lifetime
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=log, env=env, cwd=workdir, text=True
    )
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"(https?://\S+?/)(\?token=\S*)?$", line.strip())
        if found:
            url = found.group(1)
            break
    if url is None:
        proc.kill()
        with open(log_path) as f:
            raise RuntimeError(f"server did not start: {f.read()}")
    return Server(proc=proc, url=url, token=token, root=root, log_path=log_path)


def start_server_in(base: str | os.PathLike, *args: str, **kwargs) -> Server:
    """A server whose root is ``base/root`` (created), its Jupyter dirs under ``base``."""
    root = os.path.join(base, "root")
    os.makedirs(root, exist_ok=True)
    return start_server(root, str(base), *args, **kwargs)


def module_server(name: str, *args: str) -> Any:
    """A pytest fixture: one server (``jls serve *args``) for the tests of a module,
    its directories under a temporary ``name``. Use: ``server = module_server("x")``."""
    import pytest

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: Any) -> Iterator[Server]:
        server = start_server_in(tmp_path_factory.mktemp(name), *args)
        yield server
        server.stop()

    return fixture


def run_jls(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60, input: str | None = None
):
    """Run ``python -m jupyter_lite_server ARGS`` to completion (for start-up errors)."""
    return subprocess.run(
        [sys.executable, "-m", "jupyter_lite_server", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        input=input,
    )


class Api:
    def __init__(self, url: str, token: str, ca_file: str | None = None) -> None:
        self.url = url
        self.token = token
        self.http = requests.Session()
        self.sslopt = {"ca_certs": ca_file} if ca_file else None  # wss: trust this CA
        self.ca_file = ca_file
        if token:
            self.http.headers["Authorization"] = f"token {token}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 90)
        if self.ca_file:  # per request: an environment CA bundle would override Session.verify
            kw.setdefault("verify", self.ca_file)
        return self.http.request(method, self.url + path.lstrip("/"), **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def start_kernel(self, name: str = "python3", **body) -> dict:
        r = self.post("api/kernels", json={"name": name, **body})
        assert r.status_code == 201, r.text
        return r.json()

    def channels(
        self,
        kernel_id: str,
        protocol: str = "json",
        session_id: str | None = None,
        token: str | None = None,
    ) -> KernelChannel:
        ws_url = re.sub(r"^http", "ws", self.url) + f"api/kernels/{kernel_id}/channels"
        ws_url += f"?session_id={session_id or uuid.uuid4().hex}"
        token = self.token if token is None else token
        headers = [f"Authorization: token {token}"] if token else []
        subprotocols = [V1] if protocol == "v1" else None
        # websocket-client's own UTF-8 check is pure Python (minutes for 50 MB); a text
        # frame is still decoded strictly as UTF-8 when it is received.
        ws = websocket.create_connection(
            ws_url, header=headers, subprotocols=subprotocols, timeout=60, sslopt=self.sslopt,
            skip_utf8_validation=True,
        )
        return KernelChannel(ws, protocol)


def raw_kernel_websocket(
    server: Server, kernel_id: str, receive_buffer: int
) -> websocket.WebSocket:
    """A bare default-protocol kernel websocket (no session id) with a small socket
    receive buffer: a client that reads slowly, or not at all."""
    return websocket.create_connection(
        server.url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels",
        header=[f"Authorization: token {server.token}"],
        sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)],
        skip_utf8_validation=True,  # websocket-client's own check is pure Python: slow
    )


# --- framing, written from the protocol descriptions ----------------------------


def encode_v1(channel: str, msg: dict, buffers: list[bytes] = ()) -> bytes:
    parts = [
        json.dumps(msg[k]).encode() for k in ("header", "parent_header", "metadata", "content")
    ] + list(buffers)
    chan = channel.encode()
    offsets = [8 * (len(parts) + 3)]
    offsets.append(offsets[0] + len(chan))
    for p in parts:
        offsets.append(offsets[-1] + len(p))
    return struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets) + chan + b"".join(parts)


def decode_v1(data: bytes) -> dict:
    n = struct.unpack_from("<Q", data)[0]
    offs = struct.unpack_from(f"<{n}Q", data, 8)
    chunks = [data[offs[i] : offs[i + 1]] for i in range(n - 1)]
    keys = ("header", "parent_header", "metadata", "content")
    msg = {k: json.loads(c) for k, c in zip(keys, chunks[1:5], strict=True)}
    msg["channel"] = chunks[0].decode()
    msg["buffers"] = chunks[5:]
    return msg


def encode_json_binary(msg: dict, buffers: list[bytes]) -> bytes:
    chunks = [json.dumps(msg).encode(), *buffers]
    offsets = [4 * (len(chunks) + 1)]
    for c in chunks[:-1]:
        offsets.append(offsets[-1] + len(c))
    return struct.pack(f"!{len(chunks) + 1}I", len(chunks), *offsets) + b"".join(chunks)


def decode_json_binary(data: bytes) -> dict:
    n = struct.unpack_from("!I", data)[0]
    offs = [*list(struct.unpack_from(f"!{n}I", data, 4)), len(data)]
    chunks = [data[offs[i] : offs[i + 1]] for i in range(n)]
    msg = json.loads(chunks[0])
    msg["buffers"] = chunks[1:]
    return msg


@dataclass
class KernelChannel:
    ws: websocket.WebSocket
    protocol: str
    session: str = field(default_factory=lambda: uuid.uuid4().hex)
    backlog: list[dict] = field(default_factory=list)

    def message(self, msg_type: str, content: dict, channel: str = "shell") -> dict:
        return {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "msg_type": msg_type,
                "session": self.session,
                "username": "test",
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": channel,
            "buffers": [],
        }

    def send(self, msg: dict, buffers: list[bytes] = ()) -> str:
        if self.protocol == "v1":
            self.ws.send_binary(encode_v1(msg["channel"], msg, buffers))
        elif buffers:
            self.ws.send_binary(encode_json_binary(msg, list(buffers)))
        else:
            self.ws.send(json.dumps(msg))
        return msg["header"]["msg_id"]

    def recv(self, timeout: float = 60) -> dict:
        if self.backlog:
            return self.backlog.pop(0)
        self.ws.settimeout(timeout)
        try:
            opcode, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException as exc:
            raise TimeoutError(f"nothing received within {timeout:.1f} s") from exc
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
            raise ConnectionError(f"websocket closed by server ({code})")
        if self.protocol == "v1":
            return decode_v1(data)
        if opcode == websocket.ABNF.OPCODE_BINARY:
            return decode_json_binary(data)
        return json.loads(data.decode("utf-8"))  # strict: a text frame must be valid UTF-8

    def execute(
        self,
        code: str,
        timeout: float = 60,
        stdin_reply: str | None = None,
        allow_stdin: bool = False,
    ) -> tuple[dict, list[dict]]:
        """Run code; return (execute_reply content, iopub messages of this request)."""
        msg_id = self.start_execute(code, allow_stdin=allow_stdin or stdin_reply is not None)
        return self.collect(msg_id, timeout, stdin_reply)

    def start_execute(self, code: str, allow_stdin: bool = False) -> str:
        """Send a complete execute_request (older ipykernels need every field); its msg_id."""
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": allow_stdin,
            "stop_on_error": True,
        }
        return self.send(self.message("execute_request", content))

    def collect(
        self, msg_id: str, timeout: float = 60, stdin_reply: str | None = None
    ) -> tuple[dict, list[dict]]:
        reply, iopub, idle = None, [], False
        deadline = time.monotonic() + timeout
        while reply is None or not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply/idle for {msg_id}: reply={reply} iopub={iopub}")
            m = self.recv(left)
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if m["channel"] == "iopub":
                iopub.append(m)
                if (
                    m["header"]["msg_type"] == "status"
                    and m["content"]["execution_state"] == "idle"
                ):
                    idle = True
            elif m["channel"] == "stdin" and m["header"]["msg_type"] == "input_request":
                r = self.message("input_reply", {"value": stdin_reply or ""}, channel="stdin")
                r["parent_header"] = m["header"]
                self.send(r)
            elif m["channel"] == "shell":
                reply = m
        return reply["content"], iopub

    def wait_for(self, predicate, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("message not seen")
            m = self.recv(left)
            if predicate(m):
                return m

    def wait_for_status(self, state: str, timeout: float = 60) -> dict:
        """The next iopub status message saying ``state`` (busy, idle, restarting, dead)."""
        return self.wait_for(
            lambda m: (
                m["channel"] == "iopub"
                and m["header"]["msg_type"] == "status"
                and m["content"]["execution_state"] == state
            ),
            timeout,
        )

    def close(self) -> None:
        self.ws.close()


def wait_until(predicate, timeout: float = 30, what: str = "condition"):
    """Poll ``predicate`` every 0.2 s until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stream_text(iopub: list[dict], name: str = "stdout") -> str:
    return "".join(
        m["content"]["text"]
        for m in iopub
        if m["header"]["msg_type"] == "stream" and m["content"]["name"] == name
    )


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid``, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS")).split()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def kernel_pid(channel: KernelChannel) -> int:
    _, iopub = channel.execute("import os; print(os.getpid())")
    return int(stream_text(iopub).strip())


def child_pids(pid: int) -> list[int]:
    """Live (non-zombie) children of ``pid``, read from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state != "Z":
            children.append(int(entry))
    return sorted(children)


def is_fork_server(pid: int) -> bool:
    """Whether ``pid`` is a server's kernel fork server (jupyter_lite_server/kernels/forking)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"kernels/forking/server.py" in f.read()
    except OSError:
        return False


def kernel_pids(pid: int) -> list[int]:
    """Live processes below server ``pid`` other than its kernel fork server (which stays
    while the server runs): its kernels, started as new interpreters or forked."""
    found = []
    for child in child_pids(pid):
        found += kernel_pids(child) if is_fork_server(child) else [child]
    return sorted(found)
