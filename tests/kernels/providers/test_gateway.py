"""The gateway provider against real gateways: Jupyter Kernel Gateway 3 and Enterprise Gateway 3.

Each gateway runs on 127.0.0.1 in its own process (Enterprise Gateway in its own
virtualenv); `jls serve --gateway-url` drives kernels there. What a user sees is
checked on both sides: the jls API and websocket, and the gateway's own API.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest
from gateways import Gateway, free_port, start_enterprise_gateway, start_kernel_gateway
from jls_client import isolated_env, start_server_in, stream_text, wait_until

pytestmark = pytest.mark.slow

GATEWAYS = {"kernel_gateway": start_kernel_gateway, "enterprise_gateway": start_enterprise_gateway}


@pytest.fixture(scope="module", params=sorted(GATEWAYS))
def gateway(request, tmp_path_factory) -> Gateway:
    workdir = str(tmp_path_factory.mktemp(request.param))
    gw = GATEWAYS[request.param](workdir)
    yield gw
    gw.stop()


def _jls_env(base) -> dict[str, str]:
    env = isolated_env(str(base))
    env["KERNEL_EXTRA_FLAG"] = "from-the-server-env"  # KERNEL_* variables travel to the gateway
    return env


def start_jls(base, gateway: Gateway, *args: str, token: str | None = None):
    """`jls serve --gateway-url` in ``base``, with the gateway's token unless told otherwise."""
    return start_server_in(
        base,
        "--gateway-url", gateway.url,
        f"--GatewayProvider.auth_token={token or gateway.token}",
        # Enterprise Gateway refuses kernels for root, the user these tests run as.
        "--GatewayProvider.kernel_username=jls-test-user",
        *args,
        env=_jls_env(base),
    )  # fmt: skip


@pytest.fixture(scope="module")
def jls(gateway, tmp_path_factory):
    base = tmp_path_factory.mktemp("jls")
    server = start_jls(base, gateway)
    yield server
    server.stop()


