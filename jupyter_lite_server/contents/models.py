"""Contents models as jupyter_server builds them, and the bytes a save model stands for.

Plain functions of a path and its ``os.stat``: the manager decides what to
read and where, these build ``{name, path, type, format, mimetype, content,
writable, created, last_modified, size, hash, hash_algorithm}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
import os
import stat
from typing import Any

from ..timeutil import iso_from_timestamp
from . import fileio
from .errors import InvalidContent
from .nbjson import rejoin_lines
from .paths import api_name


def base_model(path: str, os_path: str, st: os.stat_result) -> dict[str, Any]:
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "last_modified": iso_from_timestamp(st.st_mtime),
        "created": iso_from_timestamp(st.st_ctime),
        "content": None,
        "format": None,
        "mimetype": None,
        "size": st.st_size,
        "writable": os.access(os_path, os.W_OK),
        "hash": None,
        "hash_algorithm": None,
    }

def directory_model(
    path: str, os_path: str, content: bool, root_dir: str, allow_hidden: bool
) -> dict[str, Any]:
    model = base_model(path, os_path, os.stat(os_path))
    model.update(type="directory", size=None)
    if not content:
        return model
    root = os.path.realpath(root_dir) + os.sep
    entries = []
    with os.scandir(os_path) as it:
        for entry in it:
            name = entry.name
            if (not allow_hidden and name.startswith(".")) or name.startswith(
                fileio.STAGING_PREFIX
            ):
                continue
            try:
                if entry.is_symlink() and not os.path.realpath(entry.path).startswith(root):
                    continue  # points outside the root: not ours to show
                st = entry.stat()
            except OSError:
                continue  # broken link or vanished file
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                continue  # a FIFO, socket or device: nothing the contents API can open
            name = api_name(name)
            child = f"{path}/{name}" if path else name
            child_model = base_model(child, entry.path, st)
            if entry.is_dir():
                child_model.update(type="directory", size=None)
            else:
                child_model["type"] = "notebook" if name.endswith(".ipynb") else "file"
                if child_model["type"] == "file":
                    child_model["mimetype"] = mimetypes.guess_type(name)[0]
            entries.append(child_model)
    model.update(content=entries, format="json")
    return model

def file_model(
    path: str, os_path: str, content: bool, fmt: str | None, want_hash: bool
) -> dict[str, Any]:
    model = base_model(path, os_path, os.stat(os_path))
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

def notebook_model(
    path: str, os_path: str, content: bool, want_hash: bool
) -> dict[str, Any]:
    model = base_model(path, os_path, os.stat(os_path))
    model["type"] = "notebook"
    if not (content or want_hash):
        return model
    data = fileio.read_bytes(os_path)
    if want_hash:
        model.update(hash=hashlib.sha256(data).hexdigest(), hash_algorithm="sha256")
    if content:
        model.update(content=notebook_content(path, data), format="json")
    return model

def notebook_content(path: str, data: bytes) -> Any:
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
    except RecursionError:
        raise InvalidContent(f"Unreadable Notebook: {path} is nested too deeply") from None
    if not isinstance(parsed, dict):
        raise InvalidContent(f"Unreadable Notebook: {path} is not a JSON object")
    if parsed.get("nbformat") == 4 and isinstance(parsed.get("cells"), list):
        return rejoin_lines(parsed)
    import nbformat

    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:
        raise InvalidContent(f"Unreadable Notebook: {path} {exc}") from None


def encode(model: dict[str, Any], path: str) -> bytes:
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
