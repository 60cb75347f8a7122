"""/api/kernels lifecycle and bad input, against real kernels."""

import contextlib
import json
import os
import sys
import threading
import time

import pytest
import websocket
from jls_client import (
    child_pids,
    isolated_env,
    kernel_pid,
    start_server,
    stream_text,
    wait_gone,
    wait_until,
)


def test_start_list_get_delete_leaves_no_process(api, server):
    model = api.start_kernel()
    assert set(model) == {"id", "name", "last_activity", "execution_state", "connections"}
    assert model["name"] == "python3"
    assert model["id"] in [k["id"] for k in api.get("api/kernels").json()]
    ch = api.channels(model["id"])
    pid = kernel_pid(ch)
    got = api.get(f"api/kernels/{model['id']}").json()
    assert got["execution_state"] == "idle" and got["connections"] == 1
    ch.close()
    r = api.delete(f"api/kernels/{model['id']}")
    assert r.status_code == 204
    assert wait_gone(pid, 5), "kernel process still running after DELETE"
    assert api.get(f"api/kernels/{model['id']}").status_code == 404
    assert model["id"] not in [k["id"] for k in api.get("api/kernels").json()]
    runtime = isolated_env(os.path.dirname(server.root))["JUPYTER_RUNTIME_DIR"]
    # DELETE answers once the shutdown is committed; the stop, and the connection
    # file's removal after it, finish in the background
    wait_until(lambda: not [f for f in os.listdir(runtime) if model["id"] in f], 10,
               "the connection file to be removed")


def test_location_header_and_status_model(api):
    r = api.post("api/kernels", json={"name": "python3"})
    assert r.status_code == 201
    kid = r.json()["id"]
    assert r.headers["Location"].endswith(f"/api/kernels/{kid}")
    status = api.get("api/status").json()
    assert status["kernels"] >= 1 and set(status) == {
        "started",
        "last_activity",
        "kernels",
        "connections",
    }
    api.delete(f"api/kernels/{kid}")


def test_requests_clients_really_send_are_accepted(api):
    assert api.get("api/kernels?1795315").status_code == 200
    assert api.get("api/kernels", headers={"Content-Type": "application/json"}).status_code == 200
    r = api.post("api/kernels", json={"name": "python3", "env": {"X": "1"}, "extra": [1]})
    assert r.status_code == 201
    kid = r.json()["id"]
    r = api.delete(f"api/kernels/{kid}?123", headers={"Content-Type": "application/json"})
    assert r.status_code == 204


def test_post_without_body_starts_default_kernel(api):
    r = api.post("api/kernels")
    assert r.status_code == 201 and r.json()["name"] == "python3"
    api.delete(f"api/kernels/{r.json()['id']}")


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "api/kernels/00000000-0000-0000-0000-000000000000"),
        ("DELETE", "api/kernels/00000000-0000-0000-0000-000000000000"),
        ("POST", "api/kernels/00000000-0000-0000-0000-000000000000/interrupt"),
        ("POST", "api/kernels/00000000-0000-0000-0000-000000000000/restart"),
        ("GET", "api/kernels/not-a-uuid"),
        ("GET", "api/nothing-here"),
    ],
)
def test_unknown_kernel_is_json_404(api, method, path):
    r = api.request(method, path)
    assert r.status_code == 404
    body = r.json()
    assert body["message"] and "reason" in body


def test_unknown_kernel_name_is_400_naming_it(api):
    r = api.post("api/kernels", json={"name": "no-such-kernel"})
    assert r.status_code == 400
    assert "no-such-kernel" in r.json()["message"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b'{"name": 5}'])
def test_malformed_body_is_400(api, body):
    r = api.post("api/kernels", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["message"]


def test_path_outside_root_is_400(api):
    r = api.post("api/kernels", json={"name": "python3", "path": "../../etc"})
    assert r.status_code == 400


def test_kernel_starts_in_directory_of_path(api, server):
    os.makedirs(os.path.join(server.root, "sub", "dir"), exist_ok=True)
    model = api.start_kernel(path="sub/dir/notebook.ipynb")
    ch = api.channels(model["id"])
    _, iopub = ch.execute("import os; print(os.getcwd())")
    out = "".join(m["content"]["text"] for m in iopub if m["header"]["msg_type"] == "stream")
    assert os.path.realpath(out.strip()) == os.path.realpath(os.path.join(server.root, "sub/dir"))
    ch.close()
    api.delete(f"api/kernels/{model['id']}")


def test_concurrent_starts_all_succeed(api):
    results = []

    def start():
        results.append(api.post("api/kernels", json={"name": "python3"}))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201] * 4
    ids = {r.json()["id"] for r in results}
    assert len(ids) == 4
    for kid in ids:
        ch = api.channels(kid)
        reply, _ = ch.execute("1+1")
        assert reply["status"] == "ok"
        ch.close()
        assert api.delete(f"api/kernels/{kid}").status_code == 204


