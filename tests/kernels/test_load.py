"""Load: 32 kernels, each with a client sending execute requests for 30 s
(sustained load for 60 s, with figures, is the benchmark's: benchmarks/scale.py).

Nothing may be lost or fail, and once the kernels are deleted the server is
back to its baseline: the same file descriptors (every ZMQ socket and
websocket holds some), threads, and memory within a small allowance.
"""

import os
import re
import threading
import time

import pytest
from jls_client import start_server_in, wait_until

pytestmark = pytest.mark.slow

KERNELS = 32
SECONDS = 30
MARKER = re.compile(r"\[n=(\d+)\]")


def resources(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f)
    return {
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(status["Threads"]),
        "rss_kib": int(status["VmRSS"].split()[0]),
    }


def numbered(text: str) -> list[int]:
    """The request numbers printed in a stream message's text.

    Each request prints one ``[n=N]`` marker, found wherever it is: other threads
    of the kernel write to the same stdout (with 32 kernels on one profile,
    IPython's history thread reports "database is locked" there), and their
    text can sit on the same line as a marker, without a newline in between.
    """
    return [int(number) for number in MARKER.findall(text)]


def start_kernels(api, count):
    return [api.start_kernel()["id"] for _ in range(count)]


@pytest.mark.timeout(600)
def test_32_kernels_under_execute_load_lose_nothing_and_leak_nothing(tmp_path):
    server = start_server_in(tmp_path)
    api = server.api()
    # Warm up every code path once, then take the baseline.
    for kernel_id in start_kernels(api, 2):
        channel = api.channels(kernel_id)
        channel.execute("1")
        channel.close()
        api.delete(f"api/kernels/{kernel_id}")
    time.sleep(1)
    baseline = resources(server.proc.pid)

    try:
        kernel_ids = start_kernels(api, KERNELS)
        results = {kernel_id: {"sent": 0, "ok": 0, "errors": []} for kernel_id in kernel_ids}
        stop_at = time.monotonic() + SECONDS + 30  # + start-up of the 32 kernels

        def client(kernel_id):
            """Sends numbered requests; checks every reply, result and printed line comes back.

            ipykernel may publish a stream message after the request's idle status (its
            output thread flushes on its own schedule), so printed lines are counted over
            the whole run rather than per request.
            """
            tally = results[kernel_id]
            printed: list[int] = []
            try:
                channel = api.channels(kernel_id)
                # ready; no output cache (its "cache limit hit" notice would mix into stdout)
                channel.execute("get_ipython().displayhook.cache_size = 0", timeout=120)
                deadline = max(stop_at - 30, time.monotonic()) + SECONDS
                while time.monotonic() < deadline:
                    n = tally["sent"]
                    tally["sent"] += 1
                    msg_id = channel.send(
                        channel.message("execute_request", {"code": f"print('[n={n}]'); {n} * 2"})
                    )
                    reply = result = None
                    while reply is None or result is None:
                        message = channel.recv(120)
                        kind = message["header"]["msg_type"]
                        if kind == "stream" and message["content"]["name"] == "stdout":
                            printed.extend(numbered(message["content"]["text"]))
                        elif message["parent_header"].get("msg_id") != msg_id:
                            continue
                        elif kind == "execute_reply":
                            reply = message["content"]
                        elif kind == "execute_result":
                            result = message["content"]["data"]["text/plain"]
                    if reply["status"] == "ok" and result == str(n * 2):
                        tally["ok"] += 1
                    else:
                        tally["errors"].append((n, reply, result))
                # Late stream messages: ipykernel may publish the last print after its
                # reply, and 32 busy kernels on 2 cores can take a while to get to it.
                late_deadline = time.monotonic() + 30
                while len(printed) < tally["sent"]:
                    message = channel.recv(max(0.1, late_deadline - time.monotonic()))
                    if (
                        message["header"]["msg_type"] == "stream"
                        and message["content"]["name"] == "stdout"
                    ):
                        printed.extend(numbered(message["content"]["text"]))
                channel.close()
            except Exception as exc:
                tally["errors"].append(repr(exc))
            if sorted(printed) != list(range(tally["sent"])):
                missing = sorted(set(range(tally["sent"])) - set(printed))
                tally["errors"].append(
                    f"printed lines lost or repeated: {len(printed)} of {tally['sent']},"
                    f" missing {missing[:10]}"
                )

        threads = [threading.Thread(target=client, args=(k,)) for k in kernel_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent = sum(t["sent"] for t in results.values())
        ok = sum(t["ok"] for t in results.values())
        errors = [e for t in results.values() for e in t["errors"]]
        print(f"\n{KERNELS} kernels, {SECONDS} s: {sent} execute requests, {ok} complete replies")
        assert errors == []
        assert ok == sent and sent >= KERNELS * 10

        for kernel_id in kernel_ids:
            assert api.delete(f"api/kernels/{kernel_id}").status_code == 204
        assert api.get("api/kernels").json() == []  # listed no more at once; the processes
        # stop in the background: then every descriptor and thread must be back.
        wait_until(lambda: resources(server.proc.pid)["fds"] <= baseline["fds"] + 2, 60,
                   "the shut-down kernels' sockets to close")  # fmt: skip
        time.sleep(1)
        after = resources(server.proc.pid)
        print(f"baseline {baseline}, after {after}")
        assert api.get("api/kernels").json() == []
        assert after["fds"] <= baseline["fds"] + 2, (baseline, after)
        assert after["threads"] <= baseline["threads"] + 2, (baseline, after)
        assert after["rss_kib"] <= baseline["rss_kib"] + 40 * 1024, (baseline, after)
    finally:
        server.stop()
