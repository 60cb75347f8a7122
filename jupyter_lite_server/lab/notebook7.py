"""Jupyter Notebook 7's pages, served natively from the installed ``notebook`` package.

Notebook 7 is a JupyterLab front end with its own built assets and page
templates; it talks to the same REST API and reads settings, themes and
extensions from the same /lab/api routes. Only its files are used (``static/``
and ``templates/`` of the package): no jupyter_server or notebook server code
is imported. Routes, as Notebook 7 has them: /tree[/<path>], /notebooks/<path>,
/edit/<path>, /consoles/<path>, /terminals/<name>.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

from tornado.escape import url_escape

from ..contents.errors import ContentsError
from ..web.base import ApiError, BaseHandler
from . import LabFiles
from .handlers import PublicStaticHandler, page_config


@dataclass(slots=True)
class NotebookFiles:
    version: str
    static_dir: str
    templates_dir: str


def find_notebook() -> NotebookFiles | None:
    """The installed Notebook 7's built front end, if any (never imported: read only)."""
    spec = importlib.util.find_spec("notebook")
    if spec is None or spec.origin is None:
        return None
    package = os.path.dirname(spec.origin)
    static, templates = os.path.join(package, "static"), os.path.join(package, "templates")
    version_file = os.path.join(package, "_version.py")
    if not (os.path.isdir(static) and os.path.isfile(os.path.join(templates, "tree.html"))):
        return None  # Notebook 6 or older: not this front end
    version = ""
    if os.path.isfile(version_file):
        with open(version_file) as f:
            for line in f:
                if line.startswith("__version__"):
                    version = line.split("=", 1)[1].strip().strip("\"'")
    return NotebookFiles(version, static, templates)


class NotebookPageHandler(BaseHandler):
    """One of Notebook 7's pages, rendered from its template with our page config."""

    auth_required = False  # a redirect to /login instead of a 403
    sets_login_cookie = True
    login_redirect = True
    _templates: dict[str, Any] = {}

    def initialize(self, template: str) -> None:
        self.template = template

    def login_redirect_target(self) -> bool:
        if self.current_user is None:
            target = url_escape(self.request.uri or "", plus=False)
            self.redirect(f"{self.settings['base_url']}login?next={target}")
            return True
        return False

    def render_page(self, tree_path: str | None = None) -> None:
        files: NotebookFiles = self.settings["notebook7"]
        lab: LabFiles = self.settings["lab"]
        template = self._template(files)
        config = page_config(self, lab, tree_path or "")
        base = self.settings["base_url"]
        config.update(
            appName="Jupyter Notebook", appNamespace="notebook", appVersion=files.version,
            fullStaticUrl=f"{base}static/notebook", frontendUrl=base, preferredPath="/",
            exposeAppInBrowser=False, nbclassic_enabled=False, quitButton=False,
            mathjaxConfig="TeX-AMS_HTML-full,Safe",
        )  # fmt: skip
        if tree_path is None:
            config.pop("treePath", None)
        self.xsrf_token  # noqa: B018 - the front end sends it back with every change
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(template.render(page_config=config, base_url=base, ws_url="",
                                    custom_css=False))  # fmt: skip

    def _template(self, files: NotebookFiles) -> Any:
        if self.template not in self._templates:
            import jinja2

            with open(os.path.join(files.templates_dir, self.template)) as f:
                self._templates[self.template] = jinja2.Template(f.read(), autoescape=True)
        return self._templates[self.template]

    async def get(self, path: str = "") -> None:
        if self.login_redirect_target():
            return
        self.render_page()


class TreePageHandler(NotebookPageHandler):
    """A folder: the file browser; a notebook: its page; any other file: the raw file."""

    async def get(self, path: str = "") -> None:
        if self.login_redirect_target():
            return
        path = path.strip("/")
        model = await _model(self, path)
        if model is None:
            raise ApiError(404, f"No such file or directory: {path}")
        if model["type"] == "directory":
            self.render_page(tree_path=path)
            return
        target = "notebooks" if model["type"] == "notebook" else "files"
        self.redirect(f"{self.settings['base_url']}{target}/{url_escape(path, plus=False)}")


class NotebookDocumentHandler(NotebookPageHandler):
    """/notebooks/<path>: the notebook page (also for one not there: the page says so);
    a folder goes to its tree page."""

    async def get(self, path: str = "") -> None:
        if self.login_redirect_target():
            return
        path = path.strip("/")
        model = await _model(self, path)
        if model is not None and model["type"] == "directory":
            self.redirect(f"{self.settings['base_url']}tree/{url_escape(path, plus=False)}")
            return
        self.render_page()


async def _model(handler: BaseHandler, path: str) -> dict[str, Any] | None:
    """The contents model of ``path`` without content; None if it cannot be shown."""
    try:
        model: dict[str, Any] = await handler.settings["contents_manager"].get(path, content=False)
    except (ContentsError, OSError):  # missing, hidden, outside the root, unreadable
        return None
    return model


def routes(files: NotebookFiles) -> list[tuple[Any, ...]]:
    return [
        (r"tree/?(.*)", TreePageHandler, {"template": "tree.html"}),
        (r"notebooks/?(.*)", NotebookDocumentHandler, {"template": "notebooks.html"}),
        (r"edit/?(.*)", NotebookPageHandler, {"template": "edit.html"}),
        (r"consoles/?(.*)", NotebookPageHandler, {"template": "consoles.html"}),
        (r"terminals/(?!websocket/)(.*)", NotebookPageHandler, {"template": "terminals.html"}),
        (r"static/notebook/(.*)", PublicStaticHandler, {"path": files.static_dir}),
    ]
