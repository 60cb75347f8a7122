"""Unit tier: API paths are confined to the root, whatever they contain."""

from __future__ import annotations

import os

import pytest

from jupyter_lite_server.contents.paths import PathOutsideRoot, normalize_api_path, to_os_path


@pytest.mark.parametrize(
    "api_path, normal",
    [("", ""), ("/", ""), ("a/b", "a/b"), ("/a//b/", "a/b"), ("./a/./b", "a/b"), ("é/ü", "é/ü")],
)
def test_api_paths_are_normalised(api_path, normal):
    assert normalize_api_path(api_path) == normal


@pytest.mark.parametrize("api_path", ["..", "a/../..", "a/..", "a\\b", "a\x00b", "../etc/passwd"])
def test_escapes_and_malformed_paths_are_refused(api_path):
    with pytest.raises(PathOutsideRoot):
        normalize_api_path(api_path)


def test_os_paths_stay_in_the_root_and_symlinks_out_are_refused(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "out")
    os.symlink(root / "sub", root / "in")
    assert to_os_path("sub", str(root)) == os.path.join(os.path.realpath(root), "sub")
    assert to_os_path("", str(root)) == os.path.realpath(root)
    assert to_os_path("in", str(root)).endswith("in")  # a link inside the root is fine
    with pytest.raises(PathOutsideRoot):
        to_os_path("out", str(root))
    with pytest.raises(PathOutsideRoot):
        to_os_path("out/anything", str(root))
    assert to_os_path("/sub", str(root)) == to_os_path("sub", str(root))  # root-relative
