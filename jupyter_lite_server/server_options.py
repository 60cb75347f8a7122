"""ServerApp's options: command-line aliases and flags, and every traitlets option.

Set as ``c.ServerApp.<option>`` in ``jls_config.py`` (traitlets reads the
configuration of every class a configurable inherits from) or on the command
line. The wiring that uses them is in ``app.py``.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from traitlets import Bool, Float, Integer, List, Unicode, default, validate
from traitlets.config import Application

from .auth.policy import is_loopback, load_or_create_secret
from .hub import started_by_hub

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
    "certfile": "ServerApp.certfile",
    "keyfile": "ServerApp.keyfile",
    "client-ca": "ServerApp.client_ca",
    "sock": "ServerApp.sock",
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
    "allow-remote-access": (
        {"ServerApp": {"allow_remote_access": True}},
        "Accept requests whose Host header is not a local name (off by default on loopback: "
        "the DNS-rebinding defence).",
    ),
    "no-kernel-fork": (
        {"ForkedKernels": {"enabled": False}},
        "Start every kernel as a new interpreter, never as a fork of one with ipykernel "
        "imported.",
    ),
    "no-terminals": (
        {"ServerApp": {"terminals_enabled": False}},
        "Do not offer terminals (routes answer 404, JupyterLab shows no terminal).",
    ),
    "no-collaboration": (
        {"ServerApp": {"collaborative": False}},
        "Do not offer real-time collaboration, even with the rtc extra installed.",
    ),
    "allow-credentials": (
        {"ServerApp": {"allow_credentials": True}},
        "Send Access-Control-Allow-Credentials: true on CORS responses.",
    ),
}


def collaboration_possible() -> bool:
    """The server side (pycrdt, jupyter_ydoc) and JupyterLab's collaboration front end."""
    import importlib.util

    if not all(importlib.util.find_spec(m) for m in ("pycrdt", "jupyter_ydoc")):
        return False
    from jupyter_core.paths import jupyter_path

    from .lab import COLLABORATION_EXTENSIONS

    # a look for the front end's package, not a scan of every extension (lab_wiring's)
    return any(
        os.path.isfile(os.path.join(base, name, "package.json"))
        for base in jupyter_path("labextensions") for name in COLLABORATION_EXTENSIONS
    )  # fmt: skip


def terminals_possible() -> bool:
    """A pty (POSIX) and terminado: what terminals need."""
    import importlib.util
    import os

    return os.name == "posix" and importlib.util.find_spec("terminado") is not None


class ServerOptions(Application):
    """The options of `jls serve` (ServerApp)."""

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
    terminals_enabled = Bool(
        help="Offer terminals (a pty running the user's shell). Default: on where a pty and "
        "terminado are available."
    ).tag(config=True)
    collaborative = Bool(
        help="Real-time collaboration (shared documents for JupyterLab). Default: on where "
        "pycrdt, jupyter_ydoc and the collaboration front end (the rtc extra) are installed."
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

    @default("terminals_enabled")
    def _default_terminals(self) -> bool:
        return terminals_possible()

    @default("collaborative")
    def _default_collaborative(self) -> bool:
        return collaboration_possible()

    @default("log_level")
    def _default_log_level(self) -> int:
        return logging.INFO  # lifecycle events (kernels started, culled, reattached) are shown

    password = Unicode(
        "",
        help="Hashed password accepted by the login page (argon2:..., as `jls password` or "
        "jupyter_server's passwd() write it). With a password, the token is empty unless given.",
    ).tag(config=True)
    certfile = Unicode("", help="TLS certificate (PEM): serve https and wss.").tag(config=True)
    keyfile = Unicode("", help="TLS private key (PEM), if not in the certificate file.").tag(
        config=True
    )
    client_ca = Unicode(
        "", help="CA certificates (PEM) clients must present a certificate from (mutual TLS)."
    ).tag(config=True)
    sock = Unicode("", help="Listen on this Unix socket (mode 0600) instead of a port.").tag(
        config=True
    )
    allow_remote_access = Bool(
        help="Accept requests whose Host is not a local name. Off by default when listening "
        "on a loopback address (a page on a DNS-rebinding domain then cannot reach us)."
    ).tag(config=True)
    local_hostnames = List(
        Unicode(), ["localhost"], help="Host names besides loopback addresses taken as local."
    ).tag(config=True)
    websocket_ping_interval = Float(
        30.0, help="Seconds between pings on kernel websockets (0: none): keeps idle "
        "connections alive through proxies and notices dead peers.",
    ).tag(config=True)  # fmt: skip
    websocket_ping_timeout = Float(
        0.0, help="Seconds without a pong before a websocket is closed (0: tornado's default, "
        "the larger of three intervals and 30 s).",
    ).tag(config=True)  # fmt: skip
    shutdown_no_activity_timeout = Float(
        0.0, help="Stop the server after this many seconds with no request and no kernel "
        "(0: never).",
    ).tag(config=True)  # fmt: skip
    authenticate_prometheus = Bool(
        True, help="/metrics needs the token like the API (False: open to anyone who can reach it)."
    ).tag(config=True)

    @default("allow_remote_access")
    def _default_allow_remote_access(self) -> bool:
        # Under JupyterHub the proxy sends the hub's public host name.
        return not is_loopback(self.ip) or started_by_hub()

    @property
    def token_was_generated(self) -> bool:
        """A token we made up (printed in full so the user can click it)."""
        return getattr(self, "_token_generated", False)

    @default("token")
    def _default_token(self) -> str:
        if self.password:
            return ""  # the password is the way in, as with jupyter_server
        self._token_generated = True
        return secrets.token_hex(24)

    @default("root_dir")
    def _default_root_dir(self) -> str:
        return os.getcwd()

    @validate("root_dir")
    def _validate_root_dir(self, proposal: Any) -> str:
        value = os.path.abspath(os.path.expanduser(proposal["value"]))
        if os.path.exists(value) and not os.path.isdir(value):
            raise ValueError(f"root directory {value!r} is a file, not a directory")
        if not os.path.isdir(value):
            raise ValueError(f"root directory {value!r} does not exist")
        return value

    @validate("base_url")
    def _validate_base_url(self, proposal: Any) -> str:
        value = proposal["value"]
        return "/" + value.strip("/") + "/" if value.strip("/") else "/"
