"""REST handlers for /api/contents and the raw /files download."""

from __future__ import annotations

import asyncio
import errno
import mimetypes
import os
from collections.abc import Awaitable
from typing import Any, TypeVar

from tornado import web
from tornado.escape import url_escape

from ..web.base import ApiError, APIHandler, BaseHandler, JsonErrorsMixin
from . import fileio
from .bodies import IncomingBody, Spooled, dumps_model
from .errors import AlreadyExists, ContentsError, InvalidContent, NotFound, NotRegularFile
from .manager import ContentsManager
from .paths import api_name

PATH = r"(?P<path>(?:(?:/[^/]+)+|/?))"
CHECKPOINT_ID = r"(?P<checkpoint_id>[\w-]+)"
T = TypeVar("T")

STATUS = {NotFound: 404, AlreadyExists: 409, InvalidContent: 400}


class ContentsAPIHandler(APIHandler):
    @property
    def contents(self) -> ContentsManager:
        return self.settings["contents_manager"]

    async def call(self, awaitable: Awaitable[T]) -> T:
        """Run a manager call; its domain errors become JSON errors."""
        try:
            return await awaitable
        except ContentsError as exc:
            status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
            raise ApiError(status, str(exc)) from None
        except PermissionError:
            raise ApiError(403, f"Permission denied: {self.request.path}") from None
        except OSError as exc:
            status, message = _os_error_status(exc)
            if status >= 500:
                self.log_os_error(exc)
            raise ApiError(status, message) from None

    def log_os_error(self, exc: OSError) -> None:
        import logging

        logging.getLogger("jls.contents").error(
            "%s %s failed: %s", self.request.method, self.request.path, exc
        )

    def location(self, path: str) -> str:
        return f"{self.settings['base_url']}api/contents/{url_escape(path, plus=False)}"

    async def finish_body(self, body: bytes | Spooled) -> None:
        """Send JSON the manager made; a spooled one is streamed and removed."""
        if isinstance(body, bytes):
            self.finish(body)
            return
        loop = asyncio.get_running_loop()
        try:
            handle = await loop.run_in_executor(None, open, body.path, "rb")
        finally:
            await loop.run_in_executor(None, body.discard)  # the open handle keeps the data
        with handle:
            size = os.fstat(handle.fileno()).st_size
            self.set_header("Content-Length", str(size))
            while chunk := await loop.run_in_executor(None, handle.read, body.CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish()

    def finish_model(self, model: dict[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.finish(dumps_model(model))


def _os_error_status(exc: OSError) -> tuple[int, str]:
    """Map a file system error to what the client should hear."""
    if exc.errno in (errno.ENAMETOOLONG, errno.EINVAL, errno.ENOTDIR, errno.EISDIR):
        return 400, f"Invalid path: {exc.strerror}"
    if exc.errno == errno.ENOENT:
        return 404, "No such file or directory"
    if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
        return 409, f"Conflict: {exc.strerror}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return 507, "Not enough disk space: nothing was changed"
    return 500, f"Could not complete the operation: {exc.strerror}"


def _flag(handler: APIHandler, name: str, default: bool) -> bool:
    value = handler.get_query_argument(name, None)
    if value is None:
        return default
    if value not in ("0", "1"):
        raise ApiError(400, f"{name} {value!r} is invalid: use 0 or 1")
    return value == "1"


@web.stream_request_body
class ContentsHandler(ContentsAPIHandler):
    """Bodies are read as they arrive: a large save goes to a spool file, not memory."""

    _refusal: web.HTTPError | None = None

    def check_xsrf_cookie(self) -> None:
        try:
            super().check_xsrf_cookie()
        except web.HTTPError as refusal:
            self._refusal = refusal  # answered in prepare(), once it knows about the body

    async def prepare(self) -> None:
        try:
            await super().prepare()
        except web.HTTPError as refusal:
            self._refusal = self._refusal or refusal
        if self._refusal is None:
            self._body = IncomingBody(spill_at=self.contents.offload_bytes)
        else:
            # Even an empty body: answered while tornado still reads the (empty) body,
            # the connection is closed too (a refused DELETE reset the next request).
            self._refuse_after_body(self._refusal)

    def _refuse_after_body(self, refusal: web.HTTPError) -> None:
        """Read a refused request's body to its end, keeping none of it, then refuse.

        Answered before its body, a request's connection is closed by tornado: a
        client reusing it at once (a keep-alive pool) gets "connection reset", and
        bytes still arriving make the kernel reset it, dropping the 403 on its way.
        """
        self._body = IncomingBody(spill_at=0, keep=False)

        async def refuse(*args: Any, **kwargs: Any) -> None:
            raise refusal

        setattr(self, self.request.method.lower(), refuse)  # what tornado calls after the body

    async def data_received(self, chunk: bytes) -> None:
        await self._body.add(chunk)

    def on_finish(self) -> None:
        if (body := getattr(self, "_body", None)) is not None:
            body.discard()  # a request that failed before its save took the file

    def on_connection_close(self) -> None:
        self.on_finish()  # the client left mid-body: nothing of it stays on disk
        super().on_connection_close()

    async def _small_body(self) -> None:
        """POST and PATCH read ``self.request.body`` (a few hundred bytes)."""
        body = await self._body.complete()
        if isinstance(body, Spooled):
            self._body.discard()
            raise ApiError(413, "A copy or rename request needs a few hundred bytes, not "
                           f"{self.contents.offload_bytes} or more", "Payload Too Large")
        self.request.body = body

    async def get(self, path: str = "") -> None:
        path = path.strip("/")
        kind = self.get_query_argument("type", None)
        fmt = self.get_query_argument("format", None)
        content = _flag(self, "content", True)
        want_hash = _flag(self, "hash", False)
        await self.finish_body(
            await self.call(self.contents.get_json(path, content, kind, fmt, want_hash))
        )

    async def put(self, path: str = "") -> None:
        path = path.strip("/")
        body = await self._body.complete()
        self._body = IncomingBody(0)  # the manager owns (and removes) the spooled body now
        model, created = await self.call(self.contents.save_body(body, path))
        if created:
            self.set_header("Location", self.location(path))
        self.finish_model(model, 201 if created else 200)

    async def post(self, path: str = "") -> None:
        await self._small_body()
        path = path.strip("/")
        if not await self.contents.exists(path):
            raise ApiError(404, f"No such directory: {path}")
        model = await self.call(self.contents.get(path, content=False))
        if model["type"] != "directory":
            raise ApiError(400, "Cannot POST to files, use PUT instead.")
        body = self.get_json_body()
        copy_from = body.get("copy_from")
        if copy_from:
            if not isinstance(copy_from, str):
                raise ApiError(400, "copy_from must be a path")
            result = await self.call(self.contents.copy(copy_from, path))
        else:
            kind, ext = body.get("type", "file") or "file", body.get("ext", "") or ""
            if not isinstance(kind, str) or not isinstance(ext, str):
                raise ApiError(400, "type and ext must be strings")
            result = await self.call(self.contents.new_untitled(path, kind, ext))
        self.set_header("Location", self.location(result["path"]))
        self.finish_model(result, 201)

    async def patch(self, path: str = "") -> None:
        await self._small_body()
        body = self.get_json_body(required=True)
        new_path = body.get("path")
        if not isinstance(new_path, str):
            raise ApiError(400, 'PATCH needs the new path: {"path": ...}')
        model = await self.call(self.contents.rename(path.strip("/"), new_path))
        self.set_header("Location", self.location(model["path"]))
        self.finish_model(model)

    async def delete(self, path: str = "") -> None:
        await self.call(self.contents.delete(path.strip("/")))
        self.set_status(204)
        self.finish()


class CheckpointsHandler(ContentsAPIHandler):
    async def get(self, path: str) -> None:
        result = await self.call(self.contents.list_checkpoints(path.strip("/")))
        self.finish_json(result)

    async def post(self, path: str) -> None:
        result = await self.call(self.contents.create_checkpoint(path.strip("/")))
        self.set_header("Location", f"{self.location(path.strip('/'))}/checkpoints/{result['id']}")
        self.finish_json(result, 201)


class ModifyCheckpointsHandler(ContentsAPIHandler):
    async def post(self, path: str, checkpoint_id: str) -> None:
        await self.call(self.contents.restore_checkpoint(path.strip("/"), checkpoint_id))
        self.set_status(204)
        self.finish()

    async def delete(self, path: str, checkpoint_id: str) -> None:
        await self.call(self.contents.delete_checkpoint(path.strip("/"), checkpoint_id))
        self.set_status(204)
        self.finish()


class TrustHandler(ContentsAPIHandler):
    """JupyterLab's "Trust Notebook": the notebook's output may run in the page."""

    async def post(self, path: str) -> None:
        await self.call(self.contents.trust_notebook(path.strip("/")))
        self.set_status(201)
        self.finish()


class FilesHandler(JsonErrorsMixin, BaseHandler):
    """Raw bytes of a file, streamed in chunks; ``?download=1`` for an attachment."""

    CHUNK = 1 << 20

    async def get(self, path: str) -> None:
        contents: ContentsManager = self.settings["contents_manager"]
        loop = asyncio.get_running_loop()
        try:
            os_path = await loop.run_in_executor(None, contents.os_path, path)
        except NotFound as exc:
            raise ApiError(404, str(exc)) from None
        try:
            handle = await loop.run_in_executor(None, fileio.open_for_download, os_path)
        except NotRegularFile as exc:
            raise ApiError(400, str(exc)) from None
        except IsADirectoryError:
            raise ApiError(404, f"{path} is a directory, not a file") from None
        except OSError:
            raise ApiError(404, f"Cannot read {path}") from None
        name = api_name(os.path.basename(os_path))
        mimetype = mimetypes.guess_type(name)[0]
        if name.endswith(".ipynb"):
            mimetype = "application/x-ipynb+json"
        self.set_header("Content-Type", mimetype or "application/octet-stream")
        if self.get_query_argument("download", "0") not in ("0", ""):
            self.set_header(
                "Content-Disposition",
                f"attachment; filename*=UTF-8''{url_escape(name, plus=False)}",
            )
        self.set_header("Cache-Control", "no-cache")
        try:
            while chunk := await loop.run_in_executor(None, handle.read, self.CHUNK):
                self.write(chunk)
                await self.flush()
        finally:
            handle.close()
        self.finish()


def routes() -> list[tuple[str, type]]:
    return [
        (rf"api/contents{PATH}/checkpoints/?", CheckpointsHandler),
        (rf"api/contents{PATH}/checkpoints/{CHECKPOINT_ID}/?", ModifyCheckpointsHandler),
        (rf"api/contents{PATH}/trust/?", TrustHandler),
        (rf"api/contents{PATH}", ContentsHandler),
        (r"files/(?P<path>.+)", FilesHandler),
    ]
