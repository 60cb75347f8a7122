"""REST handlers for /api/kernels: thin wrappers over the MappingKernelManager."""

from __future__ import annotations

import contextlib

from tornado.escape import url_escape

from ..web.base import ApiError, APIHandler
from .lifecycle.finder import NoSuchKernel
from .manager import KernelStartError, MappingKernelManager, UnknownKernel

KERNEL_ID = r"(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)"


class KernelAPIHandler(APIHandler):
    @property
    def kernel_manager(self) -> MappingKernelManager:
        return self.settings["kernel_manager"]

    def kernel_url(self, kernel_id: str) -> str:
        return f"{self.settings['base_url']}api/kernels/{url_escape(kernel_id)}"

    def lookup(self, kernel_id: str):
        try:
            return self.kernel_manager.get(kernel_id)
        except UnknownKernel as exc:
            raise ApiError(404, str(exc), "Not Found") from None


class MainKernelHandler(KernelAPIHandler):
    def get(self) -> None:
        self.finish_json(self.kernel_manager.list_models())

    async def post(self) -> None:
        body = self.get_json_body()
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise ApiError(400, "Kernel name must be a string", "Bad Request")
        environment = body.get("environment")  # a kernel model's "environment", to start again
        if environment is not None and not isinstance(environment, dict):
            raise ApiError(400, "Kernel environment must be an object", "Bad Request")
        cwd = None
        if body.get("path") is not None:
            cwd = self.settings["cwd_for_path"](body["path"])
        try:
            kernel_id = await self.kernel_manager.start_kernel(
                name=name or None, cwd=cwd, environment=environment or None
            )
        except NoSuchKernel as exc:
            raise ApiError(400, str(exc), "Bad Request") from None
        except UnknownKernel as exc:
            raise ApiError(409, f"{exc}: shut down before it was ready", "Conflict") from None
        except KernelStartError as exc:
            raise ApiError(exc.http_status, str(exc), "Kernel start failed") from None
        try:
            model = self.kernel_manager.get(kernel_id).model()
        except UnknownKernel:
            model = None
        if model is None:
            raise ApiError(409, f"Kernel {kernel_id} was shut down before it was ready", "Conflict")
        self.set_header("Location", self.kernel_url(kernel_id))
        self.finish_json(model, status=201)


class KernelHandler(KernelAPIHandler):
    def get(self, kernel_id: str) -> None:
        self.finish_json(self.lookup(kernel_id).model())

    async def delete(self, kernel_id: str) -> None:
        self.lookup(kernel_id)
        # A concurrent request may have shut it down first: the outcome is the same.
        with contextlib.suppress(UnknownKernel):
            await self.kernel_manager.shutdown_kernel(kernel_id, wait=False)
        self.set_status(204)
        self.finish()


class KernelActionHandler(KernelAPIHandler):
    async def post(self, kernel_id: str, action: str) -> None:
        self.lookup(kernel_id)
        if action == "interrupt":
            try:
                await self.kernel_manager.interrupt_kernel(kernel_id)
            except KernelStartError as exc:  # a remote kernel's service failed
                raise ApiError(exc.http_status, str(exc), "Kernel interrupt failed") from None
            self.set_status(204)
            self.finish()
            return
        try:
            kernel = await self.kernel_manager.restart_kernel(kernel_id)
        except KernelStartError as exc:
            raise ApiError(exc.http_status, str(exc), "Kernel restart failed") from None
        except UnknownKernel as exc:
            raise ApiError(404, str(exc), "Not Found") from None
        self.finish_json(kernel.model())


def routes() -> list[tuple[str, type]]:
    from .websocket import KernelChannelsHandler

    return [
        (r"api/kernels/?", MainKernelHandler),
        (rf"api/kernels/{KERNEL_ID}/?", KernelHandler),
        (rf"api/kernels/{KERNEL_ID}/(?P<action>restart|interrupt)/?", KernelActionHandler),
        (rf"api/kernels/{KERNEL_ID}/channels", KernelChannelsHandler),
    ]
