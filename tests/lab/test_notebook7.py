"""Jupyter Notebook 7's pages over HTTP: which page each route serves, redirects, login."""

from __future__ import annotations

import json
import os
import re

import pytest
import requests


@pytest.fixture(scope="module")
def files(server):
    os.makedirs(os.path.join(server.root, "nb7", "sub"), exist_ok=True)
    with open(os.path.join(server.root, "nb7", "a.ipynb"), "w") as f:
        json.dump({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}, f)
    with open(os.path.join(server.root, "nb7", "notes.txt"), "w") as f:
        f.write("text")
    return server


def config(page: requests.Response) -> dict:
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page.text, re.S)  # fmt: skip
    assert found, page.text[:300]
    return json.loads(found.group(1))


@pytest.mark.parametrize(
    "url, page_name",
    [("tree", "tree"), ("tree/nb7/sub", "tree"), ("notebooks/nb7/a.ipynb", "notebooks"),
     ("edit/nb7/notes.txt", "edit"), ("consoles/nb7/a.ipynb", "consoles"),
     ("terminals/1", "terminals")],
)
def test_each_route_serves_its_notebook_7_page(files, url, page_name):
    page = files.api().get(url)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    settings = config(page)
    assert settings["notebookPage"] == page_name
    assert settings["appName"] == "Jupyter Notebook"
    assert settings["fullStaticUrl"].endswith("/static/notebook")
    assert settings["terminalsAvailable"] is True
    script = re.search(r'src="/?(static/notebook/main\.[^"]+)"', page.text).group(1)
    assert files.api().get(script).status_code == 200
    if url == "tree/nb7/sub":
        assert settings["treePath"] == "nb7/sub"


def test_tree_redirects_files_and_refuses_missing_paths(files):
    api = files.api()
    notebook = api.get("tree/nb7/a.ipynb", allow_redirects=False)
    assert notebook.status_code == 302 and notebook.headers["Location"].endswith(
        "/notebooks/nb7/a.ipynb")  # fmt: skip
    text = api.get("tree/nb7/notes.txt", allow_redirects=False)
    assert text.headers["Location"].endswith("/files/nb7/notes.txt")
    folder = api.get("notebooks/nb7/sub", allow_redirects=False)
    assert folder.headers["Location"].endswith("/tree/nb7/sub")
    assert api.get("tree/no/such/folder").status_code == 404
    assert api.get("tree/../../etc").status_code in (403, 404)


def test_pages_send_a_browser_without_a_login_to_the_login_page(files):
    page = requests.get(files.url + "tree", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and "/login?next=" in page.headers["Location"]
