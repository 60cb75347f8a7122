"""Every byte of output reaches the client, however much and however fast."""

import pytest
from jls_client import raw_kernel_websocket, stream_text

PROTOCOLS = ["json", "v1"]


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_20000_flushed_writes_all_delivered_in_order(api, kernel, protocol):
    ch = api.channels(kernel["id"], protocol)
    code = "import sys\nfor i in range(20000):\n    sys.stdout.write(f'{i}\\n'); sys.stdout.flush()"
    reply, iopub = ch.execute(code, timeout=120)
    assert reply["status"] == "ok"
    text = stream_text(iopub)
    assert text == "".join(f"{i}\n" for i in range(20000))
    assert not [
        m
        for m in iopub
        if "rate" in str(m["content"].get("text", "")).lower()
        and m["content"].get("name") == "stderr"
    ]
    ch.close()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_one_50_mb_string_arrives_whole(api, kernel, protocol):
    ch = api.channels(kernel["id"], protocol)
    reply, iopub = ch.execute(
        "s = ('0123456789abcdef' * 65536 * 50); print(s, end='')", timeout=120
    )
    assert reply["status"] == "ok"
    text = stream_text(iopub)
    assert len(text) == 16 * 65536 * 50
    assert text == "0123456789abcdef" * 65536 * 50
    ch.close()


@pytest.mark.parametrize("size", ["small", "large"])
def test_output_that_is_not_utf8_never_breaks_the_text_frame(api, kernel, size):
    """A lone surrogate (e.g. a file name that is not UTF-8) reaches the wire as invalid
    UTF-8; the client gets the replacement character and its connection stays open."""
    ch = api.channels(kernel["id"], "json")
    padding = "'x' * (4 << 20)" if size == "large" else "''"
    reply, iopub = ch.execute(f"import sys; sys.stdout.write('caf\\udce9 ' + {padding})")
    assert reply["status"] == "ok"
    text = stream_text(iopub)
    assert text.startswith("caf\ufffd ")
    assert len(text) == 5 + (4 << 20 if size == "large" else 0)
    again, _ = ch.execute("1 + 1")  # the same connection still works
    assert again["status"] == "ok"
    ch.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_output_around_a_large_message_keeps_its_order(api, kernel, protocol):
    """A message over 4 MB is checked on a worker thread while the kernel's later
    messages wait: they still arrive after it, whole and in order."""
    ch = api.channels(kernel["id"], protocol)
    code = (
        "import sys\n"
        "for i in range(3): print(f'before {i}', flush=True)\n"
        "sys.stdout.write('y' * (5 << 20)); sys.stdout.flush()\n"
        "for i in range(3): print(f'after {i}', flush=True)"
    )
    reply, iopub = ch.execute(code, timeout=120)
    assert reply["status"] == "ok"
    before = "".join(f"before {i}\n" for i in range(3))
    after = "".join(f"after {i}\n" for i in range(3))
    assert stream_text(iopub) == before + "y" * (5 << 20) + after
    assert iopub[-1]["content"] == {"execution_state": "idle"}
    ch.close()


def test_a_client_leaving_in_the_middle_of_a_large_message_leaves_no_trace(
    server, api, kernel
):
    """A large message goes to the socket a slice per loop turn; a client that goes away
    with most of it still waiting ends that quietly, and the kernel serves the next."""
    log_start = len(server.log_text())
    leaving = raw_kernel_websocket(server, kernel["id"], receive_buffer=4096)  # never reads
    reader = api.channels(kernel["id"], "v1")
    reply, iopub = reader.execute(
        "import sys; sys.stdout.write('z' * (20 << 20)); sys.stdout.flush()", timeout=120
    )
    assert reply["status"] == "ok" and len(stream_text(iopub)) == 20 << 20
    leaving.close()  # most of the 20 MB frame is still waiting for it

    reply, iopub = reader.execute("print('still here')", timeout=120)
    assert reply["status"] == "ok"
    assert stream_text(iopub) == "still here\n"
    reader.close()
    log = server.log_text()[log_start:]
    assert "Traceback" not in log and "never retrieved" not in log, log[-3000:]
