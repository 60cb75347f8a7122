"""Kernels on a Jupyter Kernel Gateway or Enterprise Gateway (``gateway`` provider).

What jupyter_server's ``--gateway-url`` does, as a provider: the gateway's
kernelspecs are listed (instead of the local ones, or beside them with
``local_kernels``), kernels are started, interrupted, restarted and shut
down through its REST API, and their websocket is bridged to the ZMQ ports
the server uses for every kernel (see bridge.py). Enterprise Gateway then
schedules the kernels on Kubernetes, YARN or Docker; that is how jls reaches
a cluster today (docs/scale-out.md).
"""

from __future__ import annotations

import getpass
import os
import time
from typing import Any
from urllib.parse import quote, unquote

from traitlets import Bool, Dict, Float, Int, List, Unicode

from ..base import ConfigurableProvider, KernelStartError, KernelType, LaunchedKernel, LaunchRequest
from .bridge import KernelBridge
from .client import GatewayClient, GatewayError, GatewaySettings


class GatewayKernel(LaunchedKernel):
    """A kernel on the gateway, reached through its bridge."""

    def __init__(self, client: GatewayClient, bridge: KernelBridge) -> None:
        self.client = client
        self.bridge = bridge
        self.remote_id = bridge.remote_id
        self.connection_info = bridge.connection_info
        self._path = f"/api/kernels/{quote(self.remote_id)}"

    async def interrupt(self) -> None:
        await self.client.request("POST", f"{self._path}/interrupt", retry=False)

    async def restart(self, now: bool = False) -> None:
        if not self.bridge.alive:
            raise KernelStartError(f"Cannot restart kernel {self.remote_id}: {self.bridge.failure}")
        status, _ = await self.client.request("POST", f"{self._path}/restart", retry=False)
        if status == 404:
            raise KernelStartError(f"The gateway {self.client.base} no longer has this kernel")

    async def shutdown(self, now: bool = False) -> None:
        """Delete the remote kernel, unless the gateway lost it or is gone itself."""
        try:
            if self.bridge.remote_may_exist:
                await self.client.request("DELETE", self._path)
        except GatewayError as exc:
            self.bridge.failure = self.bridge.failure or str(exc)
            raise
        finally:
            await self.bridge.close()

    async def is_alive(self) -> bool:
        return self.bridge.alive

    def describe(self) -> dict[str, Any]:
        return {"gateway": self.client.base, "remote_id": self.remote_id}

    def reattach_info(self) -> dict[str, Any]:
        return {"remote_id": self.remote_id, "gateway": self.client.base}

    def failure_details(self) -> str:
        return self.bridge.failure


