"""Issue #19's figures, jls next to jupyter_server in one run; writes the table.

    python3 benchmarks/scale.py --jupyter $(which jupyter)
        [--only stall,idle,keeper,floor,jbench]
        [--markdown /tmp/scale.md] [--quick]

Parts:
  stall   worst latency of GET /api/status and of an execute round trip on another
          kernel while a 50 MB notebook is saved, the same is opened, a 20,000-file
          folder is listed, a notebook is exported and a third kernel prints 50 MB
          to a client (probes in their own process); first with no operation, the
          machine's own worst (baseline)
  idle    100 idle kernels: server RSS per kernel and server CPU while idle
  keeper  jls with --sessions-db: PSS of the iopub keepers per kernel (jls only:
          jupyter_server's kernels do not outlive it)
  floor   a bare relay between real kernels and a client (benchmarks/relay_floor.py):
          the least server CPU an execute round trip, and a request under the
          sustained loads, can cost here in Python; and the CPU an asyncio reader
          spends per wake-up (no server runs: one column)
  jbench  through the shared harness (../shared/bench/jbench.py): DELETE session,
          20 kernels started, CPU per execute (JSON, v1), sustained 32x5 and
          16x10 req/s for 60 s (each run twice: jls first, then jupyter_server
          first), 200 MB output to one tab
Each part also reports the CPU the hypervisor took (steal) while it ran.
Both servers run from the same interpreter's kernel (python3). Keep the machine
otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale_probes import (
    JS_FLAGS,
    JS_NO_RATE_LIMIT,
    Probes,
    Server,
    children,
    cmdline,
    print_and_receive,
    proc_cpu_s,
    proc_pss_mb,
    proc_rss_mb,
    worst_during,
)

HERE = os.path.dirname(os.path.abspath(__file__))
Rows = list[tuple[str, str, Any, Any, str]]  # (part, figure, jls, jupyter_server, target)


def big_notebook(mb: int) -> dict[str, Any]:
    """``mb`` MB on disk: cells with 100 KB of stream output each, as lines."""
    line = "x" * 99 + "\n"
    cells = [
        {"cell_type": "code", "execution_count": i, "id": f"cell-{i}", "metadata": {},
         "source": [f"print('cell {i}')\n", "for i in range(1000): print('x' * 99)"],
         "outputs": [{"output_type": "stream", "name": "stdout", "text": [line] * 1000}]}
        for i in range(mb * 10)
    ]  # fmt: skip
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def write_fixtures(root: str, quick: bool) -> None:
    with open(os.path.join(root, "big.ipynb"), "w") as f:
        json.dump(big_notebook(5 if quick else 50), f)
    with open(os.path.join(root, "export.ipynb"), "w") as f:
        json.dump(big_notebook(1), f)
    many = os.path.join(root, "many")
    os.makedirs(many)
    for i in range(2000 if quick else 20000):
        open(os.path.join(many, f"file{i:05d}.txt"), "w").close()


def jls_command(python: str, *extra: str) -> str:
    return (f"{shlex.quote(python)} -m jupyter_lite_server serve --ip 127.0.0.1 --port {{port}} "
            f"--port-retries 0 --token {{token}} --root {{root}} {' '.join(extra)}")  # fmt: skip


def js_command(jupyter: str) -> str:
    return f"{shlex.quote(jupyter)} server {JS_FLAGS}"


def servers(
    args: argparse.Namespace, root: str, *jls_extra: str, js_extra: str = ""
) -> list[Server]:
    return [Server("jls", jls_command(args.jls_python, *jls_extra), root),
            Server("jupyter_server", f"{js_command(args.jupyter)} {js_extra}", root)]  # fmt: skip


def wait_kernel_idle(server: Server, kernel_id: str, timeout: float = 300) -> bool:
    """One execute round trip; reconnecting as JupyterLab does if the server closes the
    websocket first (jupyter_server does when a starting kernel is slow to answer).
    False if the server no longer has the kernel (jupyter_server removes one whose
    start failed, e.g. on a port another kernel took while 100 start at once), or if
    it did not answer within ``timeout`` (one whose ports collided may never)."""
    import websocket
    from scale_probes import round_trip

    deadline = time.monotonic() + timeout
    while True:
        try:
            ws = websocket.create_connection(server.ws_url(kernel_id), header=server.headers(),
                                             timeout=120)  # fmt: skip
            try:
                round_trip(ws, timeout=120)
                return True
            finally:
                ws.close()
        except websocket.WebSocketBadStatusException as exc:
            if exc.status_code == 404:
                print(f"  {server.label}: kernel {kernel_id} is gone (404)", flush=True)
                return False
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        except (OSError, websocket.WebSocketException):
            if time.monotonic() > deadline:
                print(f"  {server.label}: kernel {kernel_id} did not answer in {timeout} s",
                      flush=True)  # fmt: skip
                return False
            time.sleep(1)


def must_answer(server: Server, kernel_id: str) -> None:
    if not wait_kernel_idle(server, kernel_id):
        raise RuntimeError(f"{server.label} lost kernel {kernel_id} at start")


# --- stall ---------------------------------------------------------------------------


#: Not an operation: the probes alone for as long as a typical one, the machine's own
#: worst latency (a noisy host alone can take an execute round trip past 50 ms).
BASELINE = "nothing (baseline, the probes alone for 1.5 s)"


def _idle(seconds: float) -> tuple[int, None]:
    time.sleep(seconds)
    return 200, None


def stall_ops(server: Server, body: bytes, output_kernel: str) -> list[tuple[str, Any]]:
    return [
        (BASELINE, lambda: _idle(1.5)),
        ("save 50 MB notebook", lambda: server.request("PUT", "/api/contents/saved.ipynb", body)),
        ("open 50 MB notebook", lambda: server.request("GET", "/api/contents/big.ipynb")),
        ("list 20,000 files", lambda: server.request("GET", "/api/contents/many")),
        ("export notebook (HTML)",
         lambda: server.request("GET", "/nbconvert/html/export.ipynb?download=1")),
        ("print 50 MB to a tab (another kernel)",
         lambda: print_and_receive(server, output_kernel, 50_000_000)),
    ]  # fmt: skip


def measure_stall(server: Server, body: bytes) -> dict[str, dict[str, float]]:
    kernel = server.json("POST", "/api/kernels", {"name": "python3"})
    must_answer(server, kernel["id"])
    output_kernel = server.json("POST", "/api/kernels", {"name": "python3"})
    must_answer(server, output_kernel["id"])
    results: dict[str, dict[str, float]] = {}
    for name, op in stall_ops(server, body, output_kernel["id"]):
        op()  # once before: imports and caches on both sides, as a running server has
        with Probes(server, kernel["id"]) as probes:
            time.sleep(1.5)
            start = time.monotonic()
            status, _ = op()
            end = time.monotonic()
            time.sleep(0.5)
        samples = probes.results()
        assert status < 300, f"{server.label} {name}: HTTP {status}"
        results[name] = {
            "op_s": round(end - start, 2),
            "status_ms": worst_during(samples["status"], start, end),
            "execute_ms": worst_during(samples["execute"], start, end),
        }
        print(f"  {server.label} {name}: {results[name]}", flush=True)
    for kernel_id in (kernel["id"], output_kernel["id"]):
        server.request("DELETE", f"/api/kernels/{kernel_id}")
    return results


def part_stall(args: argparse.Namespace, work: str) -> Rows:
    root = os.path.join(work, "stall")
    os.makedirs(root)
    write_fixtures(root, args.quick)
    with open(os.path.join(root, "big.ipynb")) as f:
        body = json.dumps({"type": "notebook", "format": "json", "content": json.load(f)}).encode()
    measured = {}
    for server in servers(args, root, "--no-collaboration", js_extra=JS_NO_RATE_LIMIT):
        server.start(os.path.join(work, f"stall-{server.label}.log"))
        try:
            measured[server.label] = measure_stall(server, body)
        finally:
            server.stop()
    rows: Rows = []
    for name in measured["jls"]:
        for probe in ("status_ms", "execute_ms"):
            a, b = measured["jls"][name][probe], measured["jupyter_server"][name][probe]
            target = "" if name == BASELINE else "<= 50 ms"
            rows.append(("stall", f"{name}: worst {probe[:-3]} latency, ms", a, b, target))
        if name != BASELINE:
            rows.append(("stall", f"{name}: operation, s", measured["jls"][name]["op_s"],
                         measured["jupyter_server"][name]["op_s"], ""))  # fmt: skip
    return rows


# --- idle kernels -----------------------------------------------------------------------


def measure_idle(server: Server, n: int, idle_seconds: float) -> dict[str, float]:
    time.sleep(3)
    base_rss = proc_rss_mb(server.pid)
    ids = [server.json("POST", "/api/kernels", {"name": "python3"})["id"]]
    must_answer(server, ids[0])
    time.sleep(3)
    first_rss = proc_rss_mb(server.pid)  # what the first kernel loads once (code, ZMQ)
    ids += [server.json("POST", "/api/kernels", {"name": "python3"})["id"] for _ in range(n - 1)]
    answering = [kernel_id for kernel_id in ids if wait_kernel_idle(server, kernel_id)]
    # Per kernel the server still holds (listed, answering or not): one it removed after
    # a failed start costs it nothing more.
    lost, n = n - len(answering), len(server.json("GET", "/api/kernels"))
    time.sleep(10)  # let start-up work settle
    rss = proc_rss_mb(server.pid)
    cpu0, t0 = proc_cpu_s(server.pid), time.monotonic()
    time.sleep(idle_seconds)
    cpu = (proc_cpu_s(server.pid) - cpu0) / (time.monotonic() - t0)
    for kernel in server.json("GET", "/api/kernels"):
        server.request("DELETE", f"/api/kernels/{kernel['id']}")
    result = {"rss_per_kernel_mb": round((rss - base_rss) / n, 3),
              "rss_per_added_kernel_mb": round((rss - first_rss) / (n - 1), 3),
              "idle_cpu_pct": round(100 * cpu, 2), "lost_at_start": lost}  # fmt: skip
    print(f"  {server.label} {n} idle kernels: {result}", flush=True)
    return result


def part_idle(args: argparse.Namespace, work: str) -> Rows:
    root = os.path.join(work, "idle")
    os.makedirs(root)
    n = 20 if args.quick else 100
    measured = {}
    for server in servers(args, root):
        server.start(os.path.join(work, f"idle-{server.label}.log"))
        try:
            measured[server.label] = measure_idle(server, n, 10 if args.quick else 30)
        finally:
            server.stop()
    a, b = measured["jls"], measured["jupyter_server"]
    return [
        ("idle", f"{n} idle kernels: server RSS per kernel, MB", a["rss_per_kernel_mb"],
         b["rss_per_kernel_mb"], "<= 0.5x"),
        ("idle", f"{n} idle kernels: server RSS per kernel after the first, MB",
         a["rss_per_added_kernel_mb"], b["rss_per_added_kernel_mb"], ""),
        ("idle", f"{n} idle kernels: server CPU, % of a core", a["idle_cpu_pct"],
         b["idle_cpu_pct"], "<= 0.5 %"),
        ("idle", f"{n} kernels started at once: removed or not answering",
         a["lost_at_start"], b["lost_at_start"], ""),
    ]  # fmt: skip


# --- keeper ---------------------------------------------------------------------------


def part_keeper(args: argparse.Namespace, work: str) -> Rows:
    root = os.path.join(work, "keeper")
    os.makedirs(root)
    n = 20
    db = os.path.join(work, "sessions.db")
    server = Server("jls", jls_command(args.jls_python, "--sessions-db", db), root)
    server.start(os.path.join(work, "keeper-jls.log"))
    try:
        ids = [server.json("POST", "/api/kernels", {"name": "python3"})["id"] for _ in range(n)]
        for kernel_id in ids:
            must_answer(server, kernel_id)
        time.sleep(5)
        procs = [pid for pid in [*children(server.pid), server.pid]]
        keepers = [pid for pid in procs if "iopub_keeper" in cmdline(pid)]
        pss = sum(proc_pss_mb(pid) for pid in keepers)
        for kernel_id in ids:
            server.request("DELETE", f"/api/kernels/{kernel_id}")
    finally:
        server.stop()
    per_kernel = round(pss / n, 2)
    print(f"  keeper: {len(keepers)} keeper process(es), {pss:.1f} MB PSS for {n} kernels")
    return [("keeper", f"iopub keeper PSS per kernel ({n} kernels), MB", per_kernel, "-",
             "<= 2 MB")]  # fmt: skip


# --- the shared harness ---------------------------------------------------------------------

JBENCH_RUNS = [
    # (label, metrics, extra jbench arguments, jupyter_server extra flags, both orders)
    ("base", "kernel_start,many_kernels,execute", [], "", False),
    ("32x5", "sustained", ["--sustained-kernels", "32", "--sustained-rate", "5",
                           "--sustained-seconds", "60"], "", True),
    ("16x10", "sustained", ["--sustained-kernels", "16", "--sustained-rate", "10",
                            "--sustained-seconds", "60"], "", True),
    ("200MB", "iopub", ["--big-mb", "200"], JS_NO_RATE_LIMIT, False),
]  # fmt: skip
#: A saturated load is at the mercy of CPU the hypervisor takes away (steal), and here
#: the side that ran first took up to four times more of it, whichever server it was.
#: Those runs are made twice, jls first and jupyter_server first; a figure is the mean
#: of a server's two runs, and "CPU not ours" (steal, other processes) is shown.

JBENCH_ROWS = [
    # (run label, metric, figure, description, target)
    ("base", "kernel_start", "delete_median_ms", "DELETE session, ms", "<= 0.5x"),
    ("base", "many_kernels", "all_ready_total_s", "20 kernels started and answering, s",
     "<= 0.7x"),
    ("base", "execute", "json_server_cpu_ms_per_rt", "server CPU per execute, JSON, ms",
     "<= 0.25x"),
    ("base", "execute", "v1_server_cpu_ms_per_rt", "server CPU per execute, v1, ms", "<= 0.25x"),
    ("32x5", "sustained", "lost", "32 kernels x 5/s for 60 s: lost", "0"),
    ("32x5", "sustained", "lat_p99_ms", "32 x 5/s: p99 latency, ms", "<= 0.5x"),
    ("32x5", "sustained", "server_cpu_ms_per_req", "32 x 5/s: server CPU per request, ms",
     "<= 0.3x"),
    ("16x10", "sustained", "lost", "16 kernels x 10/s for 60 s: lost", "0"),
    ("16x10", "sustained", "lat_p99_ms", "16 x 10/s: p99 latency, ms", "<= 0.5x"),
    ("16x10", "sustained", "server_cpu_ms_per_req", "16 x 10/s: server CPU per request, ms",
     "<= 0.3x"),
    ("200MB", "iopub", "big200mb_v1_over_zmq_ratio", "200 MB output, v1: time / ZMQ floor",
     "<= 1.10"),
    ("200MB", "iopub", "big200mb_json_over_zmq_ratio", "200 MB output, JSON: time / ZMQ floor",
     ""),
    ("32x5", "sustained", "host_other_cpu_pct",
     "32 x 5/s: host CPU not ours (steal, other processes), % of a core", ""),
    ("16x10", "sustained", "host_other_cpu_pct",
     "16 x 10/s: host CPU not ours (steal, other processes), % of a core", ""),
]  # fmt: skip


def _run_jbench(args: argparse.Namespace, out: str, a: tuple[str, str], b: tuple[str, str],
                metrics: str, extra: list[str]) -> dict[str, Any]:
    """One jbench A/B run (A = ``a``, B = ``b``, each (label, command)); its JSON."""
    cmd = [sys.executable, args.jbench, "--runs", "1", "--only", metrics, "--json", out,
           "--server-cmd", a[1], "--label", a[0], "--vs", b[1], "--vs-label", b[0],
           *extra]  # fmt: skip
    print("+", shlex.join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL if args.quiet else None)
    with open(out) as f:
        return json.load(f)


def _figure(doc: dict[str, Any], side: str, metric: str, figure: str) -> Any:
    """``side`` ("A" or "B")'s figure in a jbench document (None if it has none)."""
    entry = doc.get("ab", {}).get(metric, {}).get(figure) or {}
    value = entry.get(side.lower())
    if value is None:  # a figure jbench reports for one side only (ratios to the floor)
        summary = doc.get(side, {}).get("summary", {}).get(metric, {}).get(figure)
        value = summary.get("median") if isinstance(summary, dict) else summary
    return value


