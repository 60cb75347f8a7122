"""jls as a JupyterHub single-user server: a real hub, the real configurable-http-proxy.

The hub (DummyAuthenticator, SimpleLocalProcessSpawner) spawns `jls serve` on
127.0.0.1; everything below goes through the proxy, as a user's traffic would.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import websocket
from jls_client import KernelChannel, stream_text

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
CHP = HERE.parent / "js" / "node_modules" / ".bin" / "configurable-http-proxy"
SERVICE_TOKEN = uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    assert CHP.exists(), "configurable-http-proxy missing: run npm ci --prefix tests/js"
    base = tmp_path_factory.mktemp("hub")
    port, hub_port, api_port = free_port(), free_port(), free_port()
    config = base / "jupyterhub_config.py"
    config.write_text(f"""
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{base}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{base}/cookie_secret"
c.JupyterHub.last_activity_interval = 3600  # activity below can only come from jls
c.ConfigurableHTTPProxy.command = ["{CHP}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "secret"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{base}/home/{{username}}"
c.Spawner.cmd = ["{sys.executable}", "-m", "jupyter_lite_server", "serve"]
c.Spawner.args = ["--ServerApp.hub_activity_check_interval=1"]
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 60
c.JupyterHub.services = [{{"name": "tester", "api_token": "{SERVICE_TOKEN}"}}]
c.JupyterHub.load_roles = [{{"name": "tester", "services": ["tester"],
    "scopes": ["admin:users", "admin:servers", "tokens", "read:users"]}}]
""")
    log = open(base / "hub.log", "w")  # noqa: SIM115 - open for the hub's lifetime
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(config)],
        cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(url + "/hub/api", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (base / "hub.log").read_text()
        time.sleep(0.3)
    yield {"url": url, "base": base, "proc": proc}
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    log.close()


def hub_api(hub, method, path, **kw):
    headers = {"Authorization": f"token {SERVICE_TOKEN}"}
    return requests.request(method, hub["url"] + "/hub/api" + path, headers=headers,
                            timeout=60, **kw)  # fmt: skip


def start_server_for(hub, user):
    hub_api(hub, "POST", "/users", json={"usernames": [user]})
    if hub_api(hub, "GET", f"/users/{user}").json()["servers"].get("", {}).get("ready"):
        return  # already running (an earlier test started it)
    response = hub_api(hub, "POST", f"/users/{user}/server")
    assert response.status_code in (201, 202), response.text
    deadline = time.monotonic() + 60
    while not hub_api(hub, "GET", f"/users/{user}").json()["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, (hub["base"] / "hub.log").read_text()[-5000:]
        time.sleep(0.3)


def token_for(hub, user):
    hub_api(hub, "POST", "/users", json={"usernames": [user]})
    response = hub_api(hub, "POST", f"/users/{user}/tokens", json={"note": "test"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def jls_processes_of(hub, user):
    """PIDs of `jls serve` processes running in the user's home directory."""
    home = os.path.realpath(hub["base"] / "home" / user)
    found = []
    for entry in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except (OSError, ValueError):
            continue
        if b"jupyter_lite_server" in cmdline and b"serve" in cmdline and cwd == home:
            found.append(int(entry))
    return found


def test_browser_login_through_hub_oauth_then_kernel_via_proxy(hub):
    start_server_for(hub, "alice")
    browser = requests.Session()
    login_page = browser.get(hub["url"] + "/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login_page.text).group(1)
    logged_in = browser.post(
        hub["url"] + "/hub/login?next=/hub/home",
        data={"username": "alice", "password": "secret", "_xsrf": xsrf}, timeout=30,
    )  # fmt: skip
    assert logged_in.status_code == 200, logged_in.text[-2000:]
    # The server's page sends the browser through the hub's OAuth and back.
    page = browser.get(hub["url"] + "/user/alice/", timeout=30)
    hops = [r.headers.get("Location", "") for r in page.history]
    # jupyterlab is installed in the test environment: the server's page is JupyterLab.
    assert page.status_code == 200, (hops, page.text[-500:])
    assert "jupyter-config-data" in page.text and '"baseUrl": "/user/alice/"' in page.text
    assert any("/hub/api/oauth2/authorize" in hop for hop in hops), hops
    assert any("/user/alice/oauth_callback" in hop for hop in hops), hops
    api = hub["url"] + "/user/alice/api/"
    assert browser.get(api + "status", timeout=30).status_code == 200
    refused = browser.post(api + "kernels", json={}, timeout=30)  # no _xsrf
    assert refused.status_code == 403
    xsrf = browser.cookies.get("_xsrf", path="/user/alice/")
    started = browser.post(api + "kernels", json={}, headers={"X-XSRFToken": xsrf}, timeout=60)
    assert started.status_code == 201, started.text
    assert browser.delete(api + f"kernels/{started.json()['id']}", headers={"X-XSRFToken": xsrf},
                          timeout=60).status_code == 204  # fmt: skip
    me = browser.get(api + "me", timeout=30).json()
    assert me["identity"]["username"] == "alice"


def test_api_token_kernel_websocket_activity_and_another_user_refused(hub):
    start_server_for(hub, "alice")
    token = token_for(hub, "alice")
    auth = {"Authorization": f"token {token}"}
    api = hub["url"] + "/user/alice/api/"
    version = requests.get(api, timeout=30)
    assert version.status_code == 200 and version.headers.get("X-JupyterHub-Version")
    before = hub_api(hub, "GET", "/users/alice").json()["servers"][""]["last_activity"]
    kernel = requests.post(api + "kernels", json={}, headers=auth, timeout=60).json()
    ws_url = hub["url"].replace("http", "ws") + f"/user/alice/api/kernels/{kernel['id']}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=60)
    channel = KernelChannel(ws, "json")
    reply, iopub = channel.execute("import os; print(6 * 7); print(os.getpid())")
    assert reply["status"] == "ok"
    answer, kernel_pid = stream_text(iopub).split()
    assert answer == "42"
    channel.close()

    deadline = time.monotonic() + 30
    while hub_api(hub, "GET", "/users/alice").json()["servers"][""]["last_activity"] == before:
        assert time.monotonic() < deadline, "jls never reported activity to the hub"
        time.sleep(0.5)

    bob = token_for(hub, "bob")
    for path in ("status", "kernels", f"kernels/{kernel['id']}"):
        denied = requests.get(api + path, headers={"Authorization": f"token {bob}"}, timeout=30)
        assert denied.status_code == 403, (path, denied.status_code)
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(ws_url, header=[f"Authorization: token {bob}"], timeout=30)
    assert info.value.status_code == 403

    servers = jls_processes_of(hub, "alice")
    assert servers, "no jls process found for alice"
    assert hub_api(hub, "DELETE", "/users/alice/server").status_code in (202, 204)
    deadline = time.monotonic() + 60
    while hub_api(hub, "GET", "/users/alice").json()["servers"]:
        assert time.monotonic() < deadline, "the hub never saw the server stop"
        time.sleep(0.3)
    for pid in [*servers, int(kernel_pid)]:
        assert not os.path.exists(f"/proc/{pid}") or "Z" in Path(f"/proc/{pid}/stat").read_text(
        ).rsplit(")", 1)[1].split()[0], f"process {pid} left behind"  # fmt: skip


def test_another_user_logged_in_at_the_hub_cannot_open_the_server(hub):
    start_server_for(hub, "alice")
    browser = requests.Session()
    login_page = browser.get(hub["url"] + "/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login_page.text).group(1)
    credentials = {"username": "bob", "password": "secret", "_xsrf": xsrf}
    browser.post(hub["url"] + "/hub/login?next=/hub/home", data=credentials, timeout=30)
    # The hub completes OAuth for bob (with bob's scopes); jls then refuses him.
    page = browser.get(hub["url"] + "/user/alice/", timeout=30)
    assert page.status_code == 403, (page.url, page.status_code)
    assert "jupyter-config-data" not in page.text
    status = browser.get(hub["url"] + "/user/alice/api/status", timeout=30)
    assert status.status_code == 403
