"""The warm pool: kernels ready before anyone asks."""

import json
import os
import sys
import time

import pytest
from jls_client import (
    isolated_env,
    kernel_pids,
    run_jls,
    start_server,
    stream_text,
    wait_gone,
    wait_until,
)

# Pools fill and refill over seconds: the full suite (CI) runs them.
pytestmark = pytest.mark.slow


@pytest.fixture
def pool_server(tmp_path):
    root = tmp_path / "root"
    (root / "project").mkdir(parents=True)
    srv = start_server(str(root), str(tmp_path), "--pool-size", "1")
    yield srv
    srv.stop()


def test_pooled_kernel_is_hidden_then_handed_out_adapted_and_refilled(pool_server):
    api = pool_server.api()
    wait_until(lambda: len(kernel_pids(pool_server.proc.pid)) == 1, what="the pool to fill")
    assert api.get("api/kernels").json() == []  # pooled kernels are not listed
    pooled_pid = kernel_pids(pool_server.proc.pid)[0]
    wait_until(lambda: "ready in the python3 pool" in pool_server.log_text(), what="readiness")
    started = time.monotonic()
    r = api.post(
        "api/sessions",
        json={"path": "project/nb.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    took = time.monotonic() - started
    assert r.status_code == 201
    session = r.json()
    assert session["kernel"]["execution_state"] == "idle"  # already running
    ch = api.channels(session["kernel"]["id"])
    _, iopub = ch.execute(
        "import os; print(os.getpid()); print(os.getcwd()); "
        "print(os.environ['JPY_SESSION_NAME']); print(__session__)"
    )
    pid, cwd, env_name, session_name = stream_text(iopub).split()
    assert int(pid) == pooled_pid
    assert os.path.realpath(cwd) == os.path.realpath(os.path.join(pool_server.root, "project"))
    assert env_name.endswith("project/nb.ipynb") and session_name == env_name
    ch.close()
    assert took < 1.0  # no kernel start-up in the request (a fresh start takes ~0.4 s+)
    # the pool refills in the background: one handed out, one new pooled kernel
    wait_until(lambda: len(kernel_pids(pool_server.proc.pid)) == 2, what="the pool to refill")
    assert [k["id"] for k in api.get("api/kernels").json()] == [session["kernel"]["id"]]


def test_pooled_kernels_stop_with_the_server(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(str(root), str(tmp_path), "--pool-size", "2")
    try:
        wait_until(lambda: len(kernel_pids(srv.proc.pid)) == 2, what="the pool to fill")
        pids = kernel_pids(srv.proc.pid)
    finally:
        assert srv.stop() == 0  # a failure above must not leave the server running
    for pid in pids:
        assert wait_gone(pid, 5), f"pooled kernel {pid} orphaned"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--pool-size", "-1"], "whole number"),
        (["--pool-size", "1000"], "absurd"),
        (["--MappingKernelManager.pool={'not-python': 1}"], "only Python kernels"),
        (["--MappingKernelManager.pool={'nope': 1}"], "unknown kernel"),
    ],
)
def test_bad_pool_configuration_is_a_clear_startup_error(tmp_path, args, message):
    spec_dir = tmp_path / "data" / "kernels" / "not-python"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "R-ish",
                "language": "R",
            }
        )
    )
    env = isolated_env(str(tmp_path))
    env["JUPYTER_PATH"] = str(tmp_path / "data")
    result = run_jls("serve", "--port", "0", "--root", str(tmp_path), *args, env=env)
    assert result.returncode != 0
    assert message in result.stderr
