"""Notebook trust through nbformat's NotebookNotary, interchangeable with jupyter_server's.

Real notary files (secret and signature database) in the test's own Jupyter
data directory; "jupyter_server's side" is nbformat's NotebookNotary on that
same directory, which is what jupyter_server uses.
"""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from jls_client import isolated_env, start_server
from nbformat.sign import NotebookNotary


def html_notebook(trusted: bool | None, text: str = "bold") -> dict:
    """A notebook with HTML output (signatures are of the content: ``text`` varies it)."""
    metadata = {} if trusted is None else {"trusted": trusted}
    return {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{
            "cell_type": "code", "id": "c1", "metadata": metadata, "execution_count": 1,
            "source": f"HTML('<b>{text}</b>')",
            "outputs": [{"output_type": "display_data", "metadata": {},
                         "data": {"text/html": f"<b>{text}</b><script>1</script>"}}],
        }],
    }  # fmt: skip


@pytest.fixture(scope="module", params=["in the server", "in a worker process"])
def place(request, tmp_path_factory):
    """Every notebook read and save happens in the server, or (offload_bytes=0) in a
    worker process, as for large notebooks: the same notary, the same database."""
    base = tmp_path_factory.mktemp("trust")
    env = isolated_env(str(base))
    env["JUPYTER_DATA_DIR"] = str(base / "data")
    os.makedirs(base / "root")
    args = ["--ContentsManager.offload_bytes=0"] if request.param.endswith("process") else []
    server = start_server(str(base / "root"), str(base), *args, env=env)
    yield server, str(base / "data")
    server.stop()


def trusted_cells(api, path: str) -> list:
    model = api.get(f"api/contents/{path}").json()
    return [c["metadata"].get("trusted") for c in model["content"]["cells"]]


def test_a_notebook_the_user_saved_reopens_trusted(place):
    server, _ = place
    api = server.api()
    answer = api.put("api/contents/mine.ipynb",
                     json={"type": "notebook", "content": html_notebook(True)})  # fmt: skip
    assert answer.status_code == 201, answer.text
    with open(os.path.join(server.root, "mine.ipynb")) as f:
        on_disk = json.load(f)
    assert "trusted" not in on_disk["cells"][0]["metadata"]  # transient, as nbformat writes
    assert "signature" not in on_disk["metadata"]  # kept in the database, not the file
    assert trusted_cells(api, "mine.ipynb") == [True]


def test_a_notebook_written_by_someone_else_opens_untrusted_until_trusted(place):
    server, _ = place
    api = server.api()
    with open(os.path.join(server.root, "theirs.ipynb"), "w") as f:
        json.dump(html_notebook(None, "theirs"), f)
    assert trusted_cells(api, "theirs.ipynb") == [False]
    # Saving it back without the user's trust keeps it untrusted.
    content = api.get("api/contents/theirs.ipynb").json()["content"]
    assert api.put("api/contents/theirs.ipynb",
                   json={"type": "notebook", "content": content}).status_code == 200  # fmt: skip
    assert trusted_cells(api, "theirs.ipynb") == [False]
    assert api.post("api/contents/theirs.ipynb/trust").status_code == 201
    assert trusted_cells(api, "theirs.ipynb") == [True]
    assert api.post("api/contents/missing.ipynb/trust").status_code == 404


def test_trust_is_shared_with_jupyter_servers_notary_both_ways(place):
    server, data_dir = place
    api = server.api()
    # Signed "by jupyter_server": the notary on the same data directory.
    path = os.path.join(server.root, "signed-there.ipynb")
    nb = nbformat.from_dict(html_notebook(None, "there"))
    with NotebookNotary(data_dir=data_dir) as notary:
        notary.sign(nb)
    nbformat.write(nb, path)
    assert trusted_cells(api, "signed-there.ipynb") == [True]
    # Saved here: trusted there.
    api.put("api/contents/saved-here.ipynb",
            json={"type": "notebook", "content": html_notebook(True, "here")})  # fmt: skip
    with NotebookNotary(data_dir=data_dir) as notary:
        reread = nbformat.read(os.path.join(server.root, "saved-here.ipynb"), as_version=4)
        assert notary.check_signature(reread)
    assert os.path.exists(os.path.join(data_dir, "notebook_secret"))
    assert os.path.exists(os.path.join(data_dir, "nbsignatures.db"))
