"""ContentsManager: files, directories and notebooks under the root directory.

Models are jupyter_server's: ``{name, path, type, format, mimetype, content,
writable, created, last_modified, size, hash, hash_algorithm}``. All file
system work runs in an executor so a large listing or file never blocks the
event loop. Paths are confined to the root (see paths.py); hidden files are
invisible unless ``allow_hidden``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import stat
from collections.abc import Awaitable, Callable
from typing import Any

from traitlets import Bool, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from ..timeutil import iso_from_timestamp
from . import fileio, models
from .bodies import Spooled, apply_metadata, dumps_model, save_request
from .checkpoints import FileCheckpoints
from .errors import AlreadyExists, ChangedMeanwhile, InvalidContent, NotFound
from .offload import Offload
from .paths import PathOutsideRoot, normalize_api_path, to_os_path
from .trust import NotebookTrust


class ContentsManager(LoggingConfigurable):
    """File-backed contents, as jupyter_server's FileContentsManager serves them."""

    root_dir = Unicode(help="The directory served.").tag(config=True)
    allow_hidden = Bool(False, help="Serve and list hidden (dot) files.").tag(config=True)
    delete_to_trash = Bool(
        True,
        help="Move deleted files and folders (empty or not) to the trash (send2trash, the "
        "freedesktop.org trash on Linux) instead of deleting them for good.",
    ).tag(config=True)
    always_delete_dir = Bool(
        False,
        help="Without delete_to_trash: delete non-empty folders for good (otherwise "
        "refused with 400).",
    ).tag(config=True)
    untitled_notebook = Unicode("Untitled").tag(config=True)
    untitled_file = Unicode("untitled").tag(config=True)
    untitled_directory = Unicode("Untitled Folder").tag(config=True)
    offload_bytes = Int(
        4 << 20,
        help="Files and save requests at least this large (bytes) are parsed, checked and "
        "serialized in a worker process, so that the server keeps answering meanwhile "
        "(below it, parsing takes a few tens of milliseconds).",
    ).tag(config=True)

    @default("root_dir")
    def _default_root(self) -> str:
        return os.getcwd()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checkpoints = FileCheckpoints(self.os_path)
        self.trust = NotebookTrust(parent=self)
        #: Awaited with the api path before a save: each returns notebook metadata to
        #: merge, ``{section: {key: value}}`` (sessions/environments.py records a
        #: kernel's environment in notebooks).
        self.pre_save_hooks: list[Callable[[str], Awaitable[dict[str, dict[str, Any]]]]] = []
        self.offload = Offload(self)
        #: Awaited with (old, new) after a rename and (path,) after a delete, so that
        #: what is named after a file follows it (collaboration/fileids.py).
        self.rename_hooks: list[Callable[[str, str], Awaitable[None]]] = []
        self.delete_hooks: list[Callable[[str], Awaitable[None]]] = []
        #: Saves of one path run one at a time: a conditional save (the output keeper's)
        #: checks the file is unchanged and writes it; another save in between is lost.
        self._save_locks: dict[str, asyncio.Lock] = {}

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    # --- paths ------------------------------------------------------------------

    def normalize(self, path: str) -> str:
        """The canonical API path; NotFound for one that tries to leave the root."""
        try:
            return normalize_api_path(path)
        except PathOutsideRoot:
            raise NotFound(f"No such file or directory: {path!r}") from None

    def os_path(self, path: str, must_exist: bool = True) -> str:
        """The confined OS path; NotFound for anything outside, hidden or missing."""
        try:
            os_path = to_os_path(path, self.root_dir)
        except PathOutsideRoot:
            raise NotFound(f"No such file or directory: {path}") from None
        if not self.allow_hidden and self.is_hidden(path):
            raise NotFound(f"No such file or directory: {path}")
        if must_exist and not os.path.lexists(os_path):
            raise NotFound(f"No such file or directory: {path}")
        return os_path

    def is_hidden(self, path: str) -> bool:
        return any(part.startswith(".") for part in self.normalize(path).split("/") if part)

    def dir_for_kernel(self, path: str) -> str:
        """Where a kernel for ``path`` starts: its directory, inside the root."""
        os_path = self.os_path(path, must_exist=False)
        root = os.path.realpath(self.root_dir)
        while not os.path.isdir(os_path) and os.path.realpath(os_path) != root:
            os_path = os.path.dirname(os_path)
        return os_path

    def _get(
        self, path: str, content: bool, kind: str | None, fmt: str | None, want_hash: bool
    ) -> dict[str, Any]:
        path = self.normalize(path)
        os_path = self.os_path(path)
        try:
            st = os.stat(os_path)
        except FileNotFoundError:
            raise NotFound(f"No such file or directory: {path}") from None  # a broken link
        if stat.S_ISDIR(st.st_mode):
            if kind not in (None, "directory"):
                raise InvalidContent(f"{path} is a directory, not a {kind}")
            return models.directory_model(path, os_path, content, self.root_dir, self.allow_hidden)
        fileio.refuse_unless_regular(st, os_path)
        if kind == "directory":
            raise InvalidContent(f"{path} is not a directory")
        if kind == "notebook" or (kind is None and path.endswith(".ipynb")):
            return models.notebook_model(path, os_path, content, want_hash)
        return models.file_model(path, os_path, content, fmt, want_hash)

    async def get(
        self,
        path: str,
        content: bool = True,
        type: str | None = None,
        format: str | None = None,
        require_hash: bool = False,
    ) -> dict[str, Any]:
        _check_get(type, format)
        model = await self.run(self._get, path, content, type, format, require_hash)
        if model["type"] == "notebook" and model["content"] is not None:
            await self.trust.mark(model["content"], model["path"])
        return model

    async def get_json(
        self, path: str, content: bool = True, type: str | None = None,
        format: str | None = None, require_hash: bool = False,
    ) -> bytes | Spooled:  # fmt: skip
        """``get`` as the JSON a client receives; a large file is read in a worker, which
        leaves the JSON in a file for the handler to stream (and remove)."""
        _check_get(type, format)
        large = content and await self.run(self.offload.is_large, path)
        if large and (settings := await self.offload.settings()) is not None:
            return await self.offload.read(settings, path, type, format, require_hash)
        model = await self.get(path, content, type, format, require_hash)
        return await self.run(dumps_model, model)

    async def exists(self, path: str) -> bool:
        try:
            await self.run(self.os_path, path)
        except NotFound:
            return False
        return True

    # --- writing ----------------------------------------------------------------

    def _save(
        self, model: dict[str, Any], path: str, unchanged_since: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        path = self.normalize(path)
        if not path:
            raise InvalidContent("Cannot save to the root directory itself")
        os_path = self.os_path(path, must_exist=False)
        parent = os.path.dirname(os_path)
        if not os.path.isdir(parent):
            raise NotFound(f"Parent directory of {path} does not exist")
        kind = model.get("type")
        if kind not in ("notebook", "file", "directory"):
            raise InvalidContent("No file type provided (notebook, file or directory)")
        created = not os.path.lexists(os_path)
        chunk = model.get("chunk")
        if kind == "directory":
            if os.path.isfile(os_path):
                raise AlreadyExists(f"{path} exists and is not a directory")
            os.makedirs(os_path, exist_ok=True)
        elif os.path.isdir(os_path):
            raise AlreadyExists(f"{path} is a directory")
        elif chunk is not None:
            if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk == 0 or chunk < -1:
                raise InvalidContent(f"Invalid chunk number {chunk!r}")
            if kind != "file":
                raise InvalidContent("Only files can be uploaded in chunks")
            try:
                fileio.write_chunk(os_path, models.encode(model, path), chunk)
            except FileNotFoundError:
                raise InvalidContent(f"Chunk {chunk} of {path} has no upload to add to") from None
            created = chunk == 1 and created
            if chunk != -1 and not os.path.exists(os_path):
                model_out = self._chunk_progress_model(path, os_path)
                return model_out, created
        else:
            data = models.encode(model, path)
            if unchanged_since is not None and self._modified(os_path) != unchanged_since:
                raise ChangedMeanwhile(f"{path} was changed since it was read")
            fileio.atomic_write(os_path, data)
        return self._get(path, False, None, None, False), created

    def _chunk_progress_model(self, path: str, os_path: str) -> dict[str, Any]:
        st = os.stat(fileio.staging_path(os_path))
        model = models.base_model(path, fileio.staging_path(os_path), st)
        model["type"] = "file"
        return model

    @staticmethod
    def _modified(os_path: str) -> str | None:
        try:
            return iso_from_timestamp(os.stat(os_path).st_mtime)
        except FileNotFoundError:
            return None

    async def save(
        self, model: dict[str, Any], path: str, unchanged_since: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Write ``model``; returns (model without content, whether it was created)."""
        apply_metadata(model, await self._metadata_from_hooks(path))
        await self.trust.sign_if_trusted(model, path)
        async with self._save_lock(path):
            return await self.run(self._save, model, path, unchanged_since)

    def _save_lock(self, path: str) -> asyncio.Lock:
        return self._save_locks.setdefault(self.normalize(path), asyncio.Lock())

    async def save_body(self, body: bytes | Spooled, path: str) -> tuple[dict[str, Any], bool]:
        """``save`` for a PUT body; a large one (spooled by the handler, or in memory) is
        parsed, signed and written in a worker. A spooled body is removed."""
        large = isinstance(body, Spooled) or len(body) >= self.offload_bytes
        if large and (settings := await self.offload.settings()) is not None:
            metadata = await self._metadata_from_hooks(path)
            async with self._save_lock(path):
                return await self.offload.save(settings, body, path, metadata)
        if isinstance(body, Spooled):
            data = await self.run(body.read)
            await self.run(body.discard)
        else:
            data = body
        return await self.save(save_request(data), path)

    async def _metadata_from_hooks(self, path: str) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for hook in self.pre_save_hooks:
            for section, entries in (await hook(path)).items():
                merged.setdefault(section, {}).update(entries)
        return merged

    async def trust_notebook(self, path: str) -> None:
        """Sign the notebook as it is on disk: its output is the user's to trust."""
        model = await self.get(path, content=True, type="notebook")
        await self.trust.trust(model["content"], model["path"])

    def close(self) -> None:
        self.trust.close()
        self.offload.close()

    def _increment_name(self, directory: str, base: str, ext: str, insert: str) -> str:
        os_dir = self.os_path(directory)
        for i in range(0, 100000):
            suffix = f"{insert}{i}" if i else ""
            name = f"{base}{suffix}{ext}"
            if not os.path.lexists(os.path.join(os_dir, name)):
                return name
        raise AlreadyExists("No free untitled name")

    def _new_untitled(self, path: str, kind: str, ext: str) -> dict[str, Any]:
        path = self.normalize(path)
        if not os.path.isdir(self.os_path(path)):
            raise NotFound(f"No such directory: {path}")
        if kind == "directory":
            name = self._increment_name(path, self.untitled_directory, "", " ")
        elif kind == "notebook":
            name = self._increment_name(path, self.untitled_notebook, ".ipynb", "")
        else:
            name = self._increment_name(path, self.untitled_file, ext, "")
        target = f"{path}/{name}" if path else name
        if kind == "directory":
            body: dict[str, Any] = {"type": "directory"}
        elif kind == "notebook":
            import nbformat

            body = {"type": "notebook", "content": nbformat.v4.new_notebook()}
        else:
            body = {"type": "file", "format": "text", "content": ""}
        return self._save(body, target)[0]

    async def new_untitled(self, path: str, type: str = "file", ext: str = "") -> dict[str, Any]:
        if type not in ("notebook", "file", "directory"):
            raise InvalidContent(f"Unknown type {type!r}")
        if type == "notebook":
            ext = ".ipynb"
        if ext and (not ext.startswith(".") or "/" in ext or "\\" in ext):
            raise InvalidContent(f"Invalid extension {ext!r}")
        return await self.run(self._new_untitled, path, type, ext)

    def _copy(self, from_path: str, to_dir: str) -> dict[str, Any]:
        from_path, to_dir = self.normalize(from_path), self.normalize(to_dir)
        source = self.os_path(from_path)
        if os.path.isdir(source):
            raise InvalidContent("Copying directories is not supported")
        target_dir = self.os_path(to_dir)
        if not os.path.isdir(target_dir):
            to_dir = to_dir.rsplit("/", 1)[0] if "/" in to_dir else ""
        base, ext = os.path.splitext(from_path.rsplit("/", 1)[-1])
        base = re.sub(r"-Copy\d*$", "", base)  # copying a copy makes nb-Copy2, not nb-Copy1-Copy1
        name = self._increment_name(to_dir, base, ext, "-Copy")
        target = f"{to_dir}/{name}" if to_dir else name
        fileio.atomic_write(self.os_path(target, must_exist=False), fileio.read_bytes(source))
        return self._get(target, False, None, None, False)

    async def copy(self, from_path: str, to_dir: str) -> dict[str, Any]:
        return await self.run(self._copy, from_path, to_dir)

    def _rename(self, old_path: str, new_path: str) -> dict[str, Any]:
        old_path, new_path = self.normalize(old_path), self.normalize(new_path)
        if not new_path:
            raise InvalidContent("New path is empty")
        source = self.os_path(old_path)
        target = self.os_path(new_path, must_exist=False)
        if old_path == new_path:
            return self._get(new_path, False, None, None, False)
        with contextlib.suppress(FileNotFoundError):  # a broken link can be renamed
            st = os.stat(source)
            if not stat.S_ISDIR(st.st_mode):
                fileio.refuse_unless_regular(st, source)
        if os.path.lexists(target) and os.path.normcase(source) != os.path.normcase(target):
            raise AlreadyExists(f"File already exists: {new_path}")
        if not os.path.isdir(os.path.dirname(target)):
            raise NotFound(f"Directory of {new_path} does not exist")
        os.rename(source, target)
        self.checkpoints.rename_all(old_path, new_path)
        return self._get(new_path, False, None, None, False)

    async def rename(self, old_path: str, new_path: str) -> dict[str, Any]:
        model = await self.run(self._rename, old_path, new_path)
        await self._after(self.rename_hooks, self.normalize(old_path), model["path"])
        return model

    async def _after(self, hooks: list[Callable[..., Awaitable[None]]], *paths: str) -> None:
        """Tell the hooks; the change is made, so a hook's failure is logged, not raised."""
        for hook in hooks:
            try:
                await hook(*paths)
            except Exception as exc:  # e.g. the sessions database is gone
                self.log.warning("After the change of %s: %s", paths[0], exc)

    def _delete(self, path: str) -> None:
        path = self.normalize(path)
        if not path:
            raise InvalidContent("Cannot delete the root directory")
        os_path = self.os_path(path)
        is_dir = os.path.isdir(os_path) and not os.path.islink(os_path)
        if self.delete_to_trash:
            fileio.send_to_trash(os_path, path)  # a link goes, never what it points to
        elif is_dir:
            listing = [n for n in os.listdir(os_path) if n != FileCheckpoints.directory]
            if listing and not self.always_delete_dir:
                raise InvalidContent(f"Directory {path} not empty")
            shutil.rmtree(os_path)
        else:
            os.unlink(os_path)
        if not is_dir:
            self.checkpoints.delete_all(path)

    async def delete(self, path: str) -> None:
        await self.run(self._delete, path)
        await self._after(self.delete_hooks, self.normalize(path))

    # --- checkpoints ------------------------------------------------------------

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        return await self.run(self.checkpoints.list, path)

    async def create_checkpoint(self, path: str) -> dict[str, Any]:
        return await self.run(self.checkpoints.create, path)

    async def restore_checkpoint(self, path: str, checkpoint_id: str) -> None:
        await self.run(self.checkpoints.restore, path, checkpoint_id)

    async def delete_checkpoint(self, path: str, checkpoint_id: str) -> None:
        await self.run(self.checkpoints.delete, path, checkpoint_id)


def _check_get(kind: str | None, fmt: str | None) -> None:
    if kind not in (None, "directory", "file", "notebook"):
        raise InvalidContent(f"Unknown type {kind!r}")
    if fmt not in (None, "text", "base64", "json"):
        raise InvalidContent(f"Unknown format {fmt!r}")
