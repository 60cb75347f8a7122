"""@jupyterlab/services (the JavaScript client JupyterLab uses) against a real jls serve."""

import json
import os
import shutil
import subprocess

import nbformat

JS = os.path.join(os.path.dirname(__file__), "..", "js")


def run_scenario(server, script: str) -> dict:
    """Run a node script of tests/js against ``server``; the JSON summary it prints last."""
    env = {**os.environ, "JLS_URL": server.url, "JLS_TOKEN": server.token}
    result = subprocess.run([shutil.which("node"), script], cwd=JS, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_notebook_session_run_save_reread_shutdown(server):
    node = shutil.which("node")
    assert node, "node is required (installed by .ci/run)"
    assert os.path.isdir(os.path.join(JS, "node_modules", "@jupyterlab", "services")), (
        "run `npm ci --prefix tests/js` (the README's install command does)"
    )
    summary = run_scenario(server, "notebook_scenario.mjs")
    assert summary == {"ok": True, "path": summary["path"], "output": "42\n"}
    saved = nbformat.read(os.path.join(server.root, summary["path"]), as_version=4)
    assert saved.cells[0].outputs[0]["text"] == "42\n"


def test_terminal_manager_starts_runs_and_shuts_down_a_terminal(server):
    from jls_client import wait_gone

    summary = run_scenario(server, "terminal_scenario.mjs")
    assert summary["answer"] == "42"
    assert summary["name"] in summary["listed"] and summary["name"] not in summary["after"]
    assert wait_gone(summary["pid"]), "the shell outlived its terminal"
