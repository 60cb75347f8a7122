"""The JupyterLab page, its assets, and the lab APIs its front end calls."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from tornado import web, websocket
from tornado.escape import url_escape

from ..web.base import (
    ApiError,
    APIHandler,
    AuthenticatedWebSocketMixin,
    BaseHandler,
    JsonErrorsMixin,
    NotFoundHandler,
)
from ..web.favicon import FaviconHandler
from . import (
    COLLABORATION_EXTENSIONS,
    UNSERVED_COLLABORATION_PLUGINS,
    LabFiles,
    federated_extensions,
)
from .settings import InvalidSettings, LabSettings
from .stores import InvalidName, JsonFileStore, NoSuchDocument

T = TypeVar("T")


def page_config(
    handler: BaseHandler, lab: LabFiles, tree_path: str = "", workspace: str = "default"
) -> dict[str, Any]:
    base = handler.settings["base_url"]
    collaborative = handler.settings.get("collaboration") is not None
    loaded = [
        ext for name, ext in federated_extensions(lab).items()
        if collaborative or name not in COLLABORATION_EXTENSIONS
    ]  # fmt: skip
    extensions = [{k: v for k, v in ext.items() if k not in ("dir", "disables")} for ext in loaded]
    #: plugins an installed extension replaces (the collaboration front end replaces the
    #: default file browser and cell executor), as jupyterlab_server gathers them
    disabled = sorted({plugin for ext in loaded for plugin in ext["disables"]}
                      | (UNSERVED_COLLABORATION_PLUGINS if collaborative else set()))
    return {
        "appName": "JupyterLab",
        "appNamespace": "lab",
        "appUrl": "/lab",
        "appVersion": lab.version,
        "baseUrl": base,
        "wsUrl": "",
        "token": "",
        "cacheFiles": True,
        "devMode": False,
        "disabledExtensions": disabled,
        "deferredExtensions": [],
        "exposeAppInBrowser": False,
        "federated_extensions": extensions,
        "fullAppUrl": f"{base}lab",
        "fullLabextensionsUrl": f"{base}lab/extensions",
        "fullLicensesUrl": f"{base}lab/api/licenses",
        "fullListingsUrl": f"{base}lab/api/listings",
        "fullSettingsUrl": f"{base}lab/api/settings",
        "fullStaticUrl": f"{base}static/lab",
        "fullThemesUrl": f"{base}lab/api/themes",
        "fullTranslationsApiUrl": f"{base}lab/api/translations",
        "fullTreeUrl": f"{base}lab/tree",
        "fullWorkspacesApiUrl": f"{base}lab/api/workspaces",
        "ignorePlugins": [],
        "labextensionsUrl": "/lab/extensions",
        "licensesUrl": "/lab/api/licenses",
        "listingsUrl": "/lab/api/listings",
        "mode": "multiple-document",
        "notebookStartsKernel": True,
        "quitButton": False,
        "settingsUrl": "/lab/api/settings",
        "store_id": 0,
        "terminalsAvailable": handler.settings.get("terminal_manager") is not None,
        "themesUrl": "/lab/api/themes",
        "translationsApiUrl": "/lab/api/translations",
        "treePath": tree_path,
        "treeUrl": "/lab/tree",
        "workspace": workspace,
        "disableRTC": not collaborative,
        "defaultWorkspace": "default",
        "workspacesApiUrl": "/lab/api/workspaces",
        "serverRoot": handler.settings["contents_manager"].root_dir,
        "preferredPath": "/",
    }


class LabPageHandler(BaseHandler):
    """/lab and /lab/tree/<path>: JupyterLab's index.html with our page config."""

    auth_required = False  # answered by a redirect to /login instead of a 403
    sets_login_cookie = True
    login_redirect = True
    _template: Any = None

    def get(self, tree_path: str = "", workspace: str = "default") -> None:
        if self.current_user is None:
            target = url_escape(self.request.uri or "", plus=False)
            self.redirect(f"{self.settings['base_url']}login?next={target}")
            return
        if (warm := self.settings.get("warm_export")) is not None:
            warm()  # JupyterLab asks for the export formats once a notebook opens
        lab: LabFiles = self.settings["lab"]
        if LabPageHandler._template is None:
            import jinja2

            with open(os.path.join(lab.static_dir, "index.html")) as f:
                LabPageHandler._template = jinja2.Template(f.read(), autoescape=True)
        self.xsrf_token  # noqa: B018 - the front end sends it back with every change
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(LabPageHandler._template.render(
            page_config=page_config(self, lab, tree_path.strip("/"), workspace),
            base_url=self.settings["base_url"], ws_url="", custom_css=False,
        ))  # fmt: skip


