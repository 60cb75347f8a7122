"""Runtime files: `jupyter server list`, `jls list` and `jls stop` find and stop jls."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from jls_client import kernel_pid, run_jls, start_server_in, wait_gone


@pytest.mark.slow  # runs three commands
def test_runtime_file_is_listed_by_jupyter_and_jls_and_stop_stops_everything(tmp_path):
    srv = start_server_in(tmp_path)
    runtime = os.path.join(tmp_path, "runtime")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": runtime}
    info_path = os.path.join(runtime, f"jpserver-{srv.proc.pid}.json")
    try:
        assert stat.S_IMODE(os.stat(info_path).st_mode) == 0o600  # it holds the token
        with open(info_path) as f:
            info = json.load(f)
        assert info["url"] == srv.url and info["token"] == srv.token
        assert info["pid"] == srv.proc.pid and info["root_dir"] == srv.root
        fields = {"hostname", "port", "sock", "secure", "base_url", "password", "version"}
        assert fields <= set(info)
        # jupyter_server's own command (installed with jupyterlab) sees us as a server
        listed = subprocess.run(
            [sys.executable, "-m", "jupyter_server", "list", "--json"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        assert [json.loads(line)["pid"] for line in listed.stdout.splitlines()] == [srv.proc.pid]
        ours = run_jls("list", env=env)
        assert f"{srv.url}?token={srv.token} :: {srv.root}" in ours.stdout
        api = srv.api()
        channel = api.channels(api.start_kernel()["id"])
        pid = kernel_pid(channel)
        channel.close()
        port = info["port"]
        stopped = run_jls("stop", str(port), env=env)
        assert stopped.returncode == 0, stopped.stderr
        assert srv.proc.wait(30) == 0
        assert wait_gone(pid, 10), "the kernel outlived `jls stop`"
        assert not os.path.exists(info_path)
        assert run_jls("stop", str(port), env=env).returncode != 0  # nothing left there
    finally:
        srv.stop()


def test_a_stale_runtime_file_is_not_listed_and_is_removed(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    stale = runtime / "jpserver-999999.json"
    stale.write_text(json.dumps({"pid": 999999, "url": "http://127.0.0.1:1/", "port": 1}))
    listed = run_jls("list", env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)})
    assert "127.0.0.1:1" not in listed.stdout
    assert not stale.exists()
