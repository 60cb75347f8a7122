"""Every byte of output reaches the client, however much and however fast."""

import pytest
from jls_client import stream_text

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