def _mean(values: list[Any]) -> Any:
    """The mean, or "-" if a run lacks the figure."""
    if not all(isinstance(v, int | float) for v in values):
        return "-"
    return sum(values) / len(values)


def _sum(values: list[Any]) -> Any:
    return sum(values) if all(isinstance(v, int | float) for v in values) else "-"


def part_jbench(args: argparse.Namespace, work: str) -> Rows:
    # per label: [(document, jls's side), ...]; one entry, or two for both orders
    runs: dict[str, list[tuple[dict[str, Any], str]]] = {}
    wanted = set(args.jbench_only.split(",")) if args.jbench_only else None
    for label, metrics, extra, js_extra, both_orders in JBENCH_RUNS:
        if wanted is not None and label not in wanted:
            continue
        jls = ("jls", jls_command(args.jls_python))
        reference = ("jupyter_server", f"{js_command(args.jupyter)} {js_extra}".strip())
        out = os.path.join(work, f"jbench-{label}.json")
        runs[label] = [(_run_jbench(args, out, jls, reference, metrics, extra), "A")]
        if both_orders:
            out = os.path.join(work, f"jbench-{label}-reversed.json")
            runs[label].append((_run_jbench(args, out, reference, jls, metrics, extra), "B"))
    rows: Rows = []
    for label, metric, figure, description, target in JBENCH_ROWS:
        if label not in runs:
            continue
        jls_values = [_figure(doc, side, metric, figure) for doc, side in runs[label]]
        js_values = [_figure(doc, "B" if side == "A" else "A", metric, figure)
                     for doc, side in runs[label]]  # fmt: skip
        if len(runs[label]) == 1:
            a, b = jls_values[0], js_values[0]
        elif figure == "lost":  # what was lost in either run counts
            description += " (both orders, summed)"
            a, b = _sum(jls_values), _sum(js_values)
        else:
            description += " (mean of both orders)"
            a, b = _mean(jls_values), _mean(js_values)
        rows.append(("jbench", description, round(a, 3) if isinstance(a, float) else a,
                     round(b, 3) if isinstance(b, float) else b, target))  # fmt: skip
    return rows


