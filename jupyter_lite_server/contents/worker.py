"""What a worker process does for a large contents request (service/worker_pool.py).

The functions take plain settings and bytes and return bytes or small models:
the server process never parses or serializes the large document itself. They
run the very code the server runs for small files (ContentsManager._get/_save,
the same nbformat notary on the same signature database).
"""

from __future__ import annotations

from typing import Any

import nbformat  # imported once in the forkserver, not in every worker
import nbformat.sign

from .bodies import apply_metadata, dumps_model, save_request
from .manager import ContentsManager
from .trust import NotebookTrust

nbformat.validator.get_validator()  # the schema too


def _manager(settings: dict[str, Any]) -> ContentsManager:
    manager = ContentsManager(root_dir=settings["root_dir"], allow_hidden=settings["allow_hidden"])
    manager.trust = NotebookTrust(**settings["notary"])
    return manager


def get_json(
    settings: dict[str, Any], out_path: str, path: str, content: bool, kind: str | None,
    fmt: str | None, want_hash: bool,
) -> None:  # fmt: skip
    """Write the model of ``path``, as the JSON the handler sends, to ``out_path``."""
    manager = _manager(settings)
    model = manager._get(path, content, kind, fmt, want_hash)
    if model["type"] == "notebook" and model.get("content") is not None:
        manager.trust._mark(model["content"], model["path"])
    with open(out_path, "wb") as f:
        f.write(dumps_model(model))


def save_body(
    settings: dict[str, Any], body_path: str, path: str, metadata: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Parse a PUT body (in ``body_path``), sign if trusted, validate and write:
    (model, created)."""
    manager = _manager(settings)
    with open(body_path, "rb") as f:
        model = save_request(f.read())
    apply_metadata(model, metadata)
    manager.trust.sign_for_save(model, path)
    return manager._save(model, path)
