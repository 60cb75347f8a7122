"""Browsers ask every page's /favicon.ico, the login page's too: it is there, for anyone."""

from __future__ import annotations

import requests
from jls_client import start_server_in


def test_favicon_is_served_without_a_token(tmp_path):
    srv = start_server_in(tmp_path)
    try:
        answer = requests.get(srv.url + "favicon.ico", timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "image/x-icon"
        assert answer.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    finally:
        srv.stop()
