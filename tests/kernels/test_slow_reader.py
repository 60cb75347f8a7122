"""One websocket client that stops reading neither grows the server nor slows the others.

A real kernel prints 150 MB while one client's socket is never read (its
receive buffer shrunk to 4 KiB), or is read slowly, and another client reads
everything.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from jls_client import raw_kernel_websocket, rss_kib, start_server_in, stream_text

pytestmark = pytest.mark.slow

SEND_BUFFER = 8 << 20
BACKLOG = 8 << 20
CHUNKS = 150


#: The kernel prints CHUNKS numbered messages of 1 MiB each, ~50 MB/s: a client that
#: reads everything keeps up even on a busy machine; a stalled or slow one cannot.
PRINT_CHUNKS = (
    f"for i in range({CHUNKS}):\n"
    "    sys.stdout.write(f'{i:04d}' + 'x' * ((1 << 20) - 4)); sys.stdout.flush()\n"
    "    time.sleep(0.02)\n"
)


@pytest.fixture
def server(tmp_path):
    srv = start_server_in(
        tmp_path,
        f"--MappingKernelManager.client_send_buffer={SEND_BUFFER}",
        f"--MappingKernelManager.replay_buffer_bytes={BACKLOG}",
    )
    yield srv
    srv.stop()


def test_a_client_that_stops_reading_is_bounded_and_told_what_it_lost(server):
    api = server.api()
    kernel_id = api.start_kernel()["id"]
    reader = api.channels(kernel_id, "v1")  # binary frames: a client that keeps up
    reader.execute("import sys, time")  # warm: the kernel answers, imports done
    stalled = raw_kernel_websocket(server, kernel_id, receive_buffer=4096)
    before = rss_kib(server.proc.pid)
    reply, iopub = reader.execute(PRINT_CHUNKS, timeout=120)
    assert reply["status"] == "ok"
    text = stream_text(iopub)  # the reading client got every byte, in order
    assert len(text) == CHUNKS << 20
    assert [text[i << 20 : (i << 20) + 4] for i in range(CHUNKS)] == [
        f"{i:04d}" for i in range(CHUNKS)
    ]
    growth = rss_kib(server.proc.pid) - before
    assert growth < 64 * 1024, f"the server grew by {growth} KiB for one stalled client"

    # The stalled client reads at last: first what fit, then a notice, then the newest
    # output up to the end of the request.
    stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    stalled.settimeout(60)
    received, notice = [], None
    while True:
        msg = json.loads(stalled.recv())
        if msg["msg_type"] == "stream" and msg["content"]["text"].startswith("[jls]"):
            notice = msg["content"]["text"]
        elif msg["msg_type"] == "stream":
            received.append(int(msg["content"]["text"][:4]))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle" and \
                msg["parent_header"].get("msg_id") == reply_parent(iopub):  # fmt: skip
            break
    assert notice is not None and "read more slowly" in notice
    dropped = int(notice.split()[1])
    assert dropped > 0 and len(received) + dropped >= CHUNKS - 2
    assert received == sorted(received) and received[-1] == CHUNKS - 1  # newest kept
    stalled.close()
    reader.close()


def test_a_client_reading_slowly_is_bounded_while_large_messages_go_out_in_slices(server):
    """Each message here (1 MiB of text, in JSON) is over the 1 MB handed to the socket
    per loop turn, so it goes out in slices. A slice the slow client takes must not
    release what waits for it: the server stays bounded and the client is told what
    it lost, as one that does not read at all is."""
    api = server.api()
    kernel_id = api.start_kernel()["id"]
    reader = api.channels(kernel_id, "v1")
    reader.execute("import sys, time")
    slow = raw_kernel_websocket(server, kernel_id, receive_buffer=65536)
    slow.settimeout(120)
    received: list[dict] = []
    done = threading.Event()

    def read_slowly() -> None:  # about 10 MB/s: a client on a slow link
        try:
            while True:
                msg = json.loads(slow.recv())
                received.append(msg)
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle" \
                        and msg["parent_header"].get("msg_type") == "execute_request":  # fmt: skip
                    return
                time.sleep(0.1)
        finally:
            done.set()

    thread = threading.Thread(target=read_slowly, daemon=True)
    before = rss_kib(server.proc.pid)
    thread.start()
    reply, iopub = reader.execute(PRINT_CHUNKS, timeout=120)
    assert reply["status"] == "ok"
    assert len(stream_text(iopub)) == CHUNKS << 20  # the fast client got everything
    growth = rss_kib(server.proc.pid) - before
    # What waits for it is bounded by the send buffer plus the backlog (16 MiB here);
    # twice that leaves room for the allocator (releasing it per slice let ~110 MiB grow).
    assert growth < 2 * (SEND_BUFFER + BACKLOG) >> 10, f"the server grew by {growth} KiB"
    assert done.wait(60), "the slow client never saw the end of the request"
    texts = [m["content"]["text"] for m in received if m["msg_type"] == "stream"]
    notices = [t for t in texts if t.startswith("[jls]")]
    assert notices and "read more slowly" in notices[0]
    chunks = [int(t[:4]) for t in texts if not t.startswith("[jls]")]
    assert chunks == sorted(chunks) and chunks[-1] == CHUNKS - 1  # in order, newest kept
    discarded = sum(int(notice.split()[1]) for notice in notices)
    assert len(chunks) + discarded == CHUNKS  # each message received or reported lost
    slow.close()
    reader.close()


def reply_parent(iopub: list[dict]) -> str:
    return iopub[-1]["parent_header"]["msg_id"]