def listening_ports(pid: int) -> set[int]:
    """TCP ports process ``pid`` listens on (its socket inodes matched in /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            for row in f.readlines()[1:]:
                fields = row.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _remote_ids(gateway: Gateway) -> set[str]:
    return {k["id"] for k in gateway.remote_kernels()}


def test_remote_kernelspecs_replace_local_ones(jls, gateway):
    listed = jls.api().get("api/kernelspecs").json()
    remote = gateway.api("GET", "/api/kernelspecs").json()["kernelspecs"]
    assert set(listed["kernelspecs"]) == set(remote)
    assert listed["kernelspecs"]["python3"]["spec"]["language"] == "python"
    assert jls.api().post("api/kernels", json={"name": "pyimport-python3"}).status_code == 400


def test_full_lifecycle_runs_on_the_gateway_and_leaves_nothing(jls, gateway):
    api = jls.api()
    before = _remote_ids(gateway)
    model = api.start_kernel("python3")
    remote = _remote_ids(gateway) - before
    assert len(remote) == 1, "the kernel was not started on the gateway"
    ch = api.channels(model["id"])
    try:
        reply, iopub = ch.execute(
            "import os; x = 6 * 7; print(x, os.environ.get('KERNEL_USERNAME'),"
            " os.environ.get('KERNEL_EXTRA_FLAG'))"
        )
        assert reply["status"] == "ok"
        assert stream_text(iopub).split() == ["42", "jls-test-user", "from-the-server-env"]

        reply, iopub = ch.execute("name = input('who? '); print('hi', name)", stdin_reply="ada")
        assert reply["status"] == "ok" and stream_text(iopub) == "hi ada\n"

        msg_id = ch.start_execute("import time; time.sleep(60)")
        time.sleep(1.5)
        started = time.monotonic()
        assert api.post(f"api/kernels/{model['id']}/interrupt").status_code == 204
        reply, _ = ch.collect(msg_id, timeout=30)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - started < 20

        r = api.post(f"api/kernels/{model['id']}/restart")
        assert r.status_code == 200, r.text
        reply, iopub = ch.execute("print('x' in dir())")
        assert stream_text(iopub) == "False\n", "restart did not give a fresh interpreter"
        assert _remote_ids(gateway) - before == remote, "restart replaced the remote kernel"
    finally:
        ch.close()
    assert api.delete(f"api/kernels/{model['id']}").status_code == 204
    assert api.get(f"api/kernels/{model['id']}").status_code == 404
    wait_until(lambda: not (_remote_ids(gateway) & remote), 30,
               "the remote kernel deleted on the gateway")  # fmt: skip


def test_a_gateway_kernel_opens_no_port_on_this_host(jls):
    """The bridge talks to the server in-process: no local user can subscribe to the
    kernel's output or send it requests except through the server's own API."""
    api = jls.api()
    before = listening_ports(jls.proc.pid)
    model = api.start_kernel("python3")
    ch = api.channels(model["id"])
    try:
        assert ch.execute("1 + 1")[0]["status"] == "ok"
        assert listening_ports(jls.proc.pid) == before
    finally:
        ch.close()
        assert api.delete(f"api/kernels/{model['id']}").status_code == 204


def test_session_with_a_remote_kernel(jls, gateway):
    api = jls.api()
    r = api.post(
        "api/sessions",
        json={"path": "remote.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    assert r.status_code == 201, r.text
    session = r.json()
    ch = api.channels(session["kernel"]["id"], session_id=session["id"])
    try:
        _reply, iopub = ch.execute("print(sum(range(10)))")
        assert stream_text(iopub) == "45\n"
    finally:
        ch.close()
    remote_before = _remote_ids(gateway)
    assert api.delete(f"api/sessions/{session['id']}").status_code == 204
    wait_until(
        lambda: len(_remote_ids(gateway)) == len(remote_before) - 1, what="remote kernel gone"
    )


def _logo_served_as_on_the_gateway(api, gateway: Gateway, name: str, remote_name: str) -> None:
    """Every resource of the kernelspec comes from jls with the gateway's bytes."""
    resources = api.get(f"api/kernelspecs/{name}").json()["resources"]
    remote = gateway.api("GET", f"/api/kernelspecs/{remote_name}").json()["resources"]
    assert set(resources) == set(remote) and "logo-64x64" in resources
    for key, url in resources.items():
        assert url.startswith("/kernelspecs/"), url  # the server's own URL, not the gateway's
        r = api.get(url.lstrip("/"))
        assert r.status_code == 200, r.text
        assert r.content == gateway.api("GET", remote[key]).content
        assert r.headers["Content-Type"] in ("image/png", "image/svg+xml")


def test_remote_kernelspec_logos_are_served_with_the_servers_credentials(jls, gateway):
    """A browser can neither reach the gateway nor hold its token: jls fetches the logos."""
    api = jls.api()
    _logo_served_as_on_the_gateway(api, gateway, "python3", "python3")
    r = api.get("kernelspecs/python3/no-such-logo.png")
    assert r.status_code == 404 and "no-such-logo.png" in r.json()["message"]


def test_unknown_remote_kernel_name_is_a_client_error(jls):
    r = jls.api().post("api/kernels", json={"name": "no-such-kernel"})
    assert r.status_code == 400 and "no-such-kernel" in r.json()["message"]


def test_local_kernels_alongside(gateway, tmp_path):
    server = start_jls(
        tmp_path,
        gateway,
        "--GatewayProvider.local_kernels=True",
        "--KernelFinder.show_shadowed=True",
    )
    try:
        api = server.api()
        names = set(api.get("api/kernelspecs").json()["kernelspecs"])
        assert {"python3", "gateway-python3"} <= names
        _logo_served_as_on_the_gateway(api, gateway, "gateway-python3", "python3")
        before = _remote_ids(gateway)
        local = api.start_kernel("python3")
        assert _remote_ids(gateway) == before, "a local kernel was started on the gateway"
        remote = api.start_kernel("gateway-python3")
        assert len(_remote_ids(gateway) - before) == 1
        for model in (local, remote):
            ch = api.channels(model["id"])
            try:
                assert stream_text(ch.execute("print('ok')")[1]) == "ok\n"
            finally:
                ch.close()
            assert api.delete(f"api/kernels/{model['id']}").status_code == 204
        wait_until(lambda: _remote_ids(gateway) == before, 30, "the remote kernel deleted")
    finally:
        server.stop()


