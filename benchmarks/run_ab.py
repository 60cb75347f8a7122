"""Run the shared jbench harness on `jls serve` and jupyter_server in one run; write a table.

    python benchmarks/run_ab.py --jupyter /path/to/venv/bin/jupyter --runs 3 \
        --only cold_start,rest,kernel_start,execute,iopub,many_kernels \
        --markdown benchmarks/results/latest.md

jupyter_server must live in its own environment (it is never a dependency of
this package): `python3 -m venv .venv-js && .venv-js/bin/pip install jupyter_server
ipykernel`. Kernels inherit their server's interpreter, so for a like-for-like
comparison install jls into that same venv (`.venv-js/bin/pip install --no-deps .`)
and pass `--jls-python .venv-js/bin/python`: both servers then start the very
same kernel. iopub is compared with jupyter_server's rate limit off
(`--ZMQChannelsWebsocketConnection.limit_rate=False`), as the harness README
says, because the stock limit drops output. Every figure in the table is a
median over runs with both servers measured alternately in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JBENCH = os.path.join(HERE, "..", "..", "shared", "bench", "jbench.py")
JS_COMMON = (
    "--no-browser --allow-root --ServerApp.ip=127.0.0.1 --port={port} "
    "--ServerApp.port_retries=0 --IdentityProvider.token={token} --ServerApp.root_dir={root}"
)

# (metric, figure, what is compared, operator, threshold, description) -- issue 4's targets.
# "ratio" is jls / jupyter_server from the same run; "jls" is jls's own figure (a ratio to
# the direct-ZMQ floor that the harness computed in the same run).
TARGETS = [
    ("cold_start", "ready_median_ms", "ratio", "<=", 0.15, "cold start to /api/status 200"),
    ("cold_start", "idle_rss_mb", "ratio", "<=", 0.5, "idle RSS of the server"),
    ("execute", "json_over_floor_ratio", "jls", "<=", 1.15, "execute `1`, JSON, x floor"),
    ("execute", "v1_over_floor_ratio", "jls", "<=", 1.15, "execute `1`, v1, x floor"),
    ("iopub", "big50mb_v1_over_zmq_ratio", "jls", "<=", 1 / 0.85, "50 MB string, v1 (time/floor)"),
    (
        "iopub",
        "big50mb_json_over_zmq_ratio",
        "jls",
        "<=",
        1 / 0.7,
        "50 MB string, JSON (time/floor)",
    ),
    (
        "iopub",
        "flush20k_json_over_zmq_ratio",
        "jls",
        "<=",
        1 / 0.95,
        "20k flushes (time/floor)",
    ),
    ("iopub", "flush20k_json_complete", "jls", "==", True, "20,000 flushes, all delivered"),
    ("rest", "contents_dir1000_median_ms", "ratio", "<=", 0.1, "GET a directory of 1,000 files"),
    ("rest", "contents_nb200_median_ms", "ratio", "<=", 0.5, "GET a 1 MB notebook"),
    ("rest", "tput_wrk_rps", "ratio", ">=", 3.0, "GET /api/kernelspecs, wrk, 8 connections"),
    ("kernel_start", "total_median_ms", "ratio", "<=", 0.9, "session start to kernel_info_reply"),
    ("many_kernels", "all_ready_total_s", "ratio", "<=", 0.7, "20 kernels started and answering"),
    ("kernel_start", "delete_median_ms", "ratio", "<=", 0.5, "DELETE session (kernel gone)"),
    ("sustained", "lost", "jls", "==", 0, "sustained load: lost replies"),
    ("sustained", "server_cpu_ms_per_req", "ratio", "<=", 0.3, "sustained: server CPU per request"),
]


def run_jbench(args: argparse.Namespace, only: list[str], vs_extra: str, out: str) -> dict:
    jls = f"{shlex.quote(args.jls_python)} -m jupyter_lite_server serve --ip 127.0.0.1 " \
          "--port {port} --port-retries 0 --token {token} --root {root}"  # fmt: skip
    reference = f"{shlex.quote(args.jupyter)} server {JS_COMMON} {vs_extra}".strip()
    cmd = [sys.executable, args.jbench, "--runs", str(args.runs), "--only", ",".join(only),
           "--json", out, "--server-cmd", jls, "--label", "jls", "--vs", reference,
           "--vs-label", "jupyter_server", *args.jbench_args]  # fmt: skip
    print("+", shlex.join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    with open(out) as f:
        return json.load(f)


def jls_value(doc: dict, metric: str, figure: str):
    """jls's own figure (median over runs) from the A side of a jbench A/B document."""
    entry = doc.get("ab", {}).get(metric, {}).get(figure)
    if entry is not None:
        return entry.get("a")
    summary = doc.get("A", {}).get("summary", {}).get(metric, {}).get(figure)
    if isinstance(summary, dict):
        return summary.get("median")
    return summary


