"""REST handlers for /api/terminals and the terminal websocket /terminals/websocket/<name>.

The websocket speaks terminado's protocol (``["stdin", text]``,
``["set_size", rows, cols, ...]`` from the client; ``["setup", {}]``,
``["stdout", text]``, ``["disconnect", 1]`` to it) through terminado's own
handler, behind the same authentication and origin rules as every route.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from terminado import TermSocket
from tornado.escape import url_escape

from ..compat.tornado_ws import open_stream, unsent_bytes
from ..web.base import ApiError, APIHandler, AuthenticatedWebSocketMixin
from .manager import TerminalManager, UnknownTerminal

log = logging.getLogger("jls.terminals")

NAME = r"(?P<name>[^/]+)"


class TerminalAPIHandler(APIHandler):
    @property
    def terminals(self) -> TerminalManager:
        return self.settings["terminal_manager"]


class TerminalRootHandler(TerminalAPIHandler):
    def get(self) -> None:
        self.finish_json(self.terminals.models())

    async def post(self) -> None:
        body = self.get_json_body()
        cwd = body.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ApiError(400, "cwd must be a string (a folder inside the root)")
        os_cwd = self.settings["cwd_for_path"](cwd) if cwd else None
        try:
            model = await self.terminals.create(os_cwd)
        except OSError as exc:
            log.error("Could not start a terminal: %s", exc)
            raise ApiError(500, f"Could not start a terminal: {exc}") from None
        self.set_header(
            "Location", f"{self.settings['base_url']}api/terminals/{url_escape(model['name'])}"
        )
        self.finish_json(model)


class TerminalHandler(TerminalAPIHandler):
    def get(self, name: str) -> None:
        try:
            self.finish_json(self.terminals.model(name))
        except UnknownTerminal as exc:
            raise ApiError(404, str(exc)) from None

    async def delete(self, name: str) -> None:
        try:
            await self.terminals.terminate(name)
        except UnknownTerminal as exc:
            raise ApiError(404, str(exc)) from None
        self.set_status(204)
        self.finish()


class TerminalSocketHandler(AuthenticatedWebSocketMixin, TermSocket):
    """terminado's handler: authenticated before the upgrade, never creating a terminal."""

    def initialize(self) -> None:  # type: ignore[override]
        manager: TerminalManager = self.settings["terminal_manager"]
        self.terminals = manager
        super().initialize(term_manager=manager.ptys)

    async def get(self, name: str, *args: Any, **kwargs: Any) -> None:
        await self.refuse_unless_authenticated()
        if not self.terminals.exists(name):
            raise ApiError(404, f"Terminal not found: {name}", "Not Found")
        await super().get(name, *args, **kwargs)

    def open(self, name: str) -> None:  # type: ignore[override]
        if not self.terminals.exists(name):  # closed since the upgrade was accepted
            self.close(1011, "Terminal not found")
            return
        super().open(name)

    def on_pty_read(self, text: str) -> None:
        """A client that stopped reading is disconnected once ``client_send_buffer`` bytes
        wait for it (JupyterLab reconnects and gets terminado's recent output): a stalled
        tab never makes the server hold a runaway command's output."""
        stream = open_stream(self)
        limit = self.settings["kernel_manager"].client_send_buffer
        if stream is not None and unsent_bytes(stream) > limit:
            log.warning("Terminal %s: client %s reads too slowly (%d bytes waiting); "
                        "disconnecting it", self.term_name, self.request.remote_ip,
                        unsent_bytes(stream))  # fmt: skip
            self.close(1013, "Reading too slowly: reconnect")
            return
        super().on_pty_read(text)

    def on_message(self, message: str | bytes) -> Any:
        """A frame that is not terminado's JSON is logged and dropped."""
        try:
            command = json.loads(message)
            kind = command[0]
        except (ValueError, TypeError, IndexError, KeyError):
            log.warning("Terminal %s: dropped a websocket frame that is not a command from %s",
                        self.term_name, self.request.remote_ip)  # fmt: skip
            return None
        if kind == "stdin":
            self.terminals.touch(self.term_name)
            if not (len(command) > 1 and isinstance(command[1], str)):
                return None
        elif kind == "set_size" and not (
            len(command) >= 3 and all(isinstance(v, int) for v in command[1:3])
        ):
            return None
        return super().on_message(message)


def routes() -> list[tuple[str, type]]:
    return [
        (r"api/terminals/?", TerminalRootHandler),
        (rf"api/terminals/{NAME}/?", TerminalHandler),
        (r"terminals/websocket/([^/]+)/?", TerminalSocketHandler),  # positional: terminado
    ]
