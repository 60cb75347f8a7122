import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from jls_client import Server, isolated_env, start_server


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("jls"))


@pytest.fixture(scope="module")
def server(workdir) -> Server:
    """One real `jls serve` per test module, in an isolated Jupyter environment."""
    root = os.path.join(workdir, "root")
    os.makedirs(root, exist_ok=True)
    srv = start_server(root, workdir)
    yield srv
    srv.stop()


@pytest.fixture
def api(server):
    return server.api()


@pytest.fixture
def jupyter_env(workdir):
    return isolated_env(workdir)


@pytest.fixture(scope="module")
def kernel(server):
    """One real kernel shared by the tests of a module."""
    api = server.api()
    model = api.start_kernel()
    yield model
    api.delete(f"api/kernels/{model['id']}")