class GatewayProvider(ConfigurableProvider):
    """Kernels on a remote Jupyter Kernel Gateway or Enterprise Gateway."""

    url = Unicode(
        "", help="Base URL of the gateway (http://host:8888); empty turns the provider off."
    ).tag(config=True)
    ws_url = Unicode("", help="Websocket base URL, when not the URL with ws:// or wss://.").tag(
        config=True
    )
    auth_token = Unicode(
        os.environ.get("JLS_GATEWAY_AUTH_TOKEN", ""),
        help="Token sent as 'Authorization: <auth_scheme> <token>' (env JLS_GATEWAY_AUTH_TOKEN).",
    ).tag(config=True)
    auth_scheme = Unicode("token", help="Scheme word before the token.").tag(config=True)
    headers = Dict(
        value_trait=Unicode(), help="Extra HTTP headers on every request and websocket."
    ).tag(config=True)
    connect_timeout = Float(10.0, help="Seconds to establish a connection.").tag(config=True)
    request_timeout = Float(60.0, help="Seconds for a request (a kernel start included).").tag(
        config=True
    )
    retries = Int(3, help="Retries of a request the gateway never received.").tag(config=True)
    retry_interval = Float(0.5, help="First pause between retries (doubling).").tag(config=True)
    validate_cert = Bool(True, help="Check the gateway's TLS certificate.").tag(config=True)
    ca_certs = Unicode("", help="CA bundle for the gateway's certificate.").tag(config=True)
    ping_interval = Float(
        30.0, help="Seconds between websocket pings; a gateway that stops answering is dead."
    ).tag(config=True)
    local_kernels = Bool(
        False, help="List the local providers' kernels beside the gateway's (else instead)."
    ).tag(config=True)
    kernel_username = Unicode(
        help="KERNEL_USERNAME sent with each start (default: $KERNEL_USERNAME, the hub "
        "user under JupyterHub, else the OS user)."
    ).tag(config=True)
    allowed_envs = List(
        Unicode(), help="Names of server environment variables passed to remote kernels."
    ).tag(config=True)
    env = Dict(value_trait=Unicode(), help="Fixed environment for every remote kernel.").tag(
        config=True
    )
    kernelspecs_ttl = Float(10.0, help="Seconds a kernelspec listing is reused.").tag(config=True)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._specs: list[KernelType] = []
        self._specs_at = 0.0
        self._last_listing_error = ""
        self._client: GatewayClient | None = None

    @property
    def client(self) -> GatewayClient:
        if self._client is None:
            self._client = GatewayClient(
                GatewaySettings(
                    url=self.url,
                    ws_url=self.ws_url,
                    headers=dict(self.headers),
                    auth_token=self.auth_token,
                    auth_scheme=self.auth_scheme,
                    connect_timeout=self.connect_timeout,
                    request_timeout=self.request_timeout,
                    retries=self.retries,
                    retry_interval=self.retry_interval,
                    validate_cert=self.validate_cert,
                    ca_certs=self.ca_certs or None,
                    ping_interval=self.ping_interval,
                )
            )
        return self._client

    def replaces_other_providers(self) -> bool:
        return bool(self.url) and not self.local_kernels

    async def find_kernels(self) -> list[KernelType]:
        """The gateway's kernelspecs; the last good listing while it is unreachable."""
        if not self.url:
            return []
        if self._specs_at and time.monotonic() - self._specs_at < self.kernelspecs_ttl:
            return self._specs
        try:
            _, body = await self.client.request("GET", "/api/kernelspecs")
        except GatewayError as exc:
            if str(exc) != self._last_listing_error:
                self.log.warning("Cannot list the gateway's kernels: %s", exc)
                self._last_listing_error = str(exc)
            return self._specs
        self._last_listing_error = ""
        specs = (body or {}).get("kernelspecs") or {}
        self._specs = [
            KernelType(
                name=name,
                spec=dict(entry.get("spec") or {}),
                resources=_resource_files(entry.get("resources")),
            )
            for name, entry in sorted(specs.items())
            if isinstance(entry, dict)
        ]
        self._specs_at = time.monotonic()
        return self._specs

    async def read_resource(self, kernel_type: KernelType, filename: str) -> bytes | None:
        """A logo of a remote kernelspec, fetched from the gateway with our credentials
        (a browser could neither reach the gateway nor authenticate there)."""
        if filename not in kernel_type.resources.values():
            return None
        return await self.client.fetch_bytes(
            f"/kernelspecs/{quote(kernel_type.name)}/{quote(filename)}"
        )

    def _kernel_env(self, request: LaunchRequest) -> dict[str, str]:
        """What the gateway gets: KERNEL_* variables, allowed ones, the configured ones."""
        env = {k: v for k, v in os.environ.items() if k.startswith("KERNEL_")}
        env.update({k: os.environ[k] for k in self.allowed_envs if k in os.environ})
        env.update(self.env)
        env.update(
            {
                k: v
                for k, v in request.env.items()
                if k.startswith("KERNEL_") or k in self.allowed_envs
            }
        )
        env["KERNEL_USERNAME"] = (
            self.kernel_username
            or env.get("KERNEL_USERNAME")
            or os.environ.get("JUPYTERHUB_USER")  # a hub's single-user server: the hub user
            or getpass.getuser()
        )
        env.setdefault("KERNEL_LAUNCH_TIMEOUT", str(int(self.request_timeout)))
        return env

    async def launch(self, name: str, request: LaunchRequest) -> LaunchedKernel:
        if not self.url:
            raise KernelStartError("No gateway is configured (GatewayProvider.url)")
        _, model = await self.client.request(
            "POST", "/api/kernels", {"name": name, "env": self._kernel_env(request)}, retry=False
        )
        if not isinstance(model, dict) or not model.get("id"):
            raise KernelStartError(f"Gateway {self.url} answered a kernel start without an id")
        bridge = KernelBridge(self.client, model["id"], in_process=not request.persistent)
        try:
            bridge.bind()
        except BaseException as exc:  # leave nothing running on the gateway
            await bridge.close()
            try:
                await self.client.request("DELETE", f"/api/kernels/{quote(model['id'])}")
            except GatewayError as cleanup:
                self.log.error("Could not delete gateway kernel %s: %s", model["id"], cleanup)
            if isinstance(exc, Exception):  # zmq.ZMQError, OSError: not cancellation
                raise KernelStartError(f"No local sockets for the gateway kernel: {exc}") from exc
            raise
        bridge.open_in_background()  # the start answers now, as the kernel starts up remotely
        return GatewayKernel(self.client, bridge)

    async def reattach(
        self, name: str, kernel_id: str, connection_info: dict[str, Any], info: dict[str, Any]
    ) -> LaunchedKernel | None:
        """The gateway's kernel behind a stored record, on the same local ports and key."""
        remote_id = info.get("remote_id")
        if not remote_id or not self.url:
            return None
        status, _ = await self.client.request("GET", f"/api/kernels/{quote(remote_id)}")
        if status == 404:
            return None
        bridge = KernelBridge(self.client, remote_id, dict(connection_info))
        try:
            bridge.bind()
            await bridge.open()
        except Exception as exc:
            await bridge.close()
            raise KernelStartError(f"Gateway kernel {remote_id} cannot be reached: {exc}") from exc
        return GatewayKernel(self.client, bridge)


def _resource_files(resources: Any) -> dict[str, str]:
    """The gateway's resource URLs (``/kernelspecs/python3/logo-64x64.png``) as file names."""
    if not isinstance(resources, dict):
        return {}
    files = {}
    for key, url in resources.items():
        if isinstance(url, str):
            filename = unquote(url.rstrip("/").rsplit("/", 1)[-1])
            if filename:
                files[str(key)] = filename
    return files