# --- table ------------------------------------------------------------------------------


def host_ticks() -> list[int] | None:
    """The host's CPU time counters (user … steal), from /proc/stat's first line."""
    try:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None


def steal_pct(before: list[int] | None, after: list[int] | None) -> float | None:
    """Steal as a share of all CPU time between two readings: on a virtual machine,
    time its CPUs wanted to run and the hypervisor ran something else. Latency under
    load follows it; a part with much of it measured the host as much as the server."""
    if not before or not after or len(before) < 8 or len(after) < 8:
        return None
    total = sum(after) - sum(before)
    return round(100 * (after[7] - before[7]) / total, 1) if total > 0 else None


def verdict(a: Any, b: Any, target: str) -> tuple[str, str]:
    try:
        ratio = f"{a / b:.2f}" if isinstance(a, int | float) and isinstance(b, int | float) \
            and b else "-"  # fmt: skip
    except TypeError:
        ratio = "-"
    if not target:
        return ratio, ""
    op, _, limit = target.partition(" ")
    try:
        if limit.endswith("x"):
            ok = ratio != "-" and float(ratio) <= float(limit[:-1])
        elif op == "<=":
            ok = float(a) <= float(limit.split()[0])
        else:
            ok = str(a) == target
    except (TypeError, ValueError):
        return ratio, "not measured"
    return ratio, "met" if ok else "MISSED"