#: Built file names carry a content hash (main.efd36b46f3b45eb8.js): they never change.
_HASHED_NAME = re.compile(r"(?:^|[./])[0-9a-f]{16,}\.\w+$")


class AuthStaticHandler(JsonErrorsMixin, BaseHandler, web.StaticFileHandler):
    """Static files behind the same wall as the API; hashed names are cached for good."""

    async def prepare(self) -> None:
        await BaseHandler.prepare(self)

    def set_extra_headers(self, path: str) -> None:
        if self.get_argument("v", None) or _HASHED_NAME.search(path):
            self.set_header("Cache-Control", "public, max-age=31536000, immutable")
        else:
            self.set_header("Cache-Control", "no-cache")


class PublicStaticHandler(AuthStaticHandler):
    """The app's own built assets: the same for everyone, needed by the login page too."""

    auth_required = False


class SettingsHandler(APIHandler):
    @property
    def store(self) -> LabSettings:
        return self.settings["lab_settings"]

    async def get(self, plugin_id: str = "") -> None:
        ids_only = self.get_argument("ids_only", "") == "true"
        loop = asyncio.get_running_loop()
        try:
            if plugin_id:
                result = await loop.run_in_executor(None, self.store.get, plugin_id)
            else:
                result = {"settings": await loop.run_in_executor(None, self.store.list, ids_only)}
        except KeyError:
            raise ApiError(404, f"No schema for plugin {plugin_id}") from None
        self.finish_json(result)

    async def put(self, plugin_id: str = "") -> None:
        if not plugin_id:
            raise ApiError(405, "PUT needs a plugin id: /lab/api/settings/<plugin>")
        raw = self.get_json_body(required=True).get("raw")
        if not isinstance(raw, str):
            raise ApiError(400, '"raw" must be the settings text')
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.store.save, plugin_id, raw)
        except KeyError:
            raise ApiError(404, f"No schema for plugin {plugin_id}") from None
        except InvalidSettings as exc:
            raise ApiError(400, str(exc)) from None
        self.set_status(204)
        self.finish()


class TranslationsHandler(APIHandler):
    def get(self, locale: str = "") -> None:
        if not locale:
            self.finish_json({"data": {"en": {"displayName": "English", "nativeName": "English"}},
                              "message": ""})  # fmt: skip
        else:
            self.finish_json({"data": {}, "message": "" if locale == "en" else
                              f"Language pack '{locale}' not installed!"})  # fmt: skip


class StoreHandler(APIHandler):
    """Handlers over a JsonFileStore: its domain errors as statuses."""

    async def call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except InvalidName as exc:
            raise ApiError(400, str(exc)) from None
        except NoSuchDocument as exc:
            raise ApiError(404, f"{exc.args[0]!r} does not exist") from None


