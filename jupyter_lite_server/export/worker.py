"""What runs in the export worker process: reading the notebook and converting it.

A large notebook's JSON is parsed here, not in the server: parsing holds the
interpreter lock for its whole length (a 20 MB notebook: a quarter of a
second), which in a thread of the server would stall every request. Only
plain data crosses the process boundary.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("jls.export")


class ExportError(Exception):
    """A conversion that cannot be done; ``status`` says whose fault it is."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, status)  # both in args: it crosses processes pickled

    @property
    def status(self) -> int:
        return int(self.args[1])

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(slots=True)
class Exported:
    body: bytes
    #: ``text/html; charset=utf-8``, ``application/zip``, ...
    content_type: str
    filename: str


def _nbconvert_base() -> Any:
    try:
        from nbconvert.exporters import base
    except ImportError as exc:
        raise ExportError(
            f"Export needs nbconvert, which is not installed ({exc}): "
            "pip install 'jupyter_lite_server[lab]' or pip install nbconvert", 501
        ) from None  # fmt: skip
    return base


def formats() -> dict[str, dict[str, Any]]:
    """Exporter names with their output MIME type, as jupyter_server lists them."""
    base = _nbconvert_base()
    found = {}
    for name in base.get_export_names():
        try:
            exporter = base.get_exporter(name)
        except (ValueError, KeyError, NameError, ImportError):
            continue  # an entry point uninstalled meanwhile, or broken
        found[name] = {"output_mimetype": exporter.output_mimetype}
    return found


def _read(source: tuple[str, Any]) -> Any:
    import nbformat

    kind, value = source
    try:
        if kind == "file":
            return nbformat.read(value, as_version=4)
        return nbformat.from_dict(value)
    except Exception as exc:
        raise ExportError(f"Not a readable notebook: {exc}", 400) from None


def convert(
    format: str, source: tuple[str, Any], name: str, metadata: dict[str, Any], config: Any
) -> Exported:
    """The notebook in ``source`` (``("file", os_path)`` or ``("model", content)``) as
    ``format``; ``metadata`` goes to the templates."""
    from jupyter_core.paths import jupyter_config_dir

    base = _nbconvert_base()
    try:
        exporter_class = base.get_exporter(format)
    except (ValueError, KeyError, NameError):  # nbconvert's ExporterNameError
        raise ExportError(f"No exporter for format: {format}", 404) from None
    nb = _read(source)
    try:
        exporter = exporter_class(config=config)
        output, resources = exporter.from_notebook_node(
            nb, resources={"metadata": metadata, "config_dir": jupyter_config_dir()}
        )
    except Exception as exc:  # nbconvert's own errors, and tools missing here
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise ExportError(f"Export to {format} failed: {message}", 500) from None
    stem = os.path.splitext(name)[0]
    text = output.encode("utf-8") if isinstance(output, str) else output
    extension = resources.get("output_extension") or ""
    files = resources.get("outputs") or {}
    if files:  # images and the like beside the document: one zip
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(stem + extension, text)
            for filename, data in files.items():
                archive.writestr(os.path.basename(filename), data)
        return Exported(buffer.getvalue(), "application/zip", stem + ".zip")
    mimetype = exporter.output_mimetype or "application/octet-stream"
    if isinstance(output, str):
        mimetype += "; charset=utf-8"
    return Exported(text, mimetype, stem + extension)
