"""The endpoints JupyterLab's front end calls, served natively (jupyterlab is installed)."""

import json
import re
import uuid

import requests
import websocket


def page_config(server, session):
    page = session.get(server.url + "lab", timeout=30)
    assert page.status_code == 200
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page.text, re.S)  # fmt: skip
    return json.loads(found.group(1))


def logged_in(server):
    session = requests.Session()
    assert session.get(server.url + f"?token={server.token}", timeout=30).status_code == 200
    return session


def test_root_redirects_to_lab_and_lab_without_login_goes_to_login(server):
    response = requests.get(server.url, allow_redirects=False, timeout=30)
    assert response.status_code == 302 and response.headers["Location"].endswith("/lab")
    response = requests.get(server.url + "lab", allow_redirects=False, timeout=30)
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_page_config_lists_urls_and_prebuilt_extensions_that_load(server):
    session = logged_in(server)
    config = page_config(server, session)
    assert config["baseUrl"] == "/" and config["appVersion"].startswith("4.")
    assert config["fullStaticUrl"] == "/static/lab"
    names = [ext["name"] for ext in config["federated_extensions"]]
    assert "jupyterlab_pygments" in names  # installed with jupyterlab, as pip extensions are
    ext = config["federated_extensions"][names.index("jupyterlab_pygments")]
    entry = session.get(server.url + f"lab/extensions/{ext['name']}/{ext['load']}", timeout=30)
    assert entry.status_code == 200 and "javascript" in entry.headers["Content-Type"]
    main = re.search(r'src="(/static/lab/main\.[0-9a-f]+\.js)', session.get(
        server.url + "lab", timeout=30).text).group(1)  # fmt: skip
    asset = requests.get(server.url + main.lstrip("/"), timeout=30)  # public, no cookie needed
    assert asset.status_code == 200 and "immutable" in asset.headers["Cache-Control"]


def test_the_collaboration_front_end_loads_only_with_collaboration_on(server, tmp_path):
    """With the rtc extra (a test dependency) the docprovider loads, the plugins it replaces
    are disabled as jupyterlab_server would, and so is the timeline jls does not serve;
    with --no-collaboration none of it is in the page."""
    from jls_client import start_server_in

    config = page_config(server, logged_in(server))
    names = [ext["name"] for ext in config["federated_extensions"]]
    assert "@jupyter/docprovider-extension" in names and config["disableRTC"] is False
    assert "@jupyterlab/notebook-extension:cell-executor" in config["disabledExtensions"]
    assert "@jupyter/docprovider-extension:statusBarTimeline" in config["disabledExtensions"]
    off = start_server_in(tmp_path, "--no-collaboration")
    try:
        config = page_config(off, logged_in(off))
        names = [ext["name"] for ext in config["federated_extensions"]]
        assert not [name for name in names if name.startswith("@jupyter/")]
        assert config["disabledExtensions"] == [] and config["disableRTC"] is True
        session = off.api().put("api/collaboration/session/x.ipynb",
                                json={"format": "json", "type": "notebook"})  # fmt: skip
        assert session.status_code == 404
    finally:
        off.stop()


def test_settings_round_trip_with_comments_and_bad_input_refused(api):
    listing = api.get("lab/api/settings/").json()["settings"]
    ids = [entry["id"] for entry in listing]
    assert "@jupyterlab/notebook-extension:tracker" in ids
    plugin = "lab/api/settings/@jupyterlab/apputils-extension:themes"
    raw = '{\n  // dark, please\n  "theme": "JupyterLab Dark",\n}'
    assert api.put(plugin, json={"raw": raw}).status_code == 204
    stored = api.get(plugin).json()
    assert stored["raw"] == raw and stored["settings"] == {"theme": "JupyterLab Dark"}
    assert api.put(plugin, json={"raw": "{not json"}).status_code == 400
    assert api.put(plugin, json={"raw": 3}).status_code == 400
    assert api.get("lab/api/settings/@nobody/nothing:plugin").status_code == 404
    assert api.put("lab/api/settings/@nobody/nothing:plugin", json={"raw": "{}"}).status_code == 404


def test_workspaces_translations_config_and_constant_endpoints(api):
    space = {"data": {"layout-restorer:data": {"main": {}}}, "metadata": {"id": "mine"}}
    assert api.put("lab/api/workspaces/mine", json=space).status_code == 204
    assert api.get("lab/api/workspaces/mine").json()["data"] == space["data"]
    assert "mine" in api.get("lab/api/workspaces/").json()["workspaces"]["ids"]
    assert api.delete("lab/api/workspaces/mine").status_code == 204
    assert api.delete("lab/api/workspaces/mine").status_code == 404
    assert api.get("lab/api/workspaces/new-one").json()["metadata"]["id"] == "new-one"
    assert "en" in api.get("lab/api/translations/").json()["data"]
    assert api.get("lab/api/translations/en").json() == {"data": {}, "message": ""}
    assert api.patch("api/config/notebook", json={"a": {"b": 1}}).json() == {"a": {"b": 1}}
    assert api.patch("api/config/notebook", json={"a": {"c": 2}}).json() == {"a": {"b": 1, "c": 2}}
    assert api.get("api/config/notebook").json() == {"a": {"b": 1, "c": 2}}
    assert api.get("api/nbconvert").status_code == 200
    assert api.get("lsp/status").json()["sessions"] == {}
    assert api.get("lab/api/themes/@jupyterlab/theme-light-extension/index.css").status_code == 200


def test_events_websocket_opens_with_credentials_only(server):
    url = server.url.replace("http", "ws") + "api/events/subscribe"
    ws = websocket.create_connection(url, header=[f"Authorization: token {server.token}"],
                                     timeout=10)  # fmt: skip
    ws.close()
    try:
        websocket.create_connection(url + f"?x={uuid.uuid4().hex}", timeout=10)
    except websocket.WebSocketBadStatusException as exc:
        assert exc.status_code == 403
    else:
        raise AssertionError("events websocket opened without credentials")


def test_lab_apis_need_credentials(server):
    for path in ("lab/api/settings/", "lab/api/workspaces/", "api/config/notebook",
                 "lab/api/themes/@jupyterlab/theme-light-extension/index.css"):  # fmt: skip
        assert requests.get(server.url + path, timeout=30).status_code == 403, path
