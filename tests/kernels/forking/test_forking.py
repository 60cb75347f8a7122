"""Kernels forked from the fork server behave as kernels started as new interpreters."""

from __future__ import annotations

import json
import os
import signal
import sys
import venv

import pytest
from jls_client import (
    Server,
    child_pids,
    is_fork_server,
    isolated_env,
    kernel_pid,
    pid_alive,
    start_server,
    stream_text,
    wait_gone,
    wait_until,
)


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [arg.decode() for arg in f.read().split(b"\0") if arg]


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def fork_server_of(server: Server) -> int | None:
    found = [p for p in child_pids(server.proc.pid) if is_fork_server(p)]
    return found[0] if found else None


def ready_fork_server_of(server: Server) -> int:
    """The fork server, once it has said it is ready (kernels started before are not forks)."""
    wait_until(lambda: "Kernel fork server ready" in server.log_text(), what="fork server ready")
    pid = fork_server_of(server)
    assert pid is not None
    return pid


def start_notebook_kernel(server: Server, path: str) -> tuple[dict, object]:
    """A session for notebook ``path`` and a websocket to its kernel."""
    api = server.api()
    body = {"path": path, "type": "notebook", "kernel": {"name": "python3"}}
    r = api.post("api/sessions", json=body)
    assert r.status_code == 201, r.text
    session = r.json()
    channel = api.channels(session["kernel"]["id"])
    return session, channel


@pytest.fixture
def base(tmp_path) -> str:
    return str(tmp_path)


def server_in(base: str, *args: str, env: dict[str, str] | None = None) -> Server:
    root = os.path.join(base, "root")
    os.makedirs(os.path.join(root, "project"), exist_ok=True)
    return start_server(root, base, *args, env=env)


def test_a_forked_kernel_is_a_kernel_of_its_own_notebook(base):
    server = server_in(base)
    try:
        root = server.root
        with open(os.path.join(root, "project", "helper.py"), "w") as f:
            f.write("ANSWER = 42\n")
        # The first kernel starts the fork server; it is launched as a new interpreter.
        _, first = start_notebook_kernel(server, "first.ipynb")
        first_pid = kernel_pid(first)
        assert parent_of(first_pid) == server.proc.pid
        forker = ready_fork_server_of(server)

        session, kernel = start_notebook_kernel(server, "project/analysis.ipynb")
        pid = kernel_pid(kernel)
        assert parent_of(pid) == forker  # forked, not a new interpreter
        # ps and /proc show the kernel's own command line, naming its connection file.
        argv = cmdline(pid)
        assert argv[1:3] == ["-m", "ipykernel_launcher"]
        assert argv[-1].endswith(f"kernel-{session['kernel']['id']}.json")

        code = (
            "import os, sys, random, json, helper\n"
            "print(json.dumps([os.getcwd(), os.environ.get('JPY_SESSION_NAME'),"
            " helper.ANSWER, random.random(), sys.argv[0]]))"
        )
        reply, iopub = kernel.execute(code)
        assert reply["status"] == "ok", reply
        cwd, session_name, answer, forked_random, argv0 = json.loads(stream_text(iopub))
        assert cwd == os.path.join(root, "project")
        assert session_name.endswith("analysis.ipynb")
        assert answer == 42  # modules next to the notebook import, as with `python -m`
        assert argv0.endswith("ipykernel_launcher.py")

        # A second forked kernel does not share the first one's random state.
        _, other = start_notebook_kernel(server, "project/other.ipynb")
        assert parent_of(kernel_pid(other)) == forker
        _, iopub = other.execute("import random; print(random.random())")
        assert float(stream_text(iopub)) != forked_random

        # Interrupt by signal reaches it.
        msg_id = kernel.start_execute("import time; time.sleep(60)")
        kernel.wait_for_status("busy")
        r = server.api().post(f"api/kernels/{session['kernel']['id']}/interrupt")
        assert r.status_code == 204
        reply, _ = kernel.collect(msg_id, timeout=20)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"

        # A restart gives a fresh forked kernel; DELETE leaves no process.
        kernel.execute("x = 1")
        r = server.api().post(f"api/kernels/{session['kernel']['id']}/restart")
        assert r.status_code == 200
        assert wait_gone(pid)
        kernel.close()
        kernel = server.api().channels(session["kernel"]["id"])
        new_pid = kernel_pid(kernel)
        assert new_pid != pid and parent_of(new_pid) == forker
        reply, _ = kernel.execute("x")
        assert reply["status"] == "error" and reply["ename"] == "NameError"
        assert server.api().delete(f"api/sessions/{session['id']}").status_code == 204
        assert wait_gone(new_pid)
    finally:
        server.stop()
    assert wait_gone(forker)
    assert not pid_alive(first_pid)


