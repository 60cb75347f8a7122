"""REST handlers for /api/sessions."""

from __future__ import annotations

from typing import Any

from tornado.escape import url_escape

from ..kernels.lifecycle.finder import NoSuchKernel
from ..kernels.manager import KernelStartError, UnknownKernel
from ..web.base import ApiError, APIHandler
from .manager import SessionError, SessionManager, SessionsUnavailable, UnknownSession

SESSION_ID = r"(?P<session_id>\w+-\w+-\w+-\w+-\w+)"


class SessionAPIHandler(APIHandler):
    @property
    def sessions(self) -> SessionManager:
        return self.settings["session_manager"]

    async def call(self, awaitable):
        try:
            return await awaitable
        except UnknownSession as exc:
            raise ApiError(404, str(exc)) from None
        except SessionsUnavailable as exc:
            raise ApiError(exc.http_status, str(exc), "Sessions database unavailable") from None
        except (SessionError, NoSuchKernel) as exc:
            raise ApiError(400, str(exc)) from None
        except UnknownKernel as exc:
            raise ApiError(409, f"{exc}: shut down by another request", "Conflict") from None
        except KernelStartError as exc:
            raise ApiError(exc.http_status, str(exc), "Kernel start failed") from None

    def location(self, session_id: str) -> str:
        return f"{self.settings['base_url']}api/sessions/{url_escape(session_id)}"


def _kernel_field(body: dict[str, Any]) -> dict[str, Any]:
    kernel = body.get("kernel") or {}
    if not isinstance(kernel, dict):
        raise ApiError(400, 'kernel must be an object: {"name": ...} or {"id": ...}')
    for key in ("name", "id"):
        if kernel.get(key) is not None and not isinstance(kernel[key], str):
            raise ApiError(400, f"kernel.{key} must be a string")
    return kernel


class SessionRootHandler(SessionAPIHandler):
    async def get(self) -> None:
        self.finish_json(await self.sessions.list_sessions())

    async def post(self) -> None:
        body = self.get_json_body(required=True)
        notebook = body.get("notebook")
        path = notebook.get("path") if isinstance(notebook, dict) else body.get("path")
        if not isinstance(path, str) or not path:
            raise ApiError(400, "No path given")
        kind = body.get("type")
        if kind is None:
            if not path.endswith(".ipynb"):
                raise ApiError(400, "Missing field in JSON data: type")
            kind = "notebook"
        name = body.get("name")
        if not isinstance(kind, str) or (name is not None and not isinstance(name, str)):
            raise ApiError(400, "type and name must be strings")
        kernel = _kernel_field(body)
        model, _ = await self.call(
            self.sessions.create_session(path, name, kind, kernel.get("name"), kernel.get("id"))
        )
        self.set_header("Location", self.location(model["id"]))
        self.finish_json(model, 201)


class SessionHandler(SessionAPIHandler):
    async def get(self, session_id: str) -> None:
        self.finish_json(await self.call(self.sessions.get_session(session_id)))

    async def patch(self, session_id: str) -> None:
        body = self.get_json_body(required=True)
        changes: dict[str, Any] = {}
        for key in ("path", "name", "type"):
            if key in body:
                if not isinstance(body[key], str):
                    raise ApiError(400, f"{key} must be a string")
                changes[key] = body[key]
        if "kernel" in body:
            changes["kernel"] = _kernel_field(body)
        self.finish_json(await self.call(self.sessions.update_session(session_id, changes)))

    async def delete(self, session_id: str) -> None:
        await self.call(self.sessions.delete_session(session_id))
        self.set_status(204)
        self.finish()


def routes() -> list[tuple[str, type]]:
    return [
        (r"api/sessions/?", SessionRootHandler),
        (rf"api/sessions/{SESSION_ID}/?", SessionHandler),
    ]
