"""The docker provider against the real Docker engine.

`.ci/test-peers` starts Debian's dockerd (no bridge network here: containers use
the host network) and builds `jls-test-kernel:base` (debootstrap + ipykernel).
Without the engine these tests fail; they never skip. The versions of the image a
notebook is pinned to are made from the base image by `docker commit` with a
different environment variable, so each version has its own image id.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time

import pytest
from jls_client import start_server_in, stream_text, wait_until

pytestmark = pytest.mark.slow

BASE_IMAGE = os.environ.get("JLS_TEST_KERNEL_IMAGE", "jls-test-kernel:base")
REPO = "jls-test-kernel"
LABEL = "org.jupyter-lite-server.kernel"


@pytest.fixture(scope="module")
def engine():
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
        client.images.get(BASE_IMAGE)
    except Exception as exc:
        pytest.fail(f"Docker engine or {BASE_IMAGE} missing ({exc}): run `bash .ci/test-peers`")
    versions = {}
    for version in ("v0", "v1", "v2"):
        helper = client.containers.create(BASE_IMAGE, command=["true"])
        try:
            image = helper.commit(
                repository=REPO, tag=version, changes=[f"ENV JLS_KERNEL_ENV={version}"]
            )
        finally:
            helper.remove(force=True)
        versions[version] = image.id
    client.images.get(f"{REPO}:v1").tag(REPO, "latest")
    yield client, versions
    for version in ("v0", "v1", "v2", "latest"):
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(f"{REPO}:{version}", force=True)


def _containers(client, kernel_id: str | None = None, all: bool = True) -> list:
    label = f"{LABEL}={kernel_id}" if kernel_id else LABEL
    # (a container the server is removing may vanish between docker's list and inspect)
    return client.containers.list(all=all, filters={"label": label}, ignore_removed=True)


def _write_config(base, kernels: dict, extra: str = "") -> str:
    path = os.path.join(str(base), "jls_config.py")
    with open(path, "w") as f:
        f.write(f"c.DockerProvider.kernels = {json.dumps(kernels)}\n{extra}")
    return path


KERNELS = {
    "py-docker": {"image": f"{REPO}:latest", "display_name": "Python in a container"},
    "py-small": {"image": f"{REPO}:v1", "mem_limit": "256m", "cpus": 0.5, "pids_limit": 64},
    "py-missing": {"image": "jls-no-such-image:1"},
}


@pytest.fixture(scope="module")
def jls(engine, tmp_path_factory):
    base = tmp_path_factory.mktemp("jls-docker")
    server = start_server_in(base, "--config", _write_config(base, KERNELS))
    yield server
    server.stop()


def _kernel_env(api, kernel_id: str) -> str:
    ch = api.channels(kernel_id)
    try:
        return stream_text(ch.execute("import os; print(os.environ.get('JLS_KERNEL_ENV'))")[1])
    finally:
        ch.close()


def test_listed_with_local_kernels(jls):
    specs = jls.api().get("api/kernelspecs").json()["kernelspecs"]
    assert {"python3", "py-docker", "py-small", "py-missing"} <= set(specs)
    assert specs["py-docker"]["spec"]["display_name"] == "Python in a container"
    assert specs["py-docker"]["spec"]["metadata"]["image"] == f"{REPO}:latest"


def test_full_lifecycle_in_a_container(jls, engine):
    client, versions = engine
    api = jls.api()
    model = api.start_kernel("py-docker")
    assert model["environment"]["image"] == f"{REPO}:latest"
    assert model["environment"]["image_id"] == versions["v1"]
    [container] = _containers(client, model["id"])
    assert container.status == "running" and container.image.id == versions["v1"]
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    ch = api.channels(model["id"])
    try:
        reply, iopub = ch.execute(
            "import os; print(os.environ['JLS_KERNEL_ENV'], os.path.exists('/.dockerenv'))"
        )
        assert reply["status"] == "ok" and stream_text(iopub) == "v1 True\n"

        reply, iopub = ch.execute("n = input('n? '); print(int(n) * 2)", stdin_reply="21")
        assert stream_text(iopub) == "42\n"

        msg_id = ch.start_execute("import time; time.sleep(60)")
        time.sleep(1.5)
        assert api.post(f"api/kernels/{model['id']}/interrupt").status_code == 204
        reply, _ = ch.collect(msg_id, timeout=30)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"

        ch.execute("marker = 1")
        r = api.post(f"api/kernels/{model['id']}/restart")
        assert r.status_code == 200, r.text
        assert stream_text(ch.execute("print('marker' in dir())")[1]) == "False\n"
        [restarted] = _containers(client, model["id"])
        assert restarted.id != container.id, "restart did not start a new container"
        assert restarted.image.id == versions["v1"]
    finally:
        ch.close()
    assert api.delete(f"api/kernels/{model['id']}").status_code == 204
    assert api.get(f"api/kernels/{model['id']}").status_code == 404  # gone for clients at once
    # ...and the container stops and goes right after (the DELETE does not wait for it).
    wait_until(lambda: _containers(client, model["id"]) == [], 30, "the container removed")
    runtime = os.path.join(os.path.dirname(jls.root), "runtime", "jls-containers")
    wait_until(lambda: not os.path.exists(os.path.join(runtime, model["id"])), 10,
               "the connection file removed")  # fmt: skip


# What the kernel itself sees of its limits, on cgroup v2 or v1 hosts.
CGROUP_LIMITS = """
import os
def read(path):
    return open(path).read().split() if os.path.exists(path) else None
