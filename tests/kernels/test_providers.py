"""Providers from entry points: a third-party provider installed as a distribution."""

import json
import os
import sys

import pytest
from jls_client import isolated_env, start_server, stream_text

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "hello_provider")


def install_test_distribution(site: str) -> None:
    """A minimal installed distribution: metadata and entry points, as pip leaves them."""
    dist = os.path.join(site, "jls_test_providers-0.1.dist-info")
    os.makedirs(dist)
    with open(os.path.join(dist, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: jls-test-providers\nVersion: 0.1\n")
    with open(os.path.join(dist, "entry_points.txt"), "w") as f:
        f.write(
            "[jupyter_lite_server.kernel_providers]\n"
            "hello = hello_provider:HelloProvider\n"
            "broken = jls_broken_provider:DoesNotExist\n"
            "[jupyter_client.kernel_provisioners]\n"
            "marking-provisioner = jls_test_provisioner:MarkingProvisioner\n"
        )
    with open(os.path.join(site, "jls_broken_provider.py"), "w") as f:
        f.write("raise ImportError('this provider is broken on purpose')\n")
    with open(os.path.join(site, "jls_test_provisioner.py"), "w") as f:
        f.write(
            "from jupyter_client.provisioning import LocalProvisioner\n"
            "class MarkingProvisioner(LocalProvisioner):\n"
            "    async def pre_launch(self, **kwargs):\n"
            "        kwargs = await super().pre_launch(**kwargs)\n"
            "        kwargs['env']['PROVISIONED_BY'] = 'marking-provisioner'\n"
            "        return kwargs\n"
        )


@pytest.fixture(scope="module")
def provider_server(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("providers"))
    site = os.path.join(base, "site")
    os.makedirs(site)
    install_test_distribution(site)
    spec_dir = os.path.join(base, "data", "kernels", "provisioned")
    os.makedirs(spec_dir)
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Provisioned",
                "language": "python",
                "metadata": {"kernel_provisioner": {"provisioner_name": "marking-provisioner"}},
            },
            f,
        )
    env = isolated_env(base)
    env["JUPYTER_PATH"] = os.path.join(base, "data")
    env["PYTHONPATH"] = os.pathsep.join(
        [site, os.path.abspath(EXAMPLES), env.get("PYTHONPATH", "")]
    )
    root = os.path.join(base, "root")
    os.makedirs(root)
    srv = start_server(root, base, env=env)
    yield srv
    srv.stop()


def test_third_party_provider_is_listed_and_broken_one_skipped(provider_server):
    api = provider_server.api()
    specs = api.get("api/kernelspecs").json()["kernelspecs"]
    assert "hello" in specs and specs["hello"]["spec"]["display_name"] == "Hello Python"
    assert "python3" in specs
    log = provider_server.log_text()
    assert "broken" in log and "failed to load" in log


def test_third_party_kernel_runs_and_interrupts_by_message(provider_server):
    api = provider_server.api()
    model = api.start_kernel("hello")
    assert model["name"] == "hello"
    ch = api.channels(model["id"])
    _, iopub = ch.execute("import os; print(os.environ['HELLO_PROVIDER'])")
    assert stream_text(iopub) == "hello from the provider\n"
    msg_id = ch.send(ch.message("execute_request", {"code": "import time; time.sleep(60)"}))
    ch.wait_for(
        lambda m: m["header"]["msg_type"] == "execute_input"
        and m["parent_header"].get("msg_id") == msg_id
    )
    assert api.post(f"api/kernels/{model['id']}/interrupt").status_code == 204
    reply, _ = ch.collect(msg_id, timeout=10)
    assert reply["ename"] == "KeyboardInterrupt"
    ch.close()
    assert api.delete(f"api/kernels/{model['id']}").status_code == 204


def test_kernelspec_provisioner_metadata_is_honoured(provider_server):
    api = provider_server.api()
    model = api.start_kernel("provisioned")
    ch = api.channels(model["id"])
    _, iopub = ch.execute("import os; print(os.environ.get('PROVISIONED_BY'))")
    assert stream_text(iopub) == "marking-provisioner\n"
    ch.close()
    assert api.delete(f"api/kernels/{model['id']}").status_code == 204


def test_shadowed_pyimport_kernel_resolves_by_qualified_name(provider_server):
    api = provider_server.api()
    specs = api.get("api/kernelspecs").json()["kernelspecs"]
    assert "pyimport-python3" not in specs  # hidden behind the installed python3 kernelspec
    assert api.get("api/kernelspecs/pyimport-python3").status_code == 200
    model = api.start_kernel("pyimport-python3")
    ch = api.channels(model["id"])
    reply, _ = ch.execute("1")
    assert reply["status"] == "ok"
    ch.close()
    api.delete(f"api/kernels/{model['id']}")


def test_pyimport_offers_python3_when_no_kernelspec_is_installed(tmp_path):
    """With no kernelspec on the data path, python3 still comes from pyimport."""
    base = str(tmp_path)
    env = isolated_env(base)
    env["JUPYTER_PATH"] = os.path.join(base, "empty")
    env["JUPYTER_DATA_DIR"] = os.path.join(base, "empty-data")
    env["JUPYTER_PLATFORM_DIRS"] = "0"
    root = os.path.join(base, "root")
    os.makedirs(root)
    srv = start_server(root, base, "--KernelFinder.disabled_providers=spec", env=env)
    try:
        api = srv.api()
        specs = api.get("api/kernelspecs").json()
        assert list(specs["kernelspecs"]) == ["python3"] and specs["default"] == "python3"
        model = api.start_kernel("python3")
        ch = api.channels(model["id"])
        assert ch.execute("1")[0]["status"] == "ok"
        ch.close()
    finally:
        srv.stop()
