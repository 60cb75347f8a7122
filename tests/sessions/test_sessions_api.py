"""/api/sessions: the create and delete workflows with real kernels and SQLite."""

import os
import sqlite3

import pytest
from jls_client import isolated_env, kernel_pid, run_jls, start_server, stream_text, wait_gone

SESSION_KEYS = {"id", "path", "name", "type", "kernel", "notebook"}


def create(api, path, **extra):
    body = {
        "path": path,
        "name": os.path.basename(path),
        "type": "notebook",
        "kernel": {"name": "python3"},
        **extra,
    }
    r = api.post("api/sessions", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_full_workflow_create_execute_rename_change_kernel_delete(api, server):
    os.makedirs(os.path.join(server.root, "work"), exist_ok=True)
    session = create(api, "work/analysis.ipynb")
    assert set(session) == SESSION_KEYS
    assert session["notebook"] == {"path": "work/analysis.ipynb", "name": "analysis.ipynb"}
    assert session["kernel"]["name"] == "python3"
    ch = api.channels(session["kernel"]["id"])
    _, iopub = ch.execute("import os; print(os.getcwd()); print(os.environ['JPY_SESSION_NAME'])")
    cwd, session_name = stream_text(iopub).split()
    assert os.path.realpath(cwd) == os.path.realpath(os.path.join(server.root, "work"))
    assert session_name.endswith("work/analysis.ipynb")
    first_pid = kernel_pid(ch)
    ch.close()

    renamed = api.patch(
        f"api/sessions/{session['id']}",
        json={"path": "work/renamed.ipynb", "name": "renamed.ipynb"},
    )
    assert renamed.status_code == 200
    assert renamed.json()["path"] == "work/renamed.ipynb"
    assert renamed.json()["kernel"]["id"] == session["kernel"]["id"]

    changed = api.patch(f"api/sessions/{session['id']}", json={"kernel": {"name": "python3"}})
    assert changed.status_code == 200
    new_kernel = changed.json()["kernel"]["id"]
    assert new_kernel != session["kernel"]["id"]
    assert wait_gone(first_pid, 10), "old kernel not shut down after the kernel change"
    assert api.get(f"api/kernels/{session['kernel']['id']}").status_code == 404
    ch = api.channels(new_kernel)
    second_pid = kernel_pid(ch)
    ch.close()

    assert api.delete(f"api/sessions/{session['id']}").status_code == 204
    assert wait_gone(second_pid, 10), "kernel still running after DELETE session"
    assert api.get(f"api/sessions/{session['id']}").status_code == 404
    assert api.get(f"api/kernels/{new_kernel}").status_code == 404
    assert api.get("api/sessions").json() == []


def test_second_post_for_same_path_returns_same_session(api):
    first = create(api, "same.ipynb")
    second = create(api, "same.ipynb")
    assert second["id"] == first["id"] and second["kernel"]["id"] == first["kernel"]["id"]
    assert len(api.get("api/sessions").json()) == 1
    api.delete(f"api/sessions/{first['id']}")


def test_attach_to_existing_kernel_and_switch(api):
    kernel = api.start_kernel()
    session = create(api, "attach.ipynb", kernel={"id": kernel["id"]})
    assert session["kernel"]["id"] == kernel["id"]
    other = api.start_kernel()
    switched = api.patch(f"api/sessions/{session['id']}", json={"kernel": {"id": other["id"]}})
    assert switched.json()["kernel"]["id"] == other["id"]
    assert api.get(f"api/kernels/{kernel['id']}").status_code == 404  # no longer used: stopped
    api.delete(f"api/sessions/{session['id']}")
    assert api.get(f"api/kernels/{other['id']}").status_code == 404


def test_session_with_kernel_deleted_elsewhere_disappears(api):
    session = create(api, "orphan.ipynb")
    assert api.delete(f"api/kernels/{session['kernel']['id']}").status_code == 204
    assert api.get("api/sessions").json() == []
    assert api.get(f"api/sessions/{session['id']}").status_code == 404


def test_legacy_notebook_field_and_type_inference(api):
    r = api.post(
        "api/sessions", json={"notebook": {"path": "legacy.ipynb"}, "kernel": {"name": "python3"}}
    )
    assert r.status_code == 201 and r.json()["type"] == "notebook"
    api.delete(f"api/sessions/{r.json()['id']}")
    r = api.post(
        "api/sessions",
        json={"path": "console-1", "type": "console", "name": "", "kernel": {"name": "python3"}},
    )
    assert r.status_code == 201 and "notebook" not in r.json()
    api.delete(f"api/sessions/{r.json()['id']}")


@pytest.mark.parametrize(
    "body,status",
    [
        ({}, 400),
        ({"path": "x.txt"}, 400),  # no type, not a notebook
        ({"path": "x.ipynb", "kernel": {"name": "no-such-kernel"}}, 400),
        ({"path": "x.ipynb", "kernel": {"id": "00000000-0000-0000-0000-000000000000"}}, 400),
        ({"path": "x.ipynb", "kernel": "python3"}, 400),
        ({"path": 5, "type": "notebook"}, 400),
    ],
)
def test_bad_session_requests(api, body, status):
    r = api.post("api/sessions", json=body)
    assert r.status_code == status and r.json()["message"]
    assert api.get("api/sessions").json() == []
    assert api.get("api/kernels").json() == []


def test_unknown_and_malformed(api):
    missing = "api/sessions/00000000-0000-0000-0000-000000000000"
    assert api.get(missing).status_code == 404
    assert api.delete(missing).status_code == 404
    assert api.patch(missing, json={"name": "x"}).status_code == 404
    assert api.post("api/sessions", data=b"{oops").status_code == 400


@pytest.fixture
def file_db_server(tmp_path):
    db = tmp_path / "sessions.db"
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(str(root), str(tmp_path), "--sessions-db", str(db))
    yield srv, db
    srv.stop()


def test_sessions_database_on_file(file_db_server):
    srv, db = file_db_server
    api = srv.api()
    session = create(api, "persisted.ipynb")
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT session_id, path, kernel_id FROM session").fetchall()
    assert rows == [(session["id"], "persisted.ipynb", session["kernel"]["id"])]
    api.delete(f"api/sessions/{session['id']}")
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM session").fetchone() == (0,)


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, "foreign"])
def test_unusable_database_is_a_clear_startup_error(tmp_path, content):
    db = tmp_path / "bad.db"
    if content == "foreign":
        with sqlite3.connect(db) as connection:
            connection.execute("CREATE TABLE session (x INTEGER)")
    else:
        db.write_bytes(content)
    before = db.read_bytes()
    result = run_jls(
        "serve",
        "--port",
        "0",
        "--root",
        str(tmp_path),
        "--sessions-db",
        str(db),
        env=isolated_env(str(tmp_path)),
    )
    assert result.returncode != 0
    assert str(db) in result.stderr
    assert db.read_bytes() == before  # nothing deleted or rewritten


def test_a_database_locked_by_another_program_is_a_clear_startup_error(tmp_path):
    db = tmp_path / "locked.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE unrelated (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run_jls(
            "serve", "--port", "0", "--root", str(tmp_path), "--sessions-db", str(db),
            env=isolated_env(str(tmp_path)),
        )  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert str(db) in result.stderr and "locked" in result.stderr
    with sqlite3.connect(db) as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master")]
    assert tables == ["unrelated"], "the locked database was changed"