def check(value, op: str, threshold) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, str) and "/" in value and threshold is True:  # jbench flags: "3/3"
        done, _, runs = value.partition("/")
        return "met" if done == runs else "MISSED"
    try:
        ok = {"<=": value <= threshold, ">=": value >= threshold, "==": value == threshold}[op]
    except TypeError:
        ok = str(value) == str(threshold)
    return "met" if ok else "MISSED"


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)


def markdown(docs: list[dict], command: str) -> str:
    merged_ab: dict = {}
    for doc in docs:
        for metric, figures in doc.get("ab", {}).items():
            merged_ab.setdefault(metric, {}).update(figures)
    meta = docs[0]["meta"]
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {meta['host']['nproc']} cores, "
        f"{platform.platform()}, Python {platform.python_version()}; "
        f"{meta['runs']} run(s), medians, a fresh server per run, jls and jupyter_server "
        "alternating.",
        "",
        f"Command: `{command}`",
        "",
        "## Targets",
        "",
        "| target | figure | jls | jupyter_server | compared | target | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric, figure, side, op, threshold, label in TARGETS:
        entry = merged_ab.get(metric, {}).get(figure, {})
        a, b = entry.get("a"), entry.get("b")
        if side == "ratio":
            value = entry.get("ratio")
        else:
            value = next((v for d in docs if (v := jls_value(d, metric, figure)) is not None), None)
            a = value if a is None else a
        shown_threshold = f"{op} {threshold:.3g}" if isinstance(threshold, float) else \
            f"{op} {threshold}"  # fmt: skip
        lines.append(
            f"| {label} | `{metric}.{figure}` | {fmt(a)} | {fmt(b)} | "
            f"{'ratio ' if side == 'ratio' else ''}{fmt(value)} | {shown_threshold} | "
            f"{check(value, op, threshold)} |"
        )
    lines += ["", "## Every headline figure", "",
              "| metric | figure | unit | better | jls | jupyter_server | jls / js |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for metric, figures in merged_ab.items():
        for figure, entry in figures.items():
            if entry.get("better") in ("", None) or figure.endswith(("_n", "_bytes")):
                continue
            lines.append(
                f"| {metric} | {figure} | {entry.get('unit', '')} | {entry.get('better')} | "
                f"{fmt(entry.get('a'))} | {fmt(entry.get('b'))} | {fmt(entry.get('ratio'))} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--jupyter", required=True, help="the `jupyter` executable of a venv "
                        "with jupyter_server installed")  # fmt: skip
    parser.add_argument("--jbench", default=os.path.normpath(DEFAULT_JBENCH))
    parser.add_argument(
        "--jls-python",
        default=sys.executable,
        help="interpreter that runs jls; for a like-for-like run install jls into the "
        "jupyter_server venv (pip install --no-deps .) and pass its python, so both servers "
        "start the same kernel from the same environment",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="cold_start,rest,kernel_start,execute,iopub,many_kernels")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--markdown", help="write the table here (default: print it)")
    parser.add_argument("jbench_args", nargs="*", help="extra jbench arguments (after --)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    metrics = [m for m in args.only.split(",") if m]
    docs = []
    stock = [m for m in metrics if m != "iopub"]
    if stock:
        docs.append(run_jbench(args, stock, "", os.path.join(args.out, "ab-stock.json")))
    if "iopub" in metrics:
        docs.append(run_jbench(args, ["iopub"], "--ZMQChannelsWebsocketConnection.limit_rate=False",
                               os.path.join(args.out, "ab-iopub-nolimit.json")))  # fmt: skip
    table = markdown(docs, shlex.join([os.path.relpath(sys.argv[0]), *sys.argv[1:]]))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    print(table)


if __name__ == "__main__":
    main()
