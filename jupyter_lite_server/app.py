"""ServerApp: configuration and wiring. The logic lives in the service managers."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import secrets
import signal
import socket
import sys
from datetime import UTC, datetime
from typing import Any

from tornado import httpserver, netutil
from traitlets import Bool, Float, Integer, Unicode, default, validate
from traitlets.config import Application, Config, catch_config_error

from . import __version__
from .auth.identity import IdentityProvider
from .auth.policy import is_loopback, load_or_create_secret
from .auth.token import TokenIdentityProvider
from .contents.errors import NotFound
from .contents.manager import ContentsManager
from .hub import bind_from_env, hub_wiring, started_by_hub
from .hub.activity import ActivityReporter
from .kernels.lifecycle.finder import KernelFinder
from .kernels.manager import MappingKernelManager, PoolConfigError
from .lab import lab_wiring
from .sessions.manager import SessionError, SessionManager
from .web.base import ApiError, NotFoundHandler
from .web.limits import LimitedApplication
from .web.logging import configure_logging, log_request
from .web.wiring import Wiring

ALIASES = {
    "ip": "ServerApp.ip",
    "port": "ServerApp.port",
    "port-retries": "ServerApp.port_retries",
    "token": "ServerApp.token",
    "root": "ServerApp.root_dir",
    "base-url": "ServerApp.base_url",
    "allow-origin": "ServerApp.allow_origin",
    "allow-origin-pat": "ServerApp.allow_origin_pat",
    "config": "ServerApp.config_file",
    "sessions-db": "SessionManager.database_filepath",
    "gateway-url": "ServerApp.gateway_url",
    "cull-idle-timeout": "MappingKernelManager.cull_idle_timeout",
    "pool-size": "MappingKernelManager.pool_size",
    "cull-interval": "MappingKernelManager.cull_interval",
    "log-level": "Application.log_level",
}
FLAGS = {
    "no-auth": (
        {"ServerApp": {"no_auth": True}},
        "Serve without authentication (only together with --token ''). Dangerous.",
    ),
    "allow-hidden": (
        {"ContentsManager": {"allow_hidden": True}},
        "List and serve hidden (dot) files.",
    ),
    "cull-connected": (
        {"MappingKernelManager": {"cull_connected": True}},
        "Cull idle kernels even when clients are connected.",
    ),
    "cull-busy": (
        {"MappingKernelManager": {"cull_busy": True}},
        "Cull kernels even when their last state was busy.",
    ),
    "keep-kernels": (
        {"MappingKernelManager": {"keep_kernels": True}},
        "Leave kernels running on shutdown for the next server (needs --sessions-db FILE).",
    ),
    "allow-credentials": (
        {"ServerApp": {"allow_credentials": True}},
        "Send Access-Control-Allow-Credentials: true on CORS responses.",
    ),
}


class ServerApp(Application):
    """`jls serve`: the Jupyter Server REST and websocket API."""

    name = "jls"
    description = "A lean, fast server for the Jupyter Server REST and kernel websocket API."
    version = __version__
    aliases = ALIASES
    flags = FLAGS
    classes = [MappingKernelManager, KernelFinder, ContentsManager, SessionManager]

    ip = Unicode("127.0.0.1", help="Address to listen on.").tag(config=True)
    port = Integer(8888, help="Port to listen on (0: any free port).").tag(config=True)
    port_retries = Integer(50, help="How many following ports to try if the port is taken.").tag(
        config=True
    )
    token = Unicode(help="Token clients must present. Random unless given.").tag(config=True)
    no_auth = Bool(False, help="Allow an empty token, disabling authentication.").tag(config=True)
    root_dir = Unicode(help="Directory served by the contents API; kernels start in it.").tag(
        config=True
    )
    base_url = Unicode("/", help="URL prefix of every endpoint.").tag(config=True)
    allow_origin = Unicode("", help="Origin allowed for CORS and websockets ('*' for any).").tag(
        config=True
    )
    allow_origin_pat = Unicode("", help="Regular expression of origins allowed.").tag(config=True)
    allow_credentials = Bool(False, help="Allow credentials on CORS requests.").tag(config=True)
    config_file = Unicode("", help="A config file (.py or .json) to load.").tag(config=True)
    gateway_url = Unicode(
        "", help="Kernels on this Kernel Gateway (sets GatewayProvider.url; docs/providers.md)."
    ).tag(config=True)
    max_body_size = Integer(
        512 * 1024 * 1024, help="Largest request body accepted, in bytes (larger: 413)."
    ).tag(config=True)
    max_ws_message_size = Integer(
        128 * 1024 * 1024,
        help="Largest websocket message a client may send, in bytes (larger: close code 1009).",
    ).tag(config=True)
    serve_lab = Bool(
        True, help="Serve JupyterLab at /lab when the jupyterlab package is installed."
    ).tag(config=True)
    hub_activity_check_interval = Float(
        10.0, help="Under JupyterHub: seconds between checks for new activity to report."
    ).tag(config=True)
    cookie_secret_file = Unicode(
        help="File holding the secret that signs login cookies (created if missing), so "
        "browsers stay logged in across server restarts."
    ).tag(config=True)

    @default("cookie_secret_file")
    def _default_cookie_secret_file(self) -> str:
        from jupyter_core.paths import jupyter_runtime_dir

        return os.path.join(jupyter_runtime_dir(), "jls_cookie_secret")

    @property
    def cookie_secret(self) -> bytes:
        if not hasattr(self, "_cookie_secret"):
            self._cookie_secret = load_or_create_secret(self.cookie_secret_file)
        return self._cookie_secret

    @default("log_level")
    def _default_log_level(self) -> int:
        return logging.INFO  # lifecycle events (kernels started, culled, reattached) are shown

    @default("token")
    def _default_token(self) -> str:
        return secrets.token_hex(24)

    @default("root_dir")
    def _default_root_dir(self) -> str:
        return os.getcwd()

    @validate("root_dir")
    def _validate_root_dir(self, proposal: Any) -> str:
        value = os.path.abspath(os.path.expanduser(proposal["value"]))
        if not os.path.isdir(value):
            raise ValueError(f"root directory {value!r} does not exist")
        return value

    @validate("base_url")
    def _validate_base_url(self, proposal: Any) -> str:
        value = proposal["value"]
        return "/" + value.strip("/") + "/" if value.strip("/") else "/"

    @catch_config_error
    def initialize(self, argv: list[str] | None = None) -> None:
        self.parse_command_line(argv)
        cli_config = self.config.copy()
        from jupyter_core.paths import jupyter_config_path

        for path in [*reversed(jupyter_config_path()), os.getcwd()]:
            self.load_config_file("jls_config", path=path)
        if self.config_file:
            directory, filename = os.path.split(os.path.abspath(self.config_file))
            if not os.path.isfile(self.config_file):
                raise FileNotFoundError(f"config file {self.config_file!r} not found")
            self.load_config_file(filename, path=directory)
        self.update_config(Config(cli_config))
        configure_logging(self.log_level)  # type: ignore[arg-type]
        if not self.token and not self.no_auth:
            raise ValueError("An empty --token needs --no-auth as well (it disables all auth)")
        if not self.token and not is_loopback(self.ip):
            raise ValueError(
                f"Refusing to listen on {self.ip!r} without a token: anyone who can reach "
                "it could run code. Give a --token, or listen on 127.0.0.1."
            )
        self.log = logging.getLogger("jls")
        self.hub: Wiring | None = None
        if started_by_hub():  # the spawner says where to listen and who may come in
            for name, value in bind_from_env().items():
                setattr(self, name, value)
            self.hub = hub_wiring(self.base_url)
        self.lab: Wiring | None = lab_wiring() if self.serve_lab else None
        if self.gateway_url:  # the provider module loads with the first kernel, not here
            self.config.GatewayProvider.url = self.gateway_url
        self.kernel_manager = MappingKernelManager(
            parent=self, root_dir=self.root_dir, finder_factory=lambda: KernelFinder(parent=self)
        )
        self.contents_manager = ContentsManager(parent=self, root_dir=self.root_dir)
        self.session_manager = SessionManager(
            parent=self, kernel_manager=self.kernel_manager, contents_manager=self.contents_manager
        )
        kernel_store = self.session_manager.kernel_store()
        if kernel_store is not None:
            self.kernel_manager.remember_kernels_in(kernel_store)
        elif self.kernel_manager.keep_kernels:
            raise ValueError(
                "--keep-kernels needs --sessions-db FILE: with sessions in memory no later "
                "server could find the kernels again"
            )

    def routes(self) -> list[tuple[str, type]]:
        from .contents.handlers import routes as contents_routes
        from .kernels.handlers import routes as kernel_routes
        from .kernelspecs.handlers import routes as kernelspec_routes
        from .sessions.handlers import routes as session_routes
        from .web.login import routes as login_routes
        from .web.misc import routes as misc_routes

        table = [
            *(self.hub.routes if self.hub else []),
            *(self.lab.routes if self.lab else []),
            *misc_routes(),
            *login_routes(),
            *kernelspec_routes(),
            *kernel_routes(),
            *session_routes(),
            *contents_routes(),
            (r"api/.*", NotFoundHandler),
        ]
        return [(self.base_url + pattern, *rest) for pattern, *rest in table]

    def web_settings(self) -> dict[str, Any]:
        def confined_cwd(api_path: str) -> str:
            try:
                return self.contents_manager.dir_for_kernel(api_path)
            except NotFound:
                raise ApiError(400, f"Path {api_path!r} is outside the root directory") from None

        return {
            **(self.hub.settings if self.hub else {}),
            **(self.lab.settings if self.lab else {}),
            "base_url": self.base_url,
            "kernel_manager": self.kernel_manager,
            "contents_manager": self.contents_manager,
            "session_manager": self.session_manager,
            "identity_provider": self.identity_provider(),
            "cookie_secret": self.cookie_secret,
            "xsrf_cookies": True,
            "cwd_for_path": confined_cwd,
            "allow_origin": self.allow_origin,
            "allow_origin_pat": re.compile(self.allow_origin_pat)
            if self.allow_origin_pat
            else None,
            "allow_credentials": self.allow_credentials,
            "started": datetime.now(UTC),
            "log_function": log_request,
            "websocket_ping_interval": 0,
            "websocket_max_message_size": self.max_ws_message_size,
            "max_body_size": self.max_body_size,
        }

    def identity_provider(self) -> IdentityProvider:
        """JupyterHub's when a hub started us; otherwise the token and its login cookie
        (named after the port, bound by now: browsers do not separate cookies by port)."""
        if self.hub is not None and self.hub.identity_provider is not None:
            return self.hub.identity_provider
        return TokenIdentityProvider(
            self.token, self.cookie_secret, f"jls-login-{self.port}", cookie_path=self.base_url
        )

    # --- running ----------------------------------------------------------------

    def bind(self) -> list[socket.socket]:
        """Bind the port, or the next free ones unless port_retries is 0."""
        attempts = 1 if self.port == 0 else self.port_retries + 1
        for offset in range(attempts):
            port = self.port + offset if self.port else 0
            try:
                sockets = netutil.bind_sockets(port, address=self.ip)
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES) and offset + 1 < attempts:
                    self.log.info("Port %d is in use, trying another.", port)
                    continue
                raise
            self.port = sockets[0].getsockname()[1]
            return sockets
        raise OSError(errno.EADDRINUSE, f"no free port from {self.port}")

    @property
    def display_url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else (self.ip or "localhost")
        url = f"http://{host}:{self.port}{self.base_url}"
        return f"{url}?token={self.token}" if self.token else url

    async def _serve(self) -> None:
        sockets = self.bind()  # first: the port names the login cookie
        await self.session_manager.open()
        await self.kernel_manager.reattach_kernels()
        await self.session_manager.prune()
        await self.kernel_manager.start_pool()
        self.web_app = LimitedApplication(self.routes(), **self.web_settings())
        server = httpserver.HTTPServer(
            self.web_app, xheaders=True, max_body_size=self.max_body_size
        )
        server.add_sockets(sockets)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if not self.token:
            self.log.warning(
                "Authentication is disabled (--no-auth): anyone who can reach "
                "this port can run code as %s.",
                os.environ.get("USER", "this user"),
            )
        self.log.info("jls %s serving %s", __version__, self.root_dir)
        print(f"jls {__version__} is running at:\n    {self.display_url}", flush=True)
        activity = None
        if self.hub is not None:
            started = self.web_app.settings["started"]
            km = self.kernel_manager
            activity = ActivityReporter(
                lambda: max(started, km.last_activity), self.hub_activity_check_interval
            )
            activity.start()
        await stop.wait()
        if activity is not None:
            activity.stop()
        self.log.info("Shutting down: stopping kernels")
        server.stop()
        await self.kernel_manager.shutdown_all()
        self.session_manager.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.close_all_connections(), 5)

    def start(self) -> None:
        try:
            asyncio.run(self._serve())
        except (SessionError, PoolConfigError) as exc:
            self.log.critical("%s", exc)
            sys.exit(1)
        except OSError as exc:
            self.log.critical("Cannot listen on %s:%s: %s", self.ip, self.port, exc)
            sys.exit(1)
