"""Unit tier: the warm pool's configuration check and the code that adapts a kernel."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jupyter_lite_server.kernels.pool import (
    MAX_POOL_SIZE,
    PoolConfigError,
    adaptation_code,
    validate_pool,
)


def test_pool_sizes_are_whole_numbers_within_reason():
    assert validate_pool({"python3": 2, "other": 0}) == {"python3": 2}
    for bad in (-1, True, 1.5, "2", MAX_POOL_SIZE + 1):
        with pytest.raises(PoolConfigError, match="python3"):
            validate_pool({"python3": bad})


def test_adaptation_moves_a_python_process_to_the_directory_and_environment(tmp_path):
    weird = tmp_path / "dir with 'quotes' and \"more\""
    weird.mkdir()
    env = {"JPY_SESSION_NAME": "notebook é.ipynb", "OTHER": "x\ny"}
    probe = (
        adaptation_code(str(weird), env)
        + "\nimport os, json\nprint(json.dumps([os.getcwd(), os.environ['OTHER'], __session__,"
        " '_jls_os' in globals()]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    cwd, other, session, leaked = json.loads(out.stdout)
    assert (cwd, other, session, leaked) == (str(weird), "x\ny", "notebook é.ipynb", False)
