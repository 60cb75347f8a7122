"""A client that loses its websocket gets what it missed when it reconnects."""

import pytest
from jls_client import stream_text, wait_until

# Output kept over seconds of absence: the full suite (CI) runs it.
pytestmark = pytest.mark.slow


def wait_idle(api, kernel_id):
    """The kernel finished what it was given (its last status on iopub was idle)."""
    wait_until(
        lambda: api.get(f"api/kernels/{kernel_id}").json()["execution_state"] == "idle",
        what="the kernel to finish",
    )


@pytest.mark.parametrize("protocol", ["json", "v1"])
def test_output_produced_while_disconnected_is_replayed(api, kernel, protocol):
    ch = api.channels(kernel["id"], protocol, session_id=f"laptop-{protocol}")
    code = "import time\nfor i in range(5):\n    print('tick', i, flush=True); time.sleep(0.3)\n"
    msg_id = ch.send(ch.message("execute_request", {"code": code, "silent": False}))
    ch.wait_for(lambda m: m["header"]["msg_type"] == "stream")  # it has started
    ch.close()  # the lid closes
    wait_idle(api, kernel["id"])  # the computation finishes while nobody is connected
    back = api.channels(kernel["id"], protocol, session_id=f"laptop-{protocol}")
    reply, iopub = back.collect(msg_id, timeout=30)
    assert reply["status"] == "ok"  # the execute_reply, too, was kept for us
    ticks = stream_text(iopub)
    assert "tick 4" in ticks and "tick 1" in ticks
    back.close()


def test_another_session_does_not_get_someone_elses_replay(api, kernel):
    ch = api.channels(kernel["id"], session_id="owner")
    msg_id = ch.send(ch.message("execute_request", {"code": "print('private')"}))
    ch.close()
    wait_idle(api, kernel["id"])  # printed, with its owner away
    stranger = api.channels(kernel["id"], session_id="stranger")
    _, iopub = stranger.execute("print('mine')")
    assert stream_text(iopub) == "mine\n"
    with pytest.raises(TimeoutError):
        stranger.collect(msg_id, timeout=2)
    stranger.close()