@pytest.fixture(scope="module")
def broken_spec_server(tmp_path_factory):
    """A server with a kernelspec whose process dies at once, printing to stderr."""
    base = str(tmp_path_factory.mktemp("broken"))
    spec_dir = os.path.join(base, "data", "kernels", "broken")
    os.makedirs(spec_dir)
    code = "import sys; sys.stderr.write('boom: the kernel cannot start\\n'); sys.exit(3)"
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump(
            {
                "argv": [sys.executable, "-c", code, "{connection_file}"],
                "display_name": "Broken",
                "language": "python",
            },
            f,
        )
    missing_dir = os.path.join(base, "data", "kernels", "missing-binary")
    os.makedirs(missing_dir)
    with open(os.path.join(missing_dir, "kernel.json"), "w") as f:
        json.dump(
            {
                "argv": ["/nonexistent/kernel-binary", "{connection_file}"],
                "display_name": "Missing",
                "language": "none",
            },
            f,
        )
    env = isolated_env(base)
    env["JUPYTER_PATH"] = os.path.join(base, "data")
    root = os.path.join(base, "root")
    os.makedirs(root)
    srv = start_server(root, base, env=env)
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    "name,expected",
    [("broken", "boom: the kernel cannot start"), ("missing-binary", "kernel-binary")],
)
def test_kernel_that_fails_to_start_is_500_with_stderr_and_leaves_nothing(
    broken_spec_server, name, expected
):
    api = broken_spec_server.api()
    assert name in api.get("api/kernelspecs").json()["kernelspecs"]
    r = api.post("api/kernels", json={"name": name})
    assert r.status_code == 500
    assert expected in r.json()["message"]
    assert api.get("api/kernels").json() == []
    assert child_pids(broken_spec_server.proc.pid) == []


def test_first_start_of_a_type_waits_later_ones_answer_at_launch(api):
    """jupyter_server-like fast POSTs once a kernel type is known to start."""
    first = api.start_kernel()  # python3 was proven by earlier tests or proves itself now
    second = api.start_kernel()
    assert second["execution_state"] == "starting"
    ch = api.channels(second["id"])  # messages are held until the kernel is ready
    assert ch.execute("1+1")[0]["status"] == "ok"
    ch.close()
    for model in (first, second):
        api.delete(f"api/kernels/{model['id']}")


@pytest.fixture
def flaky_spec_server(tmp_path):
    """A kernelspec that works until a marker file appears, then dies at start."""
    marker = tmp_path / "broken-now"
    spec_dir = tmp_path / "data" / "kernels" / "flaky"
    spec_dir.mkdir(parents=True)
    launcher = (
        "import os, sys\n"
        f"if os.path.exists({str(marker)!r}):\n"
        "    sys.stderr.write('flaky: my environment is gone\\n'); sys.exit(4)\n"
        "from ipykernel import kernelapp\n"
        "kernelapp.launch_new_instance(argv=['-f', sys.argv[1]])\n"
    )
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-c", launcher, "{connection_file}"],
                "display_name": "Flaky",
                "language": "python",
            }
        )
    )
    env = isolated_env(str(tmp_path))
    env["JUPYTER_PATH"] = str(tmp_path / "data")
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(str(root), str(tmp_path), env=env)
    yield srv, marker
    srv.stop()


