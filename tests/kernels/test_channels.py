"""The kernel websocket with real ipykernel kernels, in both protocols."""

import time

import pytest
import websocket
from jls_client import kernel_pid, stream_text

PROTOCOLS = ["json", "v1"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_execute_streams_output_with_status_parented(api, kernel, protocol):
    ch = api.channels(kernel["id"], protocol)
    if protocol == "v1":
        assert ch.ws.subprotocol == "v1.kernel.websocket.jupyter.org"
    reply, iopub = ch.execute("for i in range(3): print(i)")
    assert reply["status"] == "ok"
    assert stream_text(iopub) == "0\n1\n2\n"
    states = [m["content"]["execution_state"] for m in iopub if m["header"]["msg_type"] == "status"]
    assert states[0] == "busy" and states[-1] == "idle"
    ch.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_error_reaches_client(api, kernel, protocol):
    ch = api.channels(kernel["id"], protocol)
    reply, iopub = ch.execute("1/0")
    assert reply["status"] == "error" and reply["ename"] == "ZeroDivisionError"
    errors = [m for m in iopub if m["header"]["msg_type"] == "error"]
    assert errors and errors[0]["content"]["ename"] == "ZeroDivisionError"
    ch.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stdin_input_round_trip(api, kernel, protocol):
    ch = api.channels(kernel["id"], protocol)
    reply, iopub = ch.execute("x = input('name? '); print('hello', x)", stdin_reply="ada")
    assert reply["status"] == "ok"
    assert "hello ada" in stream_text(iopub)
    ch.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_binary_buffers_survive_both_directions(api, kernel, protocol):
    """A comm message with a buffer goes to the kernel and an echo comes back intact."""
    ch = api.channels(kernel["id"], protocol)
    setup = (
        "from ipykernel.comm import Comm\n"
        "def _target(comm, msg):\n"
        "    @comm.on_msg\n"
        "    def _echo(m):\n"
        "        comm.send({'n': len(m['buffers'][0])}, buffers=[bytes(m['buffers'][0])[::-1]])\n"
        "get_ipython().kernel.comm_manager.register_target('echo', _target)\n"
    )
    reply, _ = ch.execute(setup)
    assert reply["status"] == "ok"
    comm_id = "c" * 32
    ch.send(ch.message("comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {}}))
    payload = bytes(range(256)) * 40
    msg = ch.message("comm_msg", {"comm_id": comm_id, "data": {}})
    ch.send(msg, buffers=[payload])
    echo = ch.wait_for(lambda m: m["header"]["msg_type"] == "comm_msg" and m["channel"] == "iopub")
    assert echo["content"]["data"] == {"n": len(payload)}
    assert bytes(echo["buffers"][0]) == payload[::-1]
    ch.close()


def test_messages_sent_right_after_upgrade_are_not_lost(api):
    """A fresh kernel; the execute goes out the moment the socket opens."""
    model = api.start_kernel()
    ch = api.channels(model["id"])
    reply, iopub = ch.execute("print('first')")
    assert reply["status"] == "ok" and stream_text(iopub) == "first\n"
    ch.close()
    assert api.delete(f"api/kernels/{model['id']}").status_code == 204


def test_two_websockets_share_a_kernel(api, kernel):
    a = api.channels(kernel["id"])
    b = api.channels(kernel["id"], "v1")
    assert api.get(f"api/kernels/{kernel['id']}").json()["connections"] >= 2
    reply, _ = a.execute("shared_value = 41")
    assert reply["status"] == "ok"
    reply, iopub = b.execute("print(shared_value + 1)")
    assert stream_text(iopub) == "42\n"
    # a also sees b's output on iopub
    seen = a.wait_for(lambda m: m["header"]["msg_type"] == "stream")
    assert seen["content"]["text"] == "42\n"
    a.close()
    b.close()


def test_reconnect_with_same_session_replaces_stale_connection(api, kernel):
    old = api.channels(kernel["id"], session_id="same-session")
    new = api.channels(kernel["id"], session_id="same-session")
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
        for _ in range(50):
            old.recv(timeout=5)
    reply, _ = new.execute("1")
    assert reply["status"] == "ok"
    new.close()


def test_malformed_frames_are_dropped_and_the_kernel_lives(api, kernel):
    ch = api.channels(kernel["id"])
    ch.ws.send("this is not json")
    ch.ws.send('{"channel": "shell"}')
    ch.ws.send('{"channel": "nonsense", "header": {"msg_id": "1", "msg_type": "x"}}')
    ch.ws.send_binary(b"\x00\x00\x00\x09garbage")
    _, iopub = ch.execute("print('still here')")
    assert stream_text(iopub) == "still here\n"
    ch.close()
    v1 = api.channels(kernel["id"], "v1")
    v1.ws.send_binary(b"\xff" * 20)
    v1.ws.send("text frame on v1")
    _reply, iopub = v1.execute("print('v1 still here')")
    assert stream_text(iopub) == "v1 still here\n"
    v1.close()


def test_interrupt_stops_a_long_sleep(api, kernel):
    ch = api.channels(kernel["id"])
    msg_id = ch.send(
        ch.message("execute_request", {"code": "import time; time.sleep(60)", "silent": False})
    )
    ch.wait_for(
        lambda m: (
            m["header"]["msg_type"] == "status"
            and m["parent_header"].get("msg_id") == msg_id
            and m["content"]["execution_state"] == "busy"
        )
    )
    time.sleep(0.3)
    started = time.monotonic()
    assert api.post(f"api/kernels/{kernel['id']}/interrupt").status_code == 204
    reply, _ = ch.collect(msg_id, timeout=10)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - started < 5
    ch.close()


def test_restart_loses_state_and_clients_see_no_death_status(api):
    """A requested restart is not a death: no `restarting`/`dead` status reaches clients
    (JupyterLab would show "the kernel appears to have died"), as with jupyter_server."""
    model = api.start_kernel()
    ch = api.channels(model["id"])
    old_pid = kernel_pid(ch)
    ch.execute("remembered = 1")
    r = api.post(f"api/kernels/{model['id']}/restart")
    assert r.status_code == 200 and r.json()["id"] == model["id"]
    # Anything sent because of the restart reached this websocket before the reply to a
    # request made after it: read everything up to that reply.
    msg_id = ch.send(ch.message("execute_request", {"code": "1", "silent": False}))
    statuses = []
    while True:
        m = ch.recv(timeout=30)
        if m["header"]["msg_type"] == "status":
            statuses.append(m["content"]["execution_state"])
        if m["header"]["msg_type"] == "execute_reply" and m["parent_header"]["msg_id"] == msg_id:
            break
    assert "restarting" not in statuses and "dead" not in statuses, statuses
    ch2 = api.channels(model["id"])
    _reply, iopub = ch2.execute("print('remembered' in dir())")
    assert stream_text(iopub) == "False\n"
    assert kernel_pid(ch2) != old_pid
    ch.close()
    ch2.close()
    api.delete(f"api/kernels/{model['id']}")
