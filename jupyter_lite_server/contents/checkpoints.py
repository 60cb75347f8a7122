"""File checkpoints, stored where jupyter_server stores them.

One checkpoint per file, id ``checkpoint``, kept as
``<dir>/.ipynb_checkpoints/<name>-checkpoint<ext>`` so that existing
checkpoints of a jupyter_server user are found and kept.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from ..timeutil import iso_from_timestamp
from . import fileio
from .errors import InvalidContent, NotFound

CHECKPOINT_ID = "checkpoint"


class FileCheckpoints:
    directory = ".ipynb_checkpoints"

    def __init__(self, os_path: Callable[..., str]) -> None:
        #: The confined OS path of an API path (``must_exist=False`` for one not yet there).
        self.os_path = os_path

    def _checkpoint_path(self, path: str, os_path: str | None = None) -> str:
        os_path = os_path or self.os_path(path, must_exist=False)
        parent, name = os.path.split(os_path)
        base, ext = os.path.splitext(name)
        return os.path.join(parent, self.directory, f"{base}-{CHECKPOINT_ID}{ext}")

    def _model(self, cp_path: str) -> dict[str, Any]:
        return {"id": CHECKPOINT_ID, "last_modified": iso_from_timestamp(os.stat(cp_path).st_mtime)}

    def _source(self, path: str) -> str:
        os_path = self.os_path(path)
        if os.path.isdir(os_path):
            raise InvalidContent("Directories have no checkpoints")
        return os_path

    def create(self, path: str) -> dict[str, Any]:
        os_path = self._source(path)
        cp_path = self._checkpoint_path(path, os_path)
        os.makedirs(os.path.dirname(cp_path), exist_ok=True)
        fileio.atomic_write(cp_path, fileio.read_bytes(os_path))
        return self._model(cp_path)

    def list(self, path: str) -> list[dict[str, Any]]:
        """A file not saved yet has no checkpoints (200 []), as in jupyter_server:
        JupyterLab asks while it renames a new notebook on its first save."""
        os_path = self.os_path(path, must_exist=False)  # outside the root: NotFound
        if not os.path.lexists(os_path):
            return []
        cp_path = self._checkpoint_path(path, self._source(path))
        return [self._model(cp_path)] if os.path.isfile(cp_path) else []

    def restore(self, path: str, checkpoint_id: str) -> None:
        os_path = self._source(path)
        cp_path = self._checkpoint_path(path, os_path)
        if checkpoint_id != CHECKPOINT_ID or not os.path.isfile(cp_path):
            raise NotFound(f"Checkpoint {checkpoint_id!r} of {path} does not exist")
        fileio.atomic_write(os_path, fileio.read_bytes(cp_path))

    def delete(self, path: str, checkpoint_id: str) -> None:
        cp_path = self._checkpoint_path(path, self._source(path))
        if checkpoint_id != CHECKPOINT_ID or not os.path.isfile(cp_path):
            raise NotFound(f"Checkpoint {checkpoint_id!r} of {path} does not exist")
        os.unlink(cp_path)

    def rename_all(self, old_path: str, new_path: str) -> None:
        old_cp = self._checkpoint_path(old_path)
        if os.path.isfile(old_cp):
            new_cp = self._checkpoint_path(new_path)
            os.makedirs(os.path.dirname(new_cp), exist_ok=True)
            shutil.move(old_cp, new_cp)

    def delete_all(self, path: str) -> None:
        cp_path = self._checkpoint_path(path)
        if os.path.isfile(cp_path):
            os.unlink(cp_path)