def table(rows: Rows, command: str) -> str:
    lines = [f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
             f"Python {sys.version.split()[0]}, one run.", "", f"Command: `{command}`", "",
             "| part | figure | jls | jupyter_server | jls / js | target | verdict |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for part, figure, a, b, target in rows:
        ratio, ok = verdict(a, b, target)
        lines.append(f"| {part} | {figure} | {a} | {b} | {ratio} | {target} | {ok} |")
    return "\n".join(lines) + "\n"


def part_floor(args: argparse.Namespace, work: str) -> Rows:
    out = os.path.join(work, "floor.json")
    quick = ["--round-trips", "300", "--seconds", "10"] if args.quick else []
    wanted = set(args.jbench_only.split(",")) if args.jbench_only else None
    loads = [load for load in ("32x5", "16x10") if wanted is None or load in wanted]
    subprocess.run([args.jls_python, os.path.join(HERE, "relay_floor.py"), *quick,
                    "--sustained", ",".join(loads), "--json", out], check=True)  # fmt: skip
    with open(out) as f:
        figures = json.load(f)
    what = "bare relay (no HTTP, no websocket, no state)"
    rows: Rows = [("floor", f"{what}: CPU per execute, ms",
                   figures["execute"]["cpu_ms_per_request"], "-", "")]  # fmt: skip
    for load in loads:
        kernels, rate = load.split("x")
        rows.append(("floor", f"{what}, {kernels} x {rate}/s: CPU per request, ms",
                     figures[load]["cpu_ms_per_request"], "-", ""))  # fmt: skip
    rows.append(("floor", "bare asyncio reader: CPU per wake-up, µs", figures["wake_up_us"],
                 "-", ""))  # fmt: skip
    return rows


PARTS = {"stall": part_stall, "idle": part_idle, "keeper": part_keeper, "floor": part_floor,
         "jbench": part_jbench}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--jupyter", required=True, help="`jupyter` of an environment with "
                        "jupyter_server (never a dependency of jls)")  # fmt: skip
    parser.add_argument("--jls-python", default=sys.executable)
    parser.add_argument("--jbench", default=os.path.normpath(
        os.path.join(HERE, "..", "..", "shared", "bench", "jbench.py")))  # fmt: skip
    parser.add_argument("--only", default=",".join(PARTS))
    parser.add_argument("--jbench-only", help="jbench: only these runs (base,32x5,16x10,200MB)")
    parser.add_argument("--quick", action="store_true", help="small fixtures, to try the script")
    parser.add_argument("--quiet", action="store_true", help="hide jbench's own output")
    parser.add_argument("--markdown", help="write the table here too")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the work folder (server logs) when a part failed")
    args = parser.parse_args()
    # 100 kernels take more descriptors than a default soft limit of 1024 allows a
    # server that does not raise its own (jupyter_server): both get the hard limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = tempfile.mkdtemp(prefix="jls-scale-")
    rows: Rows = []
    failed = False
    try:
        for part in args.only.split(","):
            print(f"== {part}", flush=True)
            before = host_ticks()
            try:
                rows += PARTS[part](args, work)
            except Exception as exc:  # the other parts still run; the table says so
                print(f"  {part} FAILED: {exc!r}", flush=True)
                traceback.print_exc()
                rows.append((part, f"FAILED: {exc!r}"[:200], "-", "-", ""))
                failed = True
            stolen = steal_pct(before, host_ticks())
            if stolen is not None:
                rows.append((part, "host CPU taken by the hypervisor (steal) during this part, "
                             "% of all CPU time over the whole part", stolen, "-", ""))  # fmt: skip
    finally:
        if failed and args.keep_logs:
            print(f"Server logs kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    text = table(rows, shlex.join(["python3", os.path.relpath(sys.argv[0]), *sys.argv[1:]]))
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
