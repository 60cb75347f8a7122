"""/api/nbconvert (the export formats), GET /nbconvert/<format>/<path>, POST /nbconvert/<format>."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from tornado.escape import url_escape

from ..contents.handlers import ContentsAPIHandler
from ..web.base import ApiError
from .converter import Exported, ExportError, NotebookConverter

FORMAT = r"(?P<format>[^/]+)"


class ExportHandler(ContentsAPIHandler):
    @property
    def converter(self) -> NotebookConverter:
        return self.settings["notebook_converter"]

    async def export(self, awaitable: Any) -> Exported:
        try:
            return await awaitable
        except ExportError as exc:
            raise ApiError(exc.status, str(exc)) from None

    def send(self, exported: Exported, download: bool) -> None:
        self.set_header("Content-Type", exported.content_type)
        if download or exported.content_type == "application/zip":
            self.set_header(
                "Content-Disposition",
                f"attachment; filename*=UTF-8''{url_escape(exported.filename, plus=False)}",
            )
        # Exported HTML runs in a sandbox: its scripts cannot act as the user on this server.
        self.set_header("Content-Security-Policy", "sandbox allow-scripts")
        self.finish(exported.body)


class FormatsHandler(ExportHandler):
    async def get(self) -> None:
        self.finish_json(await self.export(self.converter.formats()))


def _modified_date(iso: str | None) -> str:
    try:
        moment = datetime.fromisoformat(iso or "")
    except ValueError:
        return ""
    return f"{moment:%B} {moment.day}, {moment.year}"


class ExportFileHandler(ExportHandler):
    """A notebook file converted; ``?download=true`` makes it an attachment."""

    async def get(self, format: str, path: str) -> None:
        path = path.strip("/")
        model = await self.call(self.contents.get(path, content=False))  # read by the worker
        if model["type"] != "notebook":
            self.redirect(f"{self.settings['base_url']}files/{url_escape(path, plus=False)}")
            return
        os_path = await self.call(self.contents.run(self.contents.os_path, path))
        metadata = {
            "name": os.path.splitext(model["name"])[0],
            "modified_date": _modified_date(model["last_modified"]),
            "path": os.path.dirname(os_path),
        }
        exported = await self.export(
            self.converter.convert_file(format, os_path, model["name"], metadata)
        )
        self.set_header("Last-Modified", model["last_modified"])
        download = self.get_query_argument("download", "false").lower() in ("true", "1")
        self.send(exported, download)


class ExportModelHandler(ExportHandler):
    """A notebook model sent in the body, converted."""

    async def post(self, format: str) -> None:
        body = self.get_json_body(required=True)
        content = body.get("content")
        name = body.get("name") or "notebook.ipynb"
        if not isinstance(content, dict) or not isinstance(name, str):
            raise ApiError(400, 'The body must be a notebook model: {"content": {...}}')
        metadata = {"name": os.path.splitext(name)[0]}
        exported = await self.export(self.converter.convert_model(format, content, name, metadata))
        self.send(exported, False)


def routes() -> list[tuple[str, type]]:
    return [
        (r"api/nbconvert/?", FormatsHandler),
        (rf"nbconvert/{FORMAT}(?P<path>/.+)", ExportFileHandler),
        (rf"nbconvert/{FORMAT}/?", ExportModelHandler),
    ]
