"""Bad JSON of any shape is a 400 naming the problem, and a failed create leaves nothing.

Deep nesting (RecursionError in the parser) and lone surrogates (text that cannot be
stored as UTF-8) used to be 500s; a session created with such a name left its kernel
running with no session.
"""

from __future__ import annotations

import json

import pytest
from jls_client import module_server, stream_text

DEEP = "[" * 100_000 + "]" * 100_000


server = module_server("json")


def session_body(name_json: str) -> str:
    return (
        '{"path": "n.ipynb", "type": "notebook", "kernel": {"name": "python3"}, '
        f'"name": {name_json}}}'
    )


@pytest.mark.parametrize(
    "method, path, body, said",
    [
        ("POST", "api/sessions", session_body(DEEP), "nested too deeply"),
        ("POST", "api/sessions", session_body('"\\ud800"'), "lone surrogate"),
        ("POST", "api/kernels", '{"name": ' + DEEP + "}", "nested too deeply"),
        ("PUT", "api/contents/t.txt",
         '{"type": "file", "format": "text", "content": "x\\udfffy"}', "lone surrogate"),
        ("PATCH", "api/contents/t.txt", '{"path": ' + DEEP + "}", "nested too deeply"),
    ],
    ids=["deep-session", "surrogate-session", "deep-kernel", "surrogate-file", "deep-rename"],
)  # fmt: skip
def test_bad_json_is_a_400_and_starts_or_writes_nothing(server, method, path, body, said):
    api = server.api()
    headers = {"Content-Type": "application/json"}
    answer = api.request(method, path, data=body.encode(), headers=headers)
    assert answer.status_code == 400, answer.text
    assert said in answer.json()["message"] and answer.json()["reason"] == "Bad Request"
    assert api.get("api/kernels").json() == []
    assert api.get("api/sessions").json() == []
    assert api.get("api/contents/t.txt").status_code == 404


def test_a_valid_surrogate_pair_is_text(server):
    api = server.api()
    body = '{"type": "file", "format": "text", "content": "smile \\ud83d\\ude00"}'
    assert api.put("api/contents/pair.txt", data=body.encode()).status_code == 201
    assert api.get("api/contents/pair.txt").json()["content"] == "smile \U0001f600"


def test_a_deeply_nested_notebook_file_is_a_400_not_a_500(server):
    with open(f"{server.root}/deep.ipynb", "w") as f:
        f.write('{"nbformat": 4, "cells": ' + DEEP + "}")
    answer = server.api().get("api/contents/deep.ipynb")
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["message"]


def test_a_deeply_nested_websocket_frame_is_dropped_and_the_kernel_still_answers(server):
    api = server.api()
    kernel = api.start_kernel()
    channel = api.channels(kernel["id"])
    channel.ws.send('{"channel": "shell", "header": ' + DEEP + "}")
    assert stream_text(channel.execute("print('still here')")[1]) == "still here\n"
    channel.close()
    api.delete(f"api/kernels/{kernel['id']}")
    assert "nested too deeply" in server.log_text()
    assert json.loads('"ok"') == "ok"