class WorkspacesHandler(StoreHandler):
    @property
    def store(self) -> JsonFileStore:
        return self.settings["lab_workspaces"]

    async def get(self, space: str = "") -> None:
        if not space:
            values = await self.call(self.store.read_all())
            ids = [v["metadata"]["id"] for v in values if isinstance(v.get("metadata"), dict)]
            self.finish_json({"workspaces": {"ids": ids, "values": values}})
            return
        stored = await self.call(self.store.read(space))
        self.finish_json(stored or {"data": {}, "metadata": {"id": space}})

    async def put(self, space: str = "") -> None:
        if not space:
            raise ApiError(405, "PUT needs a workspace id: /lab/api/workspaces/<id>")
        body = self.get_json_body(required=True)
        if not isinstance(body.get("data", {}), dict):
            raise ApiError(400, "workspace data must be an object")
        if not isinstance(body.get("metadata", {}), dict):
            raise ApiError(400, "workspace metadata must be an object")
        workspace = {
            "data": body.get("data", {}),
            "metadata": {**body.get("metadata", {}), "id": space},
        }
        await self.call(self.store.write(space, workspace))
        self.set_status(204)
        self.finish()

    async def delete(self, space: str = "") -> None:
        if not space:
            raise ApiError(405, "DELETE needs a workspace id: /lab/api/workspaces/<id>")
        await self.call(self.store.delete(space))
        self.set_status(204)
        self.finish()


class ConfigSectionHandler(StoreHandler):
    """/api/config/<section>: front-end configuration sections, as jupyter_server keeps them."""

    @property
    def store(self) -> JsonFileStore:
        return self.settings["lab_config"]

    async def get(self, section: str) -> None:
        self.finish_json(await self.call(self.store.read(section)) or {})

    async def patch(self, section: str) -> None:
        changes = self.get_json_body(required=True)
        stored = await self.call(self.store.read(section))
        merged = _merge(stored or {}, changes)
        await self.call(self.store.write(section, merged))
        self.finish_json(merged)


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
    return target


class FixedJsonHandler(APIHandler):
    """Endpoints whose honest answer here is constant (no news, no listings)."""

    def initialize(self, value: Any) -> None:
        self.value = value

    def get(self, *args: Any) -> None:
        self.finish_json(self.value)


class EventsHandler(AuthenticatedWebSocketMixin, websocket.WebSocketHandler):
    """/api/events/subscribe: the server emits no events yet; the socket stays open."""

    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.refuse_unless_authenticated()
        await super().get(*args, **kwargs)


def routes(lab: LabFiles) -> list[tuple]:
    static = {"path": lab.static_dir}
    extensions = [
        (rf"lab/extensions/{ext['name']}/(.*)", AuthStaticHandler, {"path": ext["dir"]})
        for ext in federated_extensions(lab).values()
    ]
    return [
        (r"lab/?", LabPageHandler),
        (r"lab/tree/?(.*)", LabPageHandler),
        # a second tab of one browser gets a workspace of its own (lab/workspaces/auto-x)
        (r"lab/workspaces/(?P<workspace>[^/]+)/tree/(?P<tree_path>.*)", LabPageHandler),
        (r"lab/workspaces/(?P<workspace>[^/]+)/?", LabPageHandler),
        (r"static/lab/(.*)", PublicStaticHandler, static),
        (r"static/favicons/([\w-]+\.ico)", FaviconHandler),
        (r"lab/api/themes/(.*)", AuthStaticHandler, {"path": lab.themes_dir}),
        *extensions,
        (r"lab/api/settings/?", SettingsHandler),
        (r"lab/api/settings/(?P<plugin_id>.+)", SettingsHandler),
        (r"lab/api/translations/?", TranslationsHandler),
        (r"lab/api/translations/(?P<locale>[\w-]+)", TranslationsHandler),
        (r"lab/api/workspaces/?", WorkspacesHandler),
        (r"lab/api/workspaces/(?P<space>.+)", WorkspacesHandler),
        (r"lab/api/listings/(.*)", FixedJsonHandler,
         {"value": {"blocked_extensions": [], "allowed_extensions": []}}),
        (r"lab/api/news/?", FixedJsonHandler, {"value": {"news": []}}),
        (r"lab/api/update/?", FixedJsonHandler, {"value": {"notification": None}}),
        (r"lab/api/extensions/?", FixedJsonHandler, {"value": []}),
        (r"lsp/status/?", FixedJsonHandler, {"value": {"version": 2, "sessions": {}, "specs": {}}}),
        (r"api/config/(?P<section>[\w-]+)", ConfigSectionHandler),
        (r"api/events/subscribe", EventsHandler),
        (r"lab/api/.*", NotFoundHandler),
    ]  # fmt: skip
