"""ServerApp: configuration and wiring. The logic lives in the service managers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tornado import httpserver
from traitlets.config import Config, catch_config_error

from . import __version__
from .auth.identity import IdentityProvider
from .auth.password import LoginThrottle
from .auth.policy import is_loopback
from .auth.token import TokenIdentityProvider
from .contents.errors import NotFound
from .contents.manager import ContentsManager
from .export.converter import NotebookConverter
from .hub import bind_from_env, hub_wiring, started_by_hub
from .hub.activity import ActivityReporter
from .kernels.forking.options import ForkedKernels
from .kernels.lifecycle.finder import KernelFinder
from .kernels.manager import MappingKernelManager, PoolConfigError
from .lab import lab_wiring
from .outputs.keeper import OutputKeeper
from .server_options import ALIASES, FLAGS, ServerOptions
from .service.discovery import RuntimeFile
from .service.lifetime import NoActivityShutdown, RequestActivity
from .service.listen import Endpoint, ListenError, bind_tcp, bind_unix, tls_context
from .service.metrics import ServerMetrics
from .service.resources import favour_the_event_loop, raise_open_file_limit, return_large_buffers
from .sessions.manager import SessionError, SessionManager
from .web.base import ApiError, NotFoundHandler
from .web.limits import LimitedApplication
from .web.logging import configure_logging
from .web.wiring import Wiring

if TYPE_CHECKING:
    from .collaboration.rooms import CollaborationManager
    from .terminals.manager import TerminalManager


class ServerApp(ServerOptions):
    """`jls serve`: the Jupyter Server REST and websocket API."""

    name = "jls"
    description = "A lean, fast server for the Jupyter Server REST and kernel websocket API."
    version = __version__
    aliases = ALIASES
    flags = FLAGS
    classes = [
        MappingKernelManager,
        KernelFinder,
        ForkedKernels,
        ContentsManager,
        SessionManager,
        OutputKeeper,
    ]

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
        if not self.token and not self.password and not self.no_auth:
            raise ValueError("An empty --token needs --no-auth as well (it disables all auth)")
        if self.sock and "port" in self.config.get("ServerApp", {}):
            raise ValueError("--sock and --port exclude each other: a server listens on one")
        if not self.token and not self.password and not is_loopback(self.ip) and not self.sock:
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
        self.terminal_manager = self._terminal_manager()
        self.notebook_converter = NotebookConverter(config=self.config)
        self.output_keeper = OutputKeeper(
            self.contents_manager, self.session_manager, parent=self
        )
        self.collaboration = self._collaboration_manager()
        if self.collaboration is not None:  # outputs of a left client go into the shared doc
            self.output_keeper.live_documents = self.collaboration
        kernel_store = self.session_manager.kernel_store()
        if kernel_store is not None:
            self.kernel_manager.remember_kernels_in(kernel_store)
        elif self.kernel_manager.keep_kernels:
            raise ValueError(
                "--keep-kernels needs --sessions-db FILE: with sessions in memory no later "
                "server could find the kernels again"
            )

    def _terminal_manager(self) -> TerminalManager | None:
        if not self.terminals_enabled:
            return None
        from .terminals.manager import TerminalManager  # terminado loads only when used

        km = self.kernel_manager
        return TerminalManager(
            parent=self, root_dir=self.root_dir, idle_timeout=km.cull_idle_timeout,
            idle_interval=km.cull_interval,
        )  # fmt: skip

    def _collaboration_manager(self) -> CollaborationManager | None:
        if not self.collaborative:
            return None
        from .collaboration.rooms import CollaborationManager  # pycrdt loads only when used

        return CollaborationManager(
            self.contents_manager, self.session_manager.database, self.max_body_size,
            parent=self,
        )  # fmt: skip

    def routes(self) -> list[tuple[str, type]]:
        from .contents.handlers import routes as contents_routes
        from .export.handlers import routes as export_routes
        from .kernels.handlers import routes as kernel_routes
        from .kernelspecs.handlers import routes as kernelspec_routes
        from .service import routes as service_routes
        from .sessions.handlers import routes as session_routes
        from .web.login import routes as login_routes
        from .web.misc import routes as misc_routes

        if self.terminal_manager is not None:
            from .terminals.handlers import routes as terminal_routes
        if self.collaboration is not None:
            from .collaboration.handlers import routes as collaboration_routes

        table = [
            *(self.hub.routes if self.hub else []),
            *(self.lab.routes if self.lab else []),
            *misc_routes(),
            *login_routes(),
            *kernelspec_routes(),
            *kernel_routes(),
            *session_routes(),
            *contents_routes(),
            *export_routes(),
            *service_routes(),
            *(terminal_routes() if self.terminal_manager is not None else []),
            *(collaboration_routes() if self.collaboration is not None else []),
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
            "terminal_manager": self.terminal_manager,
            "collaboration": self.collaboration,
            "notebook_converter": self.notebook_converter,
            "warm_export": self.notebook_converter.warm,
            "output_keeper": self.output_keeper if self.output_keeper.enabled else None,
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
            "log_function": self.activity,
            "websocket_ping_interval": self.websocket_ping_interval or None,
            "websocket_ping_timeout": self.websocket_ping_timeout or None,
            "websocket_max_message_size": self.max_ws_message_size,
            "max_body_size": self.max_body_size,
            "allow_remote_access": self.allow_remote_access,
            "local_hostnames": list(self.local_hostnames),
            "login_throttle": LoginThrottle(),
            "request_shutdown": self.stop,
            "metrics": self.metrics,
            "authenticate_prometheus": self.authenticate_prometheus,
        }

    def identity_provider(self) -> IdentityProvider:
        """JupyterHub's when a hub started us; otherwise the token and its login cookie
        (named after the port, bound by now: browsers do not separate cookies by port)."""
        if self.hub is not None and self.hub.identity_provider is not None:
            return self.hub.identity_provider
        return TokenIdentityProvider(
            self.token,
            self.cookie_secret,
            f"jls-login-{self.port}",
            cookie_path=self.base_url,
            hashed_password=self.password,
        )

    # --- running ----------------------------------------------------------------

    def bind(self) -> list[socket.socket]:
        """The listening sockets: the Unix socket, or the port (or the next free ones)."""
        if self.sock:
            return bind_unix(self.sock)
        sockets, self.port = bind_tcp(self.ip, self.port, self.port_retries)
        return sockets

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.ip, self.port, self.sock, secure=bool(self.certfile))

    @property
    def display_url(self) -> str:
        """The URL to open; a token the user chose is not printed (it is theirs to know)."""
        url = self.endpoint.url(self.base_url)
        if not self.token:
            return url
        return f"{url}?token={self.token if self.token_was_generated else '...'}"

    def server_info(self) -> dict[str, Any]:
        """What jupyter_server writes in its runtime file, for `jupyter server list`."""
        return {
            "url": self.endpoint.url(self.base_url),
            "hostname": self.ip or "localhost",
            "port": 0 if self.sock else self.port,
            "sock": self.sock,
            "secure": bool(self.certfile),
            "base_url": self.base_url,
            "token": self.token,
            "root_dir": self.root_dir,
            "password": bool(self.password),
            "pid": os.getpid(),
            "version": __version__,
        }

    def stop(self) -> None:
        """Stop as on SIGTERM: kernels are shut down, then the process exits."""
        self._stop.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        ssl_options = tls_context(self.certfile, self.keyfile, self.client_ca)
        sockets = self.bind()  # first: the port names the login cookie
        await self.session_manager.open()
        if self.output_keeper.enabled:
            await self.output_keeper.load_adopted()
            self.kernel_manager.before_reattached_watch = self.output_keeper.on_reattach
        await self.kernel_manager.reattach_kernels()
        await self.session_manager.prune()
        if self.output_keeper.enabled:
            await self.output_keeper.restore()
        await self.kernel_manager.start_pool()
        self.activity = RequestActivity()
        self.metrics = ServerMetrics(self.kernel_manager)
        self.activity.observers.append(self.metrics.observe)
        self.web_app = LimitedApplication(self.routes(), **self.web_settings())
        server = httpserver.HTTPServer(
            self.web_app, xheaders=True, max_body_size=self.max_body_size, ssl_options=ssl_options
        )
        server.add_sockets(sockets)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop)
        if not self.token and not self.password:
            self.log.warning(
                "Authentication is disabled (--no-auth): anyone who can reach "
                "this port can run code as %s.",
                os.environ.get("USER", "this user"),
            )
        self.log.info("jls %s serving %s", __version__, self.root_dir)
        runtime_file = RuntimeFile(self.server_info())
        try:
            runtime_file.write()
        except OSError as exc:  # discovery is a convenience: serve anyway, and say so
            self.log.warning("Could not write %s (%s): `jupyter server list` and `jls list` "
                             "will not show this server", runtime_file.path, exc)  # fmt: skip
        print(f"jls {__version__} is running at:\n    {self.display_url}", flush=True)
        stop_watches = self._start_watches()
        try:
            await self._stop.wait()
        finally:
            runtime_file.remove()
        for stop_watch in stop_watches:
            stop_watch()
        self.log.info("Shutting down: stopping kernels")
        server.stop()
        if self.collaboration is not None:
            await self.collaboration.shutdown()
        await self.kernel_manager.shutdown_all()
        if self.terminal_manager is not None:
            await self.terminal_manager.shutdown_all()
        self.session_manager.close()
        self.contents_manager.close()
        self.notebook_converter.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.close_all_connections(), 5)

    def _start_watches(self) -> list[Callable[[], None]]:
        """JupyterHub activity reports and the no-activity shutdown; how to stop each."""
        km = self.kernel_manager
        idle = NoActivityShutdown(
            self.shutdown_no_activity_timeout, self.activity,
            lambda: len(km) + len(self.terminal_manager or ()), self.stop,
        )
        idle.start()
        if self.hub is None:
            return [idle.cancel]
        started = self.web_app.settings["started"]
        reporter = ActivityReporter(
            lambda: max(started, km.last_activity), self.hub_activity_check_interval
        )
        reporter.start()
        return [idle.cancel, reporter.stop]

    def start(self) -> None:
        return_large_buffers()
        favour_the_event_loop()
        raise_open_file_limit()
        try:
            asyncio.run(self._serve())
        except (SessionError, PoolConfigError) as exc:
            self.log.critical("%s", exc)
            sys.exit(1)
        except ListenError as exc:
            self.log.critical("Cannot listen: %s", exc.strerror or exc)
            sys.exit(1)
        except OSError as exc:
            self.log.critical("Cannot listen on %s:%s: %s", self.ip, self.port, exc)
            sys.exit(1)
