"""Export with nbconvert: formats, downloads, models, missing tools, and no stalled server."""

from __future__ import annotations

import base64
import json
import os
import threading
import time

import pytest
from jls_client import start_server_in

PNG = base64.b64encode(
    bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                  "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
).decode()  # fmt: skip


def notebook(text: str = "forty-two", image: bool = False) -> dict:
    outputs = [{"output_type": "stream", "name": "stdout", "text": f"{text}\n"}]
    if image:
        outputs.append({"output_type": "display_data", "metadata": {},
                        "data": {"image/png": PNG, "text/plain": "<Figure>"}})  # fmt: skip
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": "# Report"},
        {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1,
         "source": f"print('{text}')", "outputs": outputs},
    ]}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server_in(tmp_path_factory.mktemp("export"))
    with open(os.path.join(srv.root, "report.ipynb"), "w") as f:
        json.dump(notebook(), f)
    with open(os.path.join(srv.root, "plot.ipynb"), "w") as f:
        json.dump(notebook("with a plot", image=True), f)
    with open(os.path.join(srv.root, "plain.txt"), "w") as f:
        f.write("not a notebook")
    yield srv
    srv.stop()


def test_the_formats_are_listed_with_their_mimetypes(server):
    formats = server.api().get("api/nbconvert").json()
    assert formats["html"] == {"output_mimetype": "text/html"}
    assert formats["python"]["output_mimetype"] == "text/x-python"
    assert {"markdown", "pdf", "webpdf", "latex", "notebook", "python", "slides"} <= set(formats)


def test_a_notebook_exported_as_html_and_downloaded(server):
    api = server.api()
    shown = api.get("nbconvert/html/report.ipynb")
    assert shown.status_code == 200
    assert shown.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "forty-two" in shown.text and "<h1" in shown.text
    assert "sandbox" in shown.headers["Content-Security-Policy"]
    assert "Content-Disposition" not in shown.headers
    download = api.get("nbconvert/html/report.ipynb?download=true")
    assert download.headers["Content-Disposition"] == "attachment; filename*=UTF-8''report.html"


def test_outputs_with_files_come_as_a_zip(server):
    import io
    import zipfile

    answer = server.api().get("nbconvert/markdown/plot.ipynb?download=true")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    names = archive.namelist()
    assert "plot.md" in names and any(n.endswith(".png") for n in names)
    assert "with a plot" in archive.read("plot.md").decode()


def test_a_model_sent_in_the_body_is_converted(server):
    answer = server.api().post("nbconvert/script",
                               json={"name": "sent.ipynb", "content": notebook("posted")})
    assert answer.status_code == 200, answer.text
    assert "print('posted')" in answer.text
    assert server.api().post("nbconvert/script", json={"content": 3}).status_code == 400


def test_mistakes_and_missing_tools_are_json_errors(server):
    api = server.api()
    unknown = api.get("nbconvert/no-such-format/report.ipynb")
    assert unknown.status_code == 404 and "no-such-format" in unknown.json()["message"]
    assert api.get("nbconvert/html/missing.ipynb").status_code == 404
    plain = api.get("nbconvert/html/plain.txt", allow_redirects=False)
    assert plain.status_code == 302 and plain.headers["Location"].endswith("/files/plain.txt")
    pdf = api.get("nbconvert/pdf/report.ipynb")  # no LaTeX on this machine
    assert pdf.headers["Content-Type"].startswith("application/json"), pdf.text[:200]
    assert any(tool in pdf.json()["message"].lower() for tool in ("pandoc", "xelatex"))
    assert "Traceback" not in server.log_text()


@pytest.mark.slow
def test_a_5_mb_export_never_stalls_the_server(server):
    big = notebook()
    big["cells"][1]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": f"line {i} " + "x" * 1000 + "\n"}
        for i in range(5_000)
    ]  # 5 MB of output: seconds of nbconvert (its stall figures: benchmarks/scale.py)
    with open(os.path.join(server.root, "big.ipynb"), "w") as f:
        json.dump(big, f)
    api = server.api()
    result = {}
    exporting = threading.Thread(
        target=lambda: result.setdefault("answer", api.get("nbconvert/html/big.ipynb"))
    )
    exporting.start()
    worst = 0.0
    polls = 0
    while exporting.is_alive():
        started = time.monotonic()
        assert api.get("api/status").status_code == 200
        worst = max(worst, time.monotonic() - started)
        polls += 1
        time.sleep(0.02)
    exporting.join()
    assert result["answer"].status_code == 200 and "line 4999" in result["answer"].text
    assert polls > 10  # the export took a while, and the server answered throughout
    assert worst < 0.1, f"GET /api/status took {worst * 1000:.0f} ms during the export"


def test_the_export_worker_ends_with_the_server(tmp_path):
    from jls_client import child_pids, wait_gone

    srv = start_server_in(tmp_path)
    try:
        assert srv.api().get("api/nbconvert").status_code == 200  # starts the worker
        workers = child_pids(srv.proc.pid)
        assert workers, "the export worker is a child process of the server"
    finally:
        assert srv.stop() == 0
    assert all(wait_gone(pid) for pid in workers)


def test_the_export_worker_ends_when_the_server_is_killed(tmp_path):
    """A crash too: a kept worker waits on a pipe whose other end it holds as well, so
    it must watch for the server's end itself."""
    import signal

    from jls_client import child_pids, wait_gone

    srv = start_server_in(tmp_path)
    try:
        assert srv.api().get("api/nbconvert").status_code == 200  # starts the worker
        workers = child_pids(srv.proc.pid)
        assert workers
    finally:
        srv.stop(signal.SIGKILL)
    assert all(wait_gone(pid, timeout=10) for pid in workers)
