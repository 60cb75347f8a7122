"""Idle kernels are culled with jupyter_server's rules; their sessions go with them."""

import time

import pytest
from jls_client import start_server_in

# Culling is judged over seconds of idleness: the full suite (CI) runs it.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def culling_server(tmp_path_factory):
    srv = start_server_in(
        tmp_path_factory.mktemp("cull"), "--cull-idle-timeout", "2", "--cull-interval", "0.5"
    )
    yield srv
    srv.stop()


def gone_within(api, kernel_id, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if api.get(f"api/kernels/{kernel_id}").status_code == 404:
            return True
        time.sleep(0.2)
    return False


def test_idle_kernel_and_its_session_are_culled(culling_server):
    api = culling_server.api()
    r = api.post(
        "api/sessions",
        json={"path": "idle.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    session = r.json()
    assert gone_within(api, session["kernel"]["id"], 10)
    assert api.get(f"api/sessions/{session['id']}").status_code == 404
    assert "Culling kernel" in culling_server.log_text()


def test_connected_kernel_is_not_culled(culling_server):
    api = culling_server.api()
    model = api.start_kernel()
    ch = api.channels(model["id"])
    assert not gone_within(api, model["id"], 4)  # idle, but a client is attached
    ch.close()
    assert gone_within(api, model["id"], 10)


def test_busy_kernel_is_not_culled(culling_server):
    api = culling_server.api()
    model = api.start_kernel()
    ch = api.channels(model["id"])
    ch.send(ch.message("execute_request", {"code": "import time; time.sleep(6)"}))
    ch.wait_for(
        lambda m: m["header"]["msg_type"] == "status" and m["content"]["execution_state"] == "busy"
    )
    ch.close()  # no client now, but the kernel is busy for 6 s
    assert not gone_within(api, model["id"], 4)
    assert gone_within(api, model["id"], 15)  # idle after the sleep, then culled