def test_killing_the_fork_server_ends_its_kernels_and_new_ones_still_start(base):
    server = server_in(base)
    try:
        api = server.api()
        api.start_kernel()
        forker = ready_fork_server_of(server)
        forked = api.start_kernel()
        channel = api.channels(forked["id"])
        pid = kernel_pid(channel)
        assert parent_of(pid) == forker

        os.kill(forker, signal.SIGKILL)
        assert wait_gone(pid, timeout=10)  # its kernels watch their parent and end with it
        # The server restarts the kernel that died, now as a new interpreter.
        channel.close()

        def restarted_pid():
            try:
                return kernel_pid(api.channels(forked["id"]))
            except (ConnectionError, TimeoutError):
                return None

        new_pid = wait_until(restarted_pid, timeout=60, what="the kernel restarted")
        assert parent_of(new_pid) == server.proc.pid
        later = api.start_kernel()
        assert parent_of(kernel_pid(api.channels(later["id"]))) == server.proc.pid
        assert "Kernel fork server ended" in server.log_text()
    finally:
        server.stop()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_nothing_is_left_when_the_server_goes(base, how):
    server = server_in(base)
    api = server.api()
    api.start_kernel()
    forker = ready_fork_server_of(server)
    pid = kernel_pid(api.channels(api.start_kernel()["id"]))
    assert parent_of(pid) == forker
    server.stop(how)
    if how == signal.SIGTERM:  # a server that stops as asked waits for both
        assert not pid_alive(forker) and not pid_alive(pid)
    assert wait_gone(forker, timeout=10)
    assert wait_gone(pid, timeout=10)


def test_no_kernel_fork_starts_every_kernel_as_a_new_interpreter(base):
    server = server_in(base, "--no-kernel-fork")
    try:
        api = server.api()
        pids = [kernel_pid(api.channels(api.start_kernel()["id"])) for _ in range(2)]
        assert [parent_of(pid) for pid in pids] == [server.proc.pid] * 2
        assert fork_server_of(server) is None
    finally:
        server.stop()


def server_with_kernelspec(base: str, name: str, python: str, **fields: object) -> Server:
    """A server whose Jupyter path has kernelspec ``name``: ``python -m ipykernel_launcher``."""
    spec_dir = os.path.join(base, "data", "kernels", name)
    os.makedirs(spec_dir)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump({"argv": argv, "display_name": name, "language": "python", **fields}, f)
    env = isolated_env(base)
    env["JUPYTER_PATH"] = os.path.join(base, "data")
    return server_in(base, env=env)


def run_in_unforked_kernel(server: Server, name: str, code: str) -> str:
    """Start a kernel of type ``name`` once the fork server is ready; assert it is not a
    fork; what ``code`` prints in it."""
    api = server.api()
    api.start_kernel()
    ready_fork_server_of(server)
    channel = api.channels(api.start_kernel(name)["id"])
    assert parent_of(kernel_pid(channel)) == server.proc.pid
    _, iopub = channel.execute(code)
    return stream_text(iopub).strip()


def test_a_kernelspec_with_its_own_start_up_environment_is_not_forked(base):
    """A variable the interpreter reads as it starts (here the hash seed) must take
    effect, which a fork of an already started interpreter could not do."""
    server = server_with_kernelspec(base, "seeded", sys.executable, env={"PYTHONHASHSEED": "0"})
    try:
        code = "import sys; print(sys.flags.hash_randomization)"
        assert run_in_unforked_kernel(server, "seeded", code) == "0"
    finally:
        server.stop()


def test_a_kernelspec_of_another_virtual_environment_runs_in_it(base):
    """Its ``python`` is a link to the very same interpreter file, yet another
    environment: the kernel must run with that environment's prefix, not be forked."""
    venv_dir = os.path.join(base, "otherenv")
    venv.create(venv_dir, system_site_packages=True, with_pip=False, symlinks=True)
    python = os.path.join(venv_dir, "bin", "python")
    assert os.path.realpath(python) == os.path.realpath(sys.executable)
    server = server_with_kernelspec(base, "otherenv", python)
    try:
        prefix = run_in_unforked_kernel(server, "otherenv", "import sys; print(sys.prefix)")
        assert prefix == venv_dir
    finally:
        server.stop()
