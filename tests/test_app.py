"""`jls serve` as a process: options, config files, ports, signals."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from jls_client import (
    isolated_env,
    kernel_pid,
    kernel_pids,
    run_jls,
    start_server,
    wait_gone,
    wait_until,
)


def test_version_and_help():
    from jupyter_lite_server import __version__

    assert run_jls("--version").stdout.strip() == __version__
    assert "jls serve" in run_jls("--help").stdout
    out = run_jls("serve", "--help").stdout
    for option in (
        "--ip",
        "--port",
        "--port-retries",
        "--token",
        "--root",
        "--base-url",
        "--allow-origin",
        "--config",
        "--log-level",
        "--no-auth",
    ):
        assert option in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_every_kernel_before_exit(tmp_path, sig):
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(str(root), str(tmp_path))
    api = srv.api()
    pids = []
    for _ in range(2):
        model = api.start_kernel()
        ch = api.channels(model["id"])
        pids.append(kernel_pid(ch))
        ch.close()
    assert srv.stop(sig) == 0
    for pid in pids:
        assert wait_gone(pid, 5), f"kernel {pid} orphaned"


def test_config_file_and_cli_precedence(tmp_path):
    config = tmp_path / "my_config.json"
    config.write_text(json.dumps({"ServerApp": {"base_url": "/prefix/", "token": "from-file"}}))
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(str(root), str(tmp_path), "--config", str(config), token="from-cli")
    try:
        assert srv.url.endswith("/prefix/")
        ok = requests.get(srv.url + "api/status", headers={"Authorization": "token from-cli"})
        assert ok.status_code == 200
        bad = requests.get(srv.url + "api/status", headers={"Authorization": "token from-file"})
        assert bad.status_code == 403
    finally:
        srv.stop()


def test_python_config_in_jupyter_config_dir(tmp_path):
    env = isolated_env(str(tmp_path))
    with open(os.path.join(env["JUPYTER_CONFIG_DIR"], "jls_config.py"), "w") as f:
        f.write("c.ServerApp.base_url = '/from-py/'\n")
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(str(root), str(tmp_path), env=env)
    try:
        assert srv.url.endswith("/from-py/")
        assert srv.api().get("api/status").status_code == 200
    finally:
        srv.stop()


def _busy_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()[1]


def test_port_taken_retries_next_unless_retries_zero(tmp_path):
    holder, port = _busy_port()
    try:
        env = isolated_env(str(tmp_path))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_lite_server",
                "serve",
                "--port",
                str(port),
                "--token",
                "t",
                "--root",
                str(tmp_path),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        line = proc.stdout.readline() + proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        assert f":{port}/" not in line and "http://127.0.0.1:" in line
        failed = run_jls(
            "serve",
            "--port",
            str(port),
            "--port-retries",
            "0",
            "--token",
            "t",
            "--root",
            str(tmp_path),
            env=env,
        )
        assert failed.returncode != 0
        assert "Cannot listen" in failed.stderr
    finally:
        holder.close()


def test_empty_token_needs_no_auth_flag(tmp_path):
    env = isolated_env(str(tmp_path))
    refused = run_jls("serve", "--port", "0", "--token", "", "--root", str(tmp_path), env=env)
    assert refused.returncode != 0 and "--no-auth" in refused.stderr
    srv = start_server(str(tmp_path), str(tmp_path), "--no-auth", token="")
    try:
        assert requests.get(srv.url + "api/status").status_code == 200
        time.sleep(0.2)
        assert "Authentication is disabled" in srv.log_text()
    finally:
        srv.stop()


def test_missing_root_is_a_clear_error(tmp_path):
    r = run_jls(
        "serve", "--root", str(tmp_path / "nope"), "--port", "0", env=isolated_env(str(tmp_path))
    )
    assert r.returncode != 0 and "does not exist" in r.stderr


@pytest.mark.parametrize(
    "args, said",
    [
        (["--root", "{missing}"], "does not exist"),
        (["--root", "{file}"], "is a file, not a directory"),
        (["--config", "{missing}.py"], "not found"),
        (["--token", ""], "needs --no-auth"),
    ],
)
def test_start_up_mistakes_are_one_line_and_exit_1(tmp_path, args, said):
    afile = tmp_path / "afile"
    afile.write_text("")
    filled = [a.format(missing=tmp_path / "nope", file=afile) for a in args]
    r = run_jls("serve", "--port", "0", *filled, env=isolated_env(str(tmp_path)))
    assert r.returncode == 1, r.stderr
    assert said in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_no_kernel_processes_after_kernels_deleted(server, api):
    models = [api.start_kernel()]
    wait_until(lambda: "Kernel fork server ready" in server.log_text(), what="fork server")
    models += [api.start_kernel() for _ in range(2)]  # forked
    assert len(kernel_pids(server.proc.pid)) >= 3
    for model in models:
        api.delete(f"api/kernels/{model['id']}")
    deadline = time.monotonic() + 5
    while kernel_pids(server.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kernel_pids(server.proc.pid) == []
