"""Deleting from the file browser: to the trash (send2trash), or for good when configured.

A real freedesktop.org trash: the test's own XDG_DATA_HOME (isolated_env).
"""

from __future__ import annotations

import os

from jls_client import module_server, start_server_in


def write(root: str, path: str, text: str = "x") -> None:
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def trash_of(server) -> str:
    return os.path.join(os.path.dirname(server.root), "xdg-data", "Trash")


server = module_server("trash")


def test_a_folder_with_files_goes_to_the_trash_whole(server):
    write(server.root, "project/data/table.csv", "a,b\n")
    write(server.root, "project/notes.txt", "keep me")
    api = server.api()
    assert api.delete("api/contents/project").status_code == 204
    assert "project" not in [e["name"] for e in api.get("api/contents").json()["content"]]
    trashed = os.path.join(trash_of(server), "files", "project")
    with open(os.path.join(trashed, "notes.txt")) as f:
        assert f.read() == "keep me"
    assert os.path.exists(os.path.join(trashed, "data", "table.csv"))
    with open(os.path.join(trash_of(server), "info", "project.trashinfo")) as f:
        assert f"Path={os.path.join(os.path.realpath(server.root), 'project')}" in f.read()


def test_a_deleted_file_and_its_checkpoint(server):
    write(server.root, "draft.txt", "v1")
    api = server.api()
    assert api.post("api/contents/draft.txt/checkpoints").status_code == 201
    assert api.delete("api/contents/draft.txt").status_code == 204
    assert os.path.exists(os.path.join(trash_of(server), "files", "draft.txt"))
    assert not os.path.exists(os.path.join(server.root, ".ipynb_checkpoints",
                                           "draft-checkpoint.txt"))  # fmt: skip


def test_a_symlink_to_outside_the_root_goes_but_its_target_stays(server, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "file.txt").write_text("untouched")
    os.symlink(target, os.path.join(server.root, "link-out"))
    os.makedirs(os.path.join(server.root, "inside"))
    os.symlink(os.path.join(server.root, "inside"), os.path.join(server.root, "link-in"))
    api = server.api()
    assert api.delete("api/contents/link-out").status_code == 404  # not ours to show
    assert api.delete("api/contents/link-in").status_code == 204
    assert not os.path.lexists(os.path.join(server.root, "link-in"))
    assert os.path.isdir(os.path.join(server.root, "inside"))  # the link went, not its target
    assert (target / "file.txt").read_text() == "untouched"


def test_a_trash_that_cannot_be_used_is_a_clear_error(tmp_path):
    srv = start_server_in(tmp_path)
    try:
        os.makedirs(os.path.dirname(trash_of(srv)), exist_ok=True)
        with open(trash_of(srv), "w") as f:  # a file where the trash folder must go
            f.write("not a folder")
        write(srv.root, "doomed.txt")
        answer = srv.api().delete("api/contents/doomed.txt")
        assert answer.status_code == 400, answer.text
        assert "trash" in answer.json()["message"] and "delete_to_trash" in answer.json()["message"]
        assert os.path.exists(os.path.join(srv.root, "doomed.txt"))  # nothing lost
    finally:
        srv.stop()


def test_without_the_trash_deletes_are_for_good_and_full_folders_need_always_delete_dir(
    tmp_path,
):
    srv = start_server_in(tmp_path, "--ContentsManager.delete_to_trash=False")
    try:
        api = srv.api()
        write(srv.root, "full/g.txt")
        answer = api.delete("api/contents/full")
        assert answer.status_code == 400 and "not empty" in answer.json()["message"]
        write(srv.root, "f.txt")
        assert api.delete("api/contents/f.txt").status_code == 204
        assert not os.path.exists(trash_of(srv))
    finally:
        srv.stop()
    srv = start_server_in(tmp_path / "again", "--ContentsManager.delete_to_trash=False",
                          "--ContentsManager.always_delete_dir=True")  # fmt: skip
    try:
        write(srv.root, "full/g.txt")
        assert srv.api().delete("api/contents/full").status_code == 204
        assert not os.path.exists(os.path.join(srv.root, "full"))
    finally:
        srv.stop()
