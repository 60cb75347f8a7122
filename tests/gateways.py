"""Real kernel gateways for the gateway provider's tests, started and stopped by fixtures.

Jupyter Kernel Gateway 3 runs from the test environment (it works with the
current jupyter_client); Jupyter Enterprise Gateway 3 pins an old
jupyter_client and jupyter_server, so it has its own virtualenv, made by
``.ci/test-peers`` at ``tests/.peers/enterprise-gateway`` (or $JLS_EG_VENV).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import requests
from jls_client import isolated_env

EG_VENV = os.environ.get(
    "JLS_EG_VENV", os.path.join(os.path.dirname(__file__), ".peers", "enterprise-gateway")
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Gateway:
    proc: subprocess.Popen
    url: str
    token: str
    log_path: str

    def api(self, method: str, path: str, **kw) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def remote_kernels(self) -> list[dict]:
        return self.api("GET", "/api/kernels").json()

    def log_text(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _start(cmd: list[str], workdir: str, port: int, token: str, env: dict) -> Gateway:
    log_path = os.path.join(workdir, f"gateway-{uuid.uuid4().hex[:6]}.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    gateway = Gateway(proc, f"http://127.0.0.1:{port}", token, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited: {gateway.log_text()}")
        try:
            if gateway.api("GET", "/api/kernelspecs").status_code == 200:
                return gateway
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    gateway.stop()
    raise RuntimeError(f"gateway did not answer: {gateway.log_text()}")


def start_kernel_gateway(workdir: str, port: int | None = None) -> Gateway:
    """Jupyter Kernel Gateway 3 with a token, listing its kernels."""
    port = port or free_port()
    token = uuid.uuid4().hex
    cmd = [
        sys.executable, "-m", "kernel_gateway",
        "--KernelGatewayApp.ip=127.0.0.1", f"--KernelGatewayApp.port={port}",
        "--KernelGatewayApp.port_retries=0", f"--KernelGatewayApp.auth_token={token}",
        "--JupyterWebsocketPersonality.list_kernels=True",
    ]  # fmt: skip
    return _start(cmd, workdir, port, token, isolated_env(os.path.join(workdir, "kg")))


def start_enterprise_gateway(workdir: str, port: int | None = None) -> Gateway:
    """Jupyter Enterprise Gateway 3 from its own virtualenv."""
    executable = os.path.join(EG_VENV, "bin", "jupyter-enterprisegateway")
    if not os.path.exists(executable):
        raise RuntimeError(
            f"Enterprise Gateway is not installed at {EG_VENV}: run `bash .ci/test-peers`"
        )
    port = port or free_port()
    token = uuid.uuid4().hex
    cmd = [
        executable, "--ip=127.0.0.1", f"--port={port}", "--port_retries=0",
        "--EnterpriseGatewayApp.list_kernels=True", f"--EnterpriseGatewayApp.auth_token={token}",
    ]  # fmt: skip
    env = isolated_env(os.path.join(workdir, "eg"))
    env["PATH"] = os.path.join(EG_VENV, "bin") + os.pathsep + env.get("PATH", "")
    env.pop("VIRTUAL_ENV", None)
    return _start(cmd, workdir, port, token, env)
