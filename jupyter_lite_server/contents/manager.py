"""ContentsManager: files, directories and notebooks under the root directory.

Models are jupyter_server's: ``{name, path, type, format, mimetype, content,
writable, created, last_modified, size, hash, hash_algorithm}``. All file
system work runs in an executor so a large listing or file never blocks the
event loop. Paths are confined to the root (see paths.py); hidden files are
invisible unless ``allow_hidden``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import mimetypes
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from traitlets import Bool, Unicode, default
from traitlets.config import LoggingConfigurable

from . import fileio
from .checkpoints import FileCheckpoints
from .nbjson import rejoin_lines
from .paths import PathOutsideRoot, normalize_api_path, to_os_path


class ContentsError(Exception):
    """Base of the errors a client's request can cause."""


class NotFound(ContentsError):
    pass


class AlreadyExists(ContentsError):
    pass


class InvalidContent(ContentsError):
    pass


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


class ContentsManager(LoggingConfigurable):
    """File-backed contents, as jupyter_server's FileContentsManager serves them."""

    root_dir = Unicode(help="The directory served.").tag(config=True)
    allow_hidden = Bool(False, help="Serve and list hidden (dot) files.").tag(config=True)
    always_delete_dir = Bool(
        False, help="Delete non-empty directories (otherwise refused with 400)."
    ).tag(config=True)
    untitled_notebook = Unicode("Untitled").tag(config=True)
    untitled_file = Unicode("untitled").tag(config=True)
    untitled_directory = Unicode("Untitled Folder").tag(config=True)

    @default("root_dir")
    def _default_root(self) -> str:
        return os.getcwd()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checkpoints = FileCheckpoints(self)
        #: Awaited with (model, api path) before a save writes; may change the model
        #: (sessions/environments.py records a kernel's environment in notebooks).
        self.pre_save_hooks: list[Callable[[dict[str, Any], str], Awaitable[None]]] = []

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

    # --- models -----------------------------------------------------------------

    def _base_model(self, path: str, os_path: str, st: os.stat_result) -> dict[str, Any]:
        return {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "last_modified": _iso(st.st_mtime),
            "created": _iso(st.st_ctime),
            "content": None,
            "format": None,
            "mimetype": None,
            "size": st.st_size,
            "writable": os.access(os_path, os.W_OK),
            "hash": None,
            "hash_algorithm": None,
        }

    def _kind(self, os_path: str, st: os.stat_result) -> str:
        if os.path.isdir(os_path):
            return "directory"
        return "notebook" if os_path.endswith(".ipynb") else "file"

    def _dir_model(self, path: str, os_path: str, content: bool) -> dict[str, Any]:
        model = self._base_model(path, os_path, os.stat(os_path))
        model.update(type="directory", size=None)
        if not content:
            return model
        root = os.path.realpath(self.root_dir) + os.sep
        entries = []
        with os.scandir(os_path) as it:
            for entry in it:
                name = entry.name
                if (not self.allow_hidden and name.startswith(".")) or name.startswith(
                    fileio.STAGING_PREFIX
                ):
                    continue
                try:
                    if entry.is_symlink() and not os.path.realpath(entry.path).startswith(root):
                        continue  # points outside the root: not ours to show
                    st = entry.stat()
                except OSError:
                    continue  # broken link or vanished file
                child = f"{path}/{name}" if path else name
                child_model = self._base_model(child, entry.path, st)
                if entry.is_dir():
                    child_model.update(type="directory", size=None)
                else:
                    child_model["type"] = "notebook" if name.endswith(".ipynb") else "file"
                    if child_model["type"] == "file":
                        child_model["mimetype"] = mimetypes.guess_type(name)[0]
                entries.append(child_model)
        model.update(content=entries, format="json")
        return model

    def _file_model(
        self, path: str, os_path: str, content: bool, fmt: str | None, want_hash: bool
    ) -> dict[str, Any]:
        model = self._base_model(path, os_path, os.stat(os_path))
        model.update(type="file", mimetype=mimetypes.guess_type(os_path)[0])
        if not (content or want_hash):
            return model
        data = fileio.read_bytes(os_path)
        if want_hash:
            model.update(hash=hashlib.sha256(data).hexdigest(), hash_algorithm="sha256")
        if not content:
            return model
        if fmt in (None, "text"):
            try:
                model.update(content=data.decode("utf-8"), format="text")
            except UnicodeDecodeError:
                if fmt == "text":
                    raise InvalidContent(f"{path} is not UTF-8 encoded") from None
        if model["format"] is None:
            model.update(content=base64.b64encode(data).decode("ascii"), format="base64")
        if model["mimetype"] is None:
            model["mimetype"] = "text/plain" if model["format"] == "text" else (
                "application/octet-stream"
            )  # fmt: skip
        return model

    def _notebook_model(
        self, path: str, os_path: str, content: bool, want_hash: bool
    ) -> dict[str, Any]:
        model = self._base_model(path, os_path, os.stat(os_path))
        model["type"] = "notebook"
        if not (content or want_hash):
            return model
        data = fileio.read_bytes(os_path)
        if want_hash:
            model.update(hash=hashlib.sha256(data).hexdigest(), hash_algorithm="sha256")
        if content:
            model.update(content=self._notebook_content(path, data), format="json")
        return model

    def _notebook_content(self, path: str, data: bytes) -> Any:
        """The notebook as jupyter_server returns it: v4, multi-line strings joined.

        Version-4 files take a fast path (C JSON parser, then line joining);
        older versions go through nbformat's conversion.
        """
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            parsed = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidContent(f"Unreadable Notebook: {path} {exc}") from None
        if not isinstance(parsed, dict):
            raise InvalidContent(f"Unreadable Notebook: {path} is not a JSON object")
        if parsed.get("nbformat") == 4 and isinstance(parsed.get("cells"), list):
            return rejoin_lines(parsed)
        import nbformat

        try:
            return nbformat.reads(data.decode("utf-8"), as_version=4)
        except Exception as exc:
            raise InvalidContent(f"Unreadable Notebook: {path} {exc}") from None

    def _get(
        self, path: str, content: bool, kind: str | None, fmt: str | None, want_hash: bool
    ) -> dict[str, Any]:
        path = self.normalize(path)
        os_path = self.os_path(path)
        if os.path.isdir(os_path):
            if kind not in (None, "directory"):
                raise InvalidContent(f"{path} is a directory, not a {kind}")
            return self._dir_model(path, os_path, content)
        if not os.path.isfile(os_path):
            raise NotFound(f"No such file or directory: {path}")
        if kind == "directory":
            raise InvalidContent(f"{path} is not a directory")
        if kind == "notebook" or (kind is None and path.endswith(".ipynb")):
            return self._notebook_model(path, os_path, content, want_hash)
        return self._file_model(path, os_path, content, fmt, want_hash)

    async def get(
        self,
        path: str,
        content: bool = True,
        type: str | None = None,
        format: str | None = None,
        require_hash: bool = False,
    ) -> dict[str, Any]:
        if type not in (None, "directory", "file", "notebook"):
            raise InvalidContent(f"Unknown type {type!r}")
        if format not in (None, "text", "base64", "json"):
            raise InvalidContent(f"Unknown format {format!r}")
        return await self.run(self._get, path, content, type, format, require_hash)

    async def exists(self, path: str) -> bool:
        try:
            await self.run(self.os_path, path)
        except NotFound:
            return False
        return True

    # --- writing ----------------------------------------------------------------

    def _encode(self, model: dict[str, Any], path: str) -> bytes:
        """The bytes to write for a save model; InvalidContent if it is not valid."""
        kind, fmt, content = model.get("type"), model.get("format"), model.get("content")
        if content is None:
            raise InvalidContent("No file content provided")
        if kind == "notebook":
            import nbformat

            if not isinstance(content, dict):
                raise InvalidContent("Notebook content must be a JSON object")
            try:
                nb = nbformat.from_dict(content)
                nbformat.validate(nb)
                return (nbformat.writes(nb, version=nbformat.NO_CONVERT) + "\n").encode("utf-8")
            except Exception as exc:
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise InvalidContent(f"Notebook validation failed: {first_line}") from None
        if not isinstance(content, str):
            raise InvalidContent("File content must be a string")
        if fmt == "base64":
            try:
                return base64.b64decode(content.encode("ascii"), validate=True)
            except (binascii.Error, ValueError):
                raise InvalidContent(f"{path}: content is not valid base64") from None
        if fmt in (None, "text"):
            return content.encode("utf-8")
        raise InvalidContent(f"Unknown file format {fmt!r}")

    def _save(self, model: dict[str, Any], path: str) -> tuple[dict[str, Any], bool]:
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
                fileio.write_chunk(os_path, self._encode(model, path), chunk)
            except FileNotFoundError:
                raise InvalidContent(f"Chunk {chunk} of {path} has no upload to add to") from None
            created = chunk == 1 and created
            if chunk != -1 and not os.path.exists(os_path):
                model_out = self._chunk_progress_model(path, os_path)
                return model_out, created
        else:
            fileio.atomic_write(os_path, self._encode(model, path))
        return self._get(path, False, None, None, False), created

    def _chunk_progress_model(self, path: str, os_path: str) -> dict[str, Any]:
        st = os.stat(fileio.staging_path(os_path))
        model = self._base_model(path, fileio.staging_path(os_path), st)
        model["type"] = "file"
        return model

    async def save(self, model: dict[str, Any], path: str) -> tuple[dict[str, Any], bool]:
        """Write ``model``; returns (model without content, whether it was created)."""
        for hook in self.pre_save_hooks:
            await hook(model, path)
        return await self.run(self._save, model, path)

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
        if os.path.lexists(target) and os.path.normcase(source) != os.path.normcase(target):
            raise AlreadyExists(f"File already exists: {new_path}")
        if not os.path.isdir(os.path.dirname(target)):
            raise NotFound(f"Directory of {new_path} does not exist")
        os.rename(source, target)
        self.checkpoints.rename_all(old_path, new_path)
        return self._get(new_path, False, None, None, False)

    async def rename(self, old_path: str, new_path: str) -> dict[str, Any]:
        return await self.run(self._rename, old_path, new_path)

    def _delete(self, path: str) -> None:
        path = self.normalize(path)
        if not path:
            raise InvalidContent("Cannot delete the root directory")
        os_path = self.os_path(path)
        if os.path.isdir(os_path) and not os.path.islink(os_path):
            listing = [n for n in os.listdir(os_path) if n != FileCheckpoints.directory]
            if listing and not self.always_delete_dir:
                raise InvalidContent(f"Directory {path} not empty")
            shutil.rmtree(os_path)
        else:
            os.unlink(os_path)
            self.checkpoints.delete_all(path)

    async def delete(self, path: str) -> None:
        await self.run(self._delete, path)
