"""/api/kernelspecs and kernelspec resources."""


def test_kernelspecs_model(api):
    body = api.get("api/kernelspecs").json()
    assert body["default"] == "python3"
    py = body["kernelspecs"]["python3"]
    assert py["name"] == "python3"
    assert {"argv", "display_name", "language", "interrupt_mode", "env", "metadata"} <= set(
        py["spec"]
    )
    assert py["spec"]["language"] == "python"
    assert py["resources"]["logo-64x64"].endswith("/kernelspecs/python3/logo-64x64.png")


def test_single_kernelspec_and_unknown(api):
    assert api.get("api/kernelspecs/python3").json()["name"] == "python3"
    r = api.get("api/kernelspecs/nope")
    assert r.status_code == 404 and "nope" in r.json()["message"]


def test_logo_is_served_as_png(api):
    url = api.get("api/kernelspecs").json()["kernelspecs"]["python3"]["resources"]["logo-64x64"]
    r = api.get(url.lstrip("/"))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert api.get("kernelspecs/python3/missing.png").status_code == 404
    assert api.get("kernelspecs/nope/logo-64x64.png").status_code == 404


def test_newly_installed_kernelspec_appears_and_removed_one_goes(tmp_path):
    """The listing is cached, but a change on disk shows up within a second or two."""
    import json
    import os
    import shutil
    import sys
    import time

    from jls_client import isolated_env, start_server

    data = tmp_path / "data"
    (data / "kernels").mkdir(parents=True)
    env = isolated_env(str(tmp_path))
    env["JUPYTER_PATH"] = str(data)
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(str(root), str(tmp_path), env=env)
    try:
        api = srv.api()
        assert "late" not in api.get("api/kernelspecs").json()["kernelspecs"]
        spec_dir = data / "kernels" / "late"
        spec_dir.mkdir()
        (spec_dir / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Late",
                    "language": "python",
                }
            )
        )
        deadline = time.monotonic() + 10
        while "late" not in api.get("api/kernelspecs").json()["kernelspecs"]:
            assert time.monotonic() < deadline, "new kernelspec never listed"
            time.sleep(0.2)
        shutil.rmtree(spec_dir)
        while "late" in api.get("api/kernelspecs").json()["kernelspecs"]:
            assert time.monotonic() < deadline + 10, "removed kernelspec still listed"
            time.sleep(0.2)
        assert os.path.exists(root)
    finally:
        srv.stop()


def test_a_kernelspec_in_the_ipython_dir_is_listed_and_runs(tmp_path):
    """jupyter_client also searches ``$IPYTHONDIR/kernels``: so do we, without importing
    IPython into the server to learn that directory (22 MB there: benchmarks/scale.py)."""
    import json
    import sys

    from jls_client import isolated_env, start_server

    env = isolated_env(str(tmp_path))
    spec_dir = tmp_path / "ipython" / "kernels" / "from-ipython-dir"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "From IPYTHONDIR", "language": "python"}))  # fmt: skip
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(str(root), str(tmp_path), env=env)
    try:
        api = srv.api()
        specs = api.get("api/kernelspecs").json()["kernelspecs"]
        assert specs["from-ipython-dir"]["spec"]["display_name"] == "From IPYTHONDIR"
        kernel = api.start_kernel("from-ipython-dir")
        channel = api.channels(kernel["id"])
        reply, _ = channel.execute("1")
        assert reply["status"] == "ok"
        channel.close()
    finally:
        srv.stop()