def test_wrong_token_is_reported_not_hidden(gateway, tmp_path):
    server = start_jls(tmp_path, gateway, token="not-the-token")
    try:
        api = server.api()
        assert api.get("api/kernelspecs").json()["kernelspecs"] == {}
        r = api.post("api/kernels", json={"name": "python3"})
        assert r.status_code == 400  # nothing listed: no such kernel
        assert "Cannot list the gateway's kernels" in server.log_text()
        assert "403" in server.log_text() or "401" in server.log_text()
    finally:
        server.stop()


def test_gateway_going_away_is_a_dead_kernel_not_a_hung_socket(tmp_path):
    gateway = start_kernel_gateway(str(tmp_path))
    server = start_jls(tmp_path, gateway, "--GatewayProvider.retries=1")
    try:
        api = server.api()
        model = api.start_kernel("python3")
        ch = api.channels(model["id"])
        assert stream_text(ch.execute("print('before')")[1]) == "before\n"
        gateway.proc.send_signal(signal.SIGTERM)  # the gateway stops, taking its kernels
        gateway.proc.wait(30)
        dead = ch.wait_for_status("dead", timeout=60)
        assert dead
        wait_until(lambda: api.get(f"api/kernels/{model['id']}").status_code == 404, what="removal")
        ch.close()
        assert "Gateway kernel" in server.log_text() and "is dead" in server.log_text()

        r = api.post("api/kernels", json={"name": "python3"})
        assert r.status_code == 502, r.text
        assert gateway.url in r.json()["message"] and "unreachable" in r.json()["message"]
        r = api.get("kernelspecs/python3/logo-64x64.png")
        assert r.status_code == 502 and gateway.url in r.json()["message"], r.text
    finally:
        server.stop()
        gateway.stop()


def test_a_kernel_whose_websocket_cannot_be_opened_fails_and_is_deleted(tmp_path):
    """The start answers before the gateway's websocket is open; when it never opens,
    the start fails with the reason and the kernel is not left on the gateway."""
    gateway = start_kernel_gateway(str(tmp_path))
    nobody = f"ws://127.0.0.1:{free_port()}"  # REST reaches the gateway, websockets do not
    server = start_jls(
        tmp_path, gateway, f"--GatewayProvider.ws_url={nobody}", "--GatewayProvider.retries=0"
    )
    try:
        r = server.api().post("api/kernels", json={"name": "python3"})
        assert r.status_code >= 500, r.text
        message = r.json()["message"]
        assert "websocket could not be opened" in message, message
        assert f"{nobody} is unreachable" in message, message
        wait_until(lambda: not gateway.remote_kernels(), what="remote kernel deleted")
        assert server.api().get("api/kernels").json() == []
    finally:
        server.stop()
        gateway.stop()


def test_kernels_on_a_gateway_survive_a_server_restart(tmp_path):
    gateway = start_kernel_gateway(str(tmp_path))
    db = str(tmp_path / "sessions.db")
    server = start_jls(tmp_path, gateway, "--sessions-db", db)
    try:
        api = server.api()
        session = api.post(
            "api/sessions",
            json={"path": "kept.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
        ).json()
        ch = api.channels(session["kernel"]["id"], session_id=session["id"])
        ch.execute("kept = 'still here'")
        ch.close()
        server.stop(signal.SIGKILL)
        server = start_jls(tmp_path, gateway, "--sessions-db", db)
        api = server.api()
        assert [s["id"] for s in api.get("api/sessions").json()] == [session["id"]]
        assert "Kernel reattached" in server.log_text()
        ch = api.channels(session["kernel"]["id"], session_id=session["id"])
        assert stream_text(ch.execute("print(kept)")[1]) == "still here\n"
        ch.close()
        assert api.delete(f"api/sessions/{session['id']}").status_code == 204
        wait_until(lambda: not gateway.remote_kernels(), what="remote kernel deleted")
    finally:
        server.stop()
        gateway.stop()
