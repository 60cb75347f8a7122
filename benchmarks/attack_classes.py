"""The hardening classes of issue 15, probed against jls and jupyter_server side by side.

    python3 benchmarks/attack_classes.py [--jupyter jupyter] [--jls jls] [--before DIR]

``--before DIR``: also an earlier jls, from a checkout (``git worktree add DIR <commit>``),
run with this Python and that checkout first on its path.

Starts each server on a scratch folder (127.0.0.1, a token), runs every probe
and prints a markdown table: class | jls | jupyter_server. Needs root (files
given to another user). Each probe says what a user would observe.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import requests
import websocket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, kind: str, command: str, extra: tuple[str, ...] = ()) -> None:
        self.kind, self.base = kind, tempfile.mkdtemp(prefix=f"attack-{kind}-")
        self.root = os.path.join(self.base, "root")
        os.makedirs(self.root)
        self.token, self.port = secrets.token_hex(16), free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": os.path.join(self.base, "runtime"),
               "JUPYTER_DATA_DIR": os.path.join(self.base, "data"),
               "XDG_DATA_HOME": os.path.join(self.base, "xdg")}  # fmt: skip
        if kind.startswith("jls"):
            argv = [*command.split("\0"), "serve", "--port", str(self.port), "--root", self.root,
                    f"--token={self.token}", "--ServerApp.serve_lab=False"]  # fmt: skip
        else:
            argv = [command, "server", "--allow-root", "--no-browser", f"--port={self.port}",
                    f"--ServerApp.root_dir={self.root}",
                    f"--IdentityProvider.token={self.token}"]  # fmt: skip
        argv += extra
        self.log = open(os.path.join(self.base, "log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "api/status", headers=self.auth, timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"{kind} did not start")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def req(self, method: str, path: str, timeout: float = 5, **kw):  # type: ignore[no-untyped-def]
        return requests.request(method, self.url + path, headers=self.auth, timeout=timeout, **kw)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(next(x for x in f if x.startswith("VmRSS")).split()[1]) / 1024

    def answers(self) -> bool:
        try:
            return self.req("GET", "api/contents", timeout=1).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.base, ignore_errors=True)


def save_text(s: Server, path: str, text: str):  # type: ignore[no-untyped-def]
    return s.req("PUT", f"api/contents/{path}", json={"type": "file", "format": "text",
                                                        "content": text})  # fmt: skip


def probe_symlink(s: Server) -> str:
    os.makedirs(os.path.join(s.root, "real"))
    with open(os.path.join(s.root, "real", "f.txt"), "w") as f:
        f.write("old")
    os.symlink("real/f.txt", os.path.join(s.root, "link.txt"))
    save_text(s, "link.txt", "new")
    with open(os.path.join(s.root, "real", "f.txt")) as f:
        reached = f.read() == "new"
    kept = os.path.islink(os.path.join(s.root, "link.txt"))
    return "edit reaches the file, link kept" if reached and kept else (
        f"{'edit lost' if not reached else 'edit reaches the file'}, "
        f"{'link kept' if kept else 'link replaced by a copy'}")  # fmt: skip


def probe_hardlink(s: Server) -> str:
    a, b = os.path.join(s.root, "a.txt"), os.path.join(s.root, "b.txt")
    with open(a, "w") as f:
        f.write("old")
    os.link(a, b)
    save_text(s, "a.txt", "new")
    with open(b) as f:
        return "link kept" if f.read() == "new" else "link broken (other name keeps old bytes)"


def probe_owner(s: Server) -> str:
    path = os.path.join(s.root, "theirs.txt")
    with open(path, "w") as f:
        f.write("old")
    os.chown(path, 4321, 4321)
    save_text(s, "theirs.txt", "new")
    st = os.stat(path)
    return "owner kept" if (st.st_uid, st.st_gid) == (4321, 4321) else f"now owned by {st.st_uid}"


def probe_fifo(s: Server) -> str:
    os.mkfifo(os.path.join(s.root, "pipe.txt"))
    outcomes = []
    for method, path, body in (("GET", "api/contents/pipe.txt", None),
                               ("POST", "api/contents/", {"copy_from": "pipe.txt"})):  # fmt: skip
        try:
            outcomes.append(str(s.req(method, path, json=body, timeout=3).status_code))
        except requests.Timeout:
            outcomes.append("hangs")
    alive = "server answers" if s.answers() else "contents API stuck"
    return f"read {outcomes[0]}, copy {outcomes[1]}; {alive}"


def probe_non_utf8(s: Server) -> str:
    with open(os.path.join(os.fsencode(s.root), b"caf\xe9.txt"), "wb") as f:
        f.write(b"x")
    listing = s.req("GET", "api/contents")
    if not listing.ok:
        return f"folder listing {listing.status_code}"
    name = next(e["path"] for e in listing.json()["content"] if e["name"].startswith("caf"))
    try:
        from urllib.parse import quote

        opened = s.req("GET", f"api/contents/{quote(name)}").status_code
    except (UnicodeEncodeError, ValueError):
        opened = "cannot be put in a URL"
    return f"listed; opening it: {opened}"


def probe_chunked(s: Server) -> str:
    before = peak = s.rss_mb()
    sock = socket.create_connection(("127.0.0.1", s.port))
    sock.sendall(b"PUT /api/contents/x.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")  # fmt: skip
    piece = b"x" * (1 << 20)
    try:
        for i in range(128):
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            if i % 8 == 0:
                peak = max(peak, s.rss_mb())
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # answered and closed before the end: read what it said
    try:
        status = sock.recv(64).split(b"\r\n")[0].decode() or "closed"
    except OSError:
        status = "reset"
    sock.close()
    peak = max(peak, s.rss_mb())
    return f"{status}; peak RSS +{peak - before:.0f} MB"


def probe_deep_json(s: Server) -> str:
    body = '{"path": "d.ipynb", "type": "notebook", "name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    answer = s.req("POST", "api/sessions", data=body, timeout=30)
    kernels = len(s.req("GET", "api/kernels").json())
    return f"{answer.status_code}; {kernels} kernel(s) left running"


def probe_invalid_utf8_output(s: Server) -> str:
    kernel = s.req("POST", "api/kernels", json={"name": "python3"}, timeout=60).json()["id"]
    ws = websocket.create_connection(
        s.url.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels", header=[
            f"Authorization: token {s.token}"], timeout=30)  # fmt: skip
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request",
                                   "session": uuid.uuid4().hex, "username": "", "version": "5.3",
                                   "date": ""},
                        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                        "content": {"code": "import sys; sys.stdout.write('caf\\udce9')",
                                    "silent": False, "store_history": False,
                                    "user_expressions": {}, "allow_stdin": False,
                                    "stop_on_error": True}}))  # fmt: skip
    try:
        while True:
            msg = json.loads(ws.recv())
            if msg["msg_type"] == "execute_reply":
                return "valid frames, connection kept"
    except websocket.WebSocketException as exc:
        return f"connection dropped ({type(exc).__name__})"
    finally:
        ws.close()
        s.req("DELETE", f"api/kernels/{kernel}", timeout=30)


PROBES = {
    "save through a symlink": probe_symlink,
    "save a hard-linked file": probe_hardlink,
    "save a file owned by another user": probe_owner,
    "FIFO in the root": probe_fifo,
    "name that is not UTF-8": probe_non_utf8,
    "128 MB chunked body, no token": probe_chunked,
    "100,000-deep JSON session name": probe_deep_json,
    "kernel output that is not UTF-8": probe_invalid_utf8_output,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jls", default=shutil.which("jls") or "jls")
    parser.add_argument("--jupyter", default=shutil.which("jupyter") or "jupyter")
    parser.add_argument("--before", help="a checkout of an earlier jls commit")
    args = parser.parse_args()
    results: dict[str, dict[str, str]] = {}
    servers = [("jls", args.jls), ("jupyter_server", args.jupyter)]
    if args.before:
        code = "import sys; sys.path.insert(0, sys.argv.pop(1)); " \
               "from jupyter_lite_server.cli import main; main()"  # fmt: skip
        servers.insert(0, ("jls before", "\0".join([sys.executable, "-c", code, args.before])))
    for kind, command in servers:
        for name, probe in PROBES.items():
            server = Server(kind, command)  # a fresh server per probe: no probe harms the next
            try:
                results.setdefault(name, {})[kind] = probe(server)
            except Exception as exc:
                results.setdefault(name, {})[kind] = f"probe failed: {exc!r}"[:120]
            finally:
                server.stop()
    kinds = [kind for kind, _ in servers]
    print("| class | " + " | ".join(kinds) + " |\n|---|" + "---|" * len(kinds))
    for name, row in results.items():
        print(f"| {name} | " + " | ".join(row.get(kind, "") for kind in kinds) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