def test_type_that_breaks_after_being_proven_is_reported(flaky_spec_server):
    srv, marker = flaky_spec_server
    api = srv.api()
    ok = api.start_kernel("flaky")
    assert ok["execution_state"] == "idle"  # the first start waited for readiness
    marker.write_text("")
    late = api.start_kernel("flaky")  # proven type: answered at launch, then it dies
    try:
        ch = api.channels(late["id"])
    except websocket.WebSocketBadStatusException as exc:
        assert exc.status_code == 404  # it died and was removed before we connected
    else:
        # connected in time: we are told it is dead, or the socket closes
        with contextlib.suppress(ConnectionError):
            ch.wait_for(
                lambda m: (
                    m["header"]["msg_type"] == "status"
                    and m["content"]["execution_state"] == "dead"
                ),
                timeout=30,
            )
    deadline = time.monotonic() + 10
    while api.get(f"api/kernels/{late['id']}").status_code != 404:
        assert time.monotonic() < deadline, "a kernel that died at start-up is still listed"
        time.sleep(0.1)
    r = api.post("api/kernels", json={"name": "flaky"})  # must prove itself again
    assert r.status_code == 500 and "my environment is gone" in r.json()["message"]
    assert [k["id"] for k in api.get("api/kernels").json()] == [ok["id"]]
    assert "my environment is gone" in srv.log_text()


def test_interrupting_a_kernel_that_is_still_starting_does_not_kill_it(server, api):
    api.delete(
        f"api/kernels/{api.start_kernel()['id']}"
    )  # the type is proven: starts answer at once
    model = api.start_kernel()
    for _ in range(3):
        assert api.post(f"api/kernels/{model['id']}/interrupt").status_code == 204
    channel = api.channels(model["id"])
    reply, _ = channel.execute("'alive'")
    assert reply["status"] == "ok"
    assert f"Kernel {model['id']} died" not in server.log_text()
    channel.close()
    api.delete(f"api/kernels/{model['id']}")


def test_restart_while_the_kernel_starts_restarts_it_instead_of_failing(api):
    """Schemathesis found a 500: interrupt, then restart, during a kernel's start-up.

    The start-up check saw the old process die and removed the kernel while the
    restart launched its new process. Delays sweep the start-up window.
    """
    api.delete(f"api/kernels/{api.start_kernel()['id']}")  # python3 proven: starts answer early
    for delay in (0, 0.03, 0.06, 0.1, 0.2):
        model = api.start_kernel()
        api.post(f"api/kernels/{model['id']}/interrupt")
        time.sleep(delay)
        r = api.post(f"api/kernels/{model['id']}/restart")
        assert r.status_code == 200, f"after {delay} s: {r.text}"
        ch = api.channels(model["id"])
        try:
            assert stream_text(ch.execute("print('alive')")[1]) == "alive\n"
        finally:
            ch.close()
        assert api.delete(f"api/kernels/{model['id']}").status_code == 204


def test_two_restarts_at_once_both_answer_with_one_restarted_kernel(api):
    """The second restart joins the one under way: no 500, one new process."""
    model = api.start_kernel()
    ch = api.channels(model["id"])
    old_pid = kernel_pid(ch)
    answers: list = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(api.post(f"api/kernels/{model['id']}/restart"))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    new_pid = kernel_pid(ch)
    assert new_pid != old_pid
    assert wait_gone(old_pid, 5), "the old kernel process is still running"
    assert stream_text(ch.execute("print('once')")[1]) == "once\n"
    ch.close()
    assert api.delete(f"api/kernels/{model['id']}").status_code == 204
    assert wait_gone(new_pid, 5)


def test_deleting_a_busy_kernel_puts_no_traceback_in_the_server_log(api, server):
    """ipykernel stopped mid-execution prints a ZMQ traceback; a requested shutdown is not news."""
    model = api.start_kernel()
    ch = api.channels(model["id"])
    msg_id = ch.start_execute("import time; time.sleep(30)")
    ch.wait_for(lambda m: m["header"]["msg_type"] == "execute_input"
                and m["parent_header"].get("msg_id") == msg_id)  # fmt: skip
    assert api.delete(f"api/kernels/{model['id']}").status_code == 204
    ch.close()
    # The DELETE answers once the shutdown is committed; the process stops after.
    wait_until(lambda: f"Kernel shut down: {model['id']}" in server.log_text(), 30,
               "the shutdown to finish")  # fmt: skip
    log = server.log_text()
    ours = [line for line in log.splitlines() if f"[kernel {model['id'][:8]}]" in line]
    assert not [line for line in ours if "ZMQError" in line or "Traceback" in line], ours
