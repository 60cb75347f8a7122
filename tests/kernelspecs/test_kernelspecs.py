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
