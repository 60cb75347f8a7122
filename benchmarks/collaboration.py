"""Real-time collaboration, jls against jupyter_server + jupyter-collaboration, in one run.

    python3 -m venv /tmp/rtcpeer && /tmp/rtcpeer/bin/pip install 'jupyter-collaboration==5.*'
    python3 benchmarks/collaboration.py --jupyter /tmp/rtcpeer/bin/jupyter

Both servers get the same notebooks and the same clients (real websockets holding their
own Yjs doc: tests/collaboration/room_client.py). Figures, each as jls / jupyter_server:

- edit latency: a one-character edit in client A until client B has applied it (median
  and p95 of ``--edits``), B and A on one notebook;
- server CPU per update: the server's user+system time while A sends ``--updates``
  one-character edits as fast as it can and B receives them all, divided by their number;
- memory per open notebook: the server's RSS growth after ``--notebooks`` notebooks of
  ~200 cells are opened by 2 clients each (measured 8 s later), divided by their number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "collaboration"))
sys.path.insert(0, HERE)

from attack_classes import Server  # noqa: E402
from room_client import RoomClient  # noqa: E402


def notebook(cells: int) -> dict:
    code = "import numpy as np\nx = np.arange(100)\nprint(x.sum())  # a typical small cell\n"
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": i,
         "source": code, "outputs": [{"output_type": "stream", "name": "stdout",
                                      "text": "4950\n"}]} for i in range(cells)]}  # fmt: skip


def client(server: Server, name: str) -> RoomClient:
    session = requests.put(f"{server.url}api/collaboration/session/{name}", headers=server.auth,
                           json={"format": "json", "type": "notebook"}, timeout=30).json()
    return RoomClient(server, name, session=session).synced()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: Server, args: argparse.Namespace) -> dict[str, float]:
    with open(os.path.join(server.root, "edit.ipynb"), "w") as f:
        json.dump(notebook(20), f)
    a, b = client(server, "edit.ipynb"), client(server, "edit.ipynb")
    delays = []
    for i in range(args.edits):
        marker = f"#{i}"
        started = time.perf_counter()
        a.edit(0, marker)
        b.wait_for(lambda m=marker: str(b.notebook.ycells[0]["source"]).endswith(m))
        delays.append(time.perf_counter() - started)
        a.pump(0.001)
    delays.sort()
    before = cpu_seconds(server.proc.pid)
    for i in range(args.updates):
        a.edit(1, "~")
        if i % 200 == 0:
            a.pump(0.001)
    b.wait_for(lambda: str(b.notebook.ycells[1]["source"]).count("~") == args.updates, 120)
    cpu = cpu_seconds(server.proc.pid) - before
    a.close()
    b.close()

    for i in range(args.notebooks):
        with open(os.path.join(server.root, f"nb{i}.ipynb"), "w") as f:
            json.dump(notebook(200), f)
    time.sleep(1)
    rss_before = server.rss_mb()
    clients = [client(server, f"nb{i}.ipynb") for i in range(args.notebooks) for _ in range(2)]
    time.sleep(8)  # the steady state: jls keeps a decoded document 5 s after its last use
    rss_after = server.rss_mb()
    for c in clients:
        c.close()
    return {
        "edit_latency_median_ms": statistics.median(delays) * 1000,
        "edit_latency_p95_ms": delays[int(len(delays) * 0.95)] * 1000,
        "cpu_per_update_us": cpu / args.updates * 1e6,
        "rss_per_open_notebook_mb": (rss_after - rss_before) / args.notebooks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jupyter", required=True, help="jupyter of an env with "
                        "jupyter-collaboration 5 (never a dependency of jls)")  # fmt: skip
    parser.add_argument("--jls", default=f"{sys.executable}\0-m\0jupyter_lite_server")
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--notebooks", type=int, default=10)
    parser.add_argument("--markdown", help="write the table here too")
    args = parser.parse_args()
    results = {}
    for kind, command, extra in (
        ("jls", args.jls, ("--ServerApp.collaborative=True",)),
        ("jupyter_server", args.jupyter, ()),
    ):
        server = Server(kind, command, extra)
        try:
            results[kind] = measure(server, args)
        finally:
            server.stop()
    lines = [
        f"Collaboration, {datetime.now(UTC):%Y-%m-%d}, {platform.node()} "
        f"({os.cpu_count()} cores), `python3 benchmarks/collaboration.py "
        f"--jupyter <jupyter-collaboration 5 env>`",
        "",
        "| figure | jls | jupyter_server + jupyter-collaboration | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for figure in results["jls"]:
        mine, theirs = results["jls"][figure], results["jupyter_server"][figure]
        ratio = mine / theirs if theirs else float("nan")
        lines.append(f"| {figure} | {mine:.2f} | {theirs:.2f} | {ratio:.2f} | ≤ 0.5 |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