memory = read('/sys/fs/cgroup/memory.max') or read('/sys/fs/cgroup/memory/memory.limit_in_bytes')
cpu = read('/sys/fs/cgroup/cpu.max') or (
    read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') + read('/sys/fs/cgroup/cpu/cpu.cfs_period_us'))
print(memory[0], *cpu)
"""


def test_resource_limits_apply_inside_the_kernel(jls, engine):
    client, _ = engine
    api = jls.api()
    model = api.start_kernel("py-small")
    try:
        [container] = _containers(client, model["id"])
        host_config = container.attrs["HostConfig"]
        assert host_config["Memory"] == 256 * 1024 * 1024
        assert host_config["NanoCpus"] == 500_000_000 and host_config["PidsLimit"] == 64
        ch = api.channels(model["id"])
        try:
            reply, iopub = ch.execute(CGROUP_LIMITS)
            assert reply["status"] == "ok", reply
            assert stream_text(iopub) == "268435456 50000 100000\n"
        finally:
            ch.close()
    finally:
        api.delete(f"api/kernels/{model['id']}")


def test_missing_image_is_a_clear_error_and_leaves_nothing(jls, engine):
    client, _ = engine
    before = {c.id for c in _containers(client)}
    r = jls.api().post("api/kernels", json={"name": "py-missing"})
    assert r.status_code == 502
    assert "jls-no-such-image:1" in r.json()["message"]
    assert "not on this Docker engine" in r.json()["message"]
    assert {c.id for c in _containers(client)} == before


def _new_notebook(api, path: str) -> None:
    nb = {
        "cells": [],
        "metadata": {
            "kernelspec": {"name": "py-docker", "display_name": "x", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    r = api.put(f"api/contents/{path}", json={"type": "notebook", "content": nb})
    assert r.status_code in (200, 201), r.text


def _session(api, path: str) -> dict:
    r = api.post(
        "api/sessions", json={"path": path, "type": "notebook", "kernel": {"name": "py-docker"}}
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_notebook_keeps_its_image_after_the_tag_moves(jls, engine):
    client, versions = engine
    api = jls.api()
    _new_notebook(api, "pinned.ipynb")
    session = _session(api, "pinned.ipynb")
    assert _kernel_env(api, session["kernel"]["id"]) == "v1\n"
    saved = api.get("api/contents/pinned.ipynb").json()["content"]
    r = api.put("api/contents/pinned.ipynb", json={"type": "notebook", "content": saved})
    assert r.status_code == 200
    with open(os.path.join(jls.root, "pinned.ipynb")) as f:
        on_disk = json.load(f)["metadata"]["jupyter_lite_server"]["kernel_environment"]
    assert on_disk["kernel_name"] == "py-docker"
    assert on_disk["environment"]["image_id"] == versions["v1"]
    assert api.delete(f"api/sessions/{session['id']}").status_code == 204

    client.images.get(f"{REPO}:v2").tag(REPO, "latest")  # the default image moves on
    try:
        session = _session(api, "pinned.ipynb")
        kernel = api.get(f"api/kernels/{session['kernel']['id']}").json()
        assert kernel["environment"]["image_id"] == versions["v1"]
        assert _kernel_env(api, session["kernel"]["id"]) == "v1\n", "the pinned image was not used"
        api.delete(f"api/sessions/{session['id']}")

        _new_notebook(api, "fresh.ipynb")
        fresh = _session(api, "fresh.ipynb")
        assert _kernel_env(api, fresh["kernel"]["id"]) == "v2\n"
        api.delete(f"api/sessions/{fresh['id']}")
    finally:
        client.images.get(f"{REPO}:v1").tag(REPO, "latest")


def test_notebook_pinned_to_a_removed_image_says_so(jls, engine):
    client, versions = engine
    api = jls.api()
    _new_notebook(api, "old.ipynb")
    client.images.get(f"{REPO}:v0").tag(REPO, "latest")
    try:
        session = _session(api, "old.ipynb")
        saved = api.get("api/contents/old.ipynb").json()["content"]
        api.put("api/contents/old.ipynb", json={"type": "notebook", "content": saved})
        api.delete(f"api/sessions/{session['id']}")
        wait_until(lambda: _containers(client, session["kernel"]["id"]) == [], 30,
                   "the v0 container removed")  # fmt: skip
    finally:
        client.images.get(f"{REPO}:v1").tag(REPO, "latest")
    client.images.remove(f"{REPO}:v0", force=True)
    r = api.post(
        "api/sessions",
        json={"path": "old.ipynb", "type": "notebook", "kernel": {"name": "py-docker"}},
    )
    assert r.status_code == 502
    message = r.json()["message"]
    assert versions["v0"] in message and "does not have it" in message


def test_container_killed_from_outside_is_restarted(jls, engine):
    client, versions = engine
    api = jls.api()
    model = api.start_kernel("py-docker")
    [container] = _containers(client, model["id"])
    ch = api.channels(model["id"])
    try:
        assert stream_text(ch.execute("print('up')")[1]) == "up\n"
        container.kill()
        ch.wait_for_status("restarting", timeout=30)
        kernel_url = f"api/kernels/{model['id']}"
        wait_until(lambda: api.get(kernel_url).json()["execution_state"] == "idle", what="back")
        assert stream_text(ch.execute("print('back')")[1]) == "back\n"
        [replacement] = _containers(client, model["id"])
        assert replacement.id != container.id and replacement.image.id == versions["v1"]
    finally:
        ch.close()
        api.delete(f"api/kernels/{model['id']}")
    assert "died unexpectedly" in jls.log_text()
    wait_until(lambda: _containers(client, model["id"]) == [], 30, "the container removed")


def test_a_kernel_that_lingers_after_shutdown_is_stopped_and_removed(jls, engine):
    """Past its grace after shutdown_request it gets SIGTERM, then SIGKILL, and goes. The
    Engine API takes that grace in whole seconds: 5.0 was refused, and the container was
    left running once its kernel was no longer listed."""
    client, _ = engine
    api = jls.api()
    log_start = len(jls.log_text())
    model = api.start_kernel("py-docker")
    ch = api.channels(model["id"])
    try:  # the kernel answers shutdown_request, then sleeps on its way out
        ch.execute("import atexit, time; atexit.register(time.sleep, 120)")
    finally:
        ch.close()
    assert api.delete(f"api/kernels/{model['id']}").status_code == 204
    wait_until(lambda: _containers(client, model["id"]) == [], 60, "the container removed")
    assert "failed" not in jls.log_text()[log_start:]


def test_killed_container_without_autorestart_is_dead(engine, tmp_path):
    client, _ = engine
    config = _write_config(tmp_path, KERNELS, "c.MappingKernelManager.autorestart = False\n")
    server = start_server_in(tmp_path, "--config", config)
    try:
        api = server.api()
        model = api.start_kernel("py-docker")
        ch = api.channels(model["id"])
        assert stream_text(ch.execute("print('up')")[1]) == "up\n"
        [container] = _containers(client, model["id"])
        container.kill()
        ch.wait_for_status("dead", timeout=30)
        ch.close()
        wait_until(lambda: api.get(f"api/kernels/{model['id']}").status_code == 404, what="removal")
        wait_until(lambda: _containers(client, model["id"]) == [], what="container removed")
        assert "is dead" in server.log_text()
    finally:
        server.stop()


def test_containers_of_a_killed_server_are_removed_by_the_next(engine, tmp_path):
    client, _ = engine
    config = _write_config(tmp_path, KERNELS)
    server = start_server_in(tmp_path, "--config", config)
    model = server.api().start_kernel("py-docker")
    assert len(_containers(client, model["id"])) == 1
    server.stop(signal.SIGKILL)
    server = start_server_in(tmp_path, "--config", config)
    try:
        server.api().get("api/kernelspecs")
        wait_until(lambda: _containers(client, model["id"]) == [], what="orphan removed")
        assert "left by a server" in server.log_text()
    finally:
        server.stop()


def test_container_kernels_outlive_the_server_with_sessions_on_file(engine, tmp_path):
    client, _ = engine
    config = _write_config(tmp_path, KERNELS)
    args = ("--config", config, "--sessions-db", str(tmp_path / "sessions.db"))
    server = start_server_in(tmp_path, *args)
    try:
        api = server.api()
        _new_notebook(api, "kept.ipynb")
        session = _session(api, "kept.ipynb")
        ch = api.channels(session["kernel"]["id"], session_id=session["id"])
        ch.execute("kept = 'still here'")
        ch.close()
        server.stop(signal.SIGKILL)
        server = start_server_in(tmp_path, *args)
        api = server.api()
        ch = api.channels(session["kernel"]["id"], session_id=session["id"])
        assert stream_text(ch.execute("print(kept)")[1]) == "still here\n"
        ch.close()
        assert api.delete(f"api/sessions/{session['id']}").status_code == 204
        wait_until(
            lambda: _containers(client, session["kernel"]["id"]) == [], what="container gone"
        )
    finally:
        server.stop()


def test_a_container_kernel_killed_for_memory_says_so(jls, engine):
    """Over its 256 MB limit the kernel is OOM-killed; Docker's OOMKilled reaches the user."""
    api = jls.api()
    model = api.start_kernel("py-small")
    ch = api.channels(model["id"])
    try:
        # b"x" * n writes every page (a bytearray(n) would be calloc'd, never touched)
        ch.start_execute("hog = b'x' * (2 * 1024**3)")
        notices = []
        deadline = time.monotonic() + 60
        while True:
            m = ch.recv(max(0.1, deadline - time.monotonic()))
            if m["header"]["msg_type"] == "stream" and m["content"]["name"] == "stderr":
                notices.append(m["content"]["text"])
            if m["header"]["msg_type"] == "status" and m["content"]["execution_state"] in (
                "restarting", "dead",
            ):  # fmt: skip
                break
            assert m["header"]["msg_type"] != "execute_reply", f"the cell finished: {m}"
        assert any("Kernel died:" in n and "(out of memory)" in n for n in notices), notices
        reason = api.get(f"api/kernels/{model['id']}").json().get("reason", "")
        assert "killed by signal 9" in reason and "(out of memory)" in reason
    finally:
        ch.close()
        api.delete(f"api/kernels/{model['id']}")
