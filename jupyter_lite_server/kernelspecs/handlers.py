"""/api/kernelspecs and /kernelspecs/<name>/<file> (logos and other resources)."""

from __future__ import annotations

import mimetypes
import os

from tornado.escape import url_escape

from ..kernels.lifecycle.finder import FoundKernel, NoSuchKernel
from ..kernels.providers.base import KernelStartError
from ..web.base import ApiError, APIHandler, BaseHandler

NAME = r"(?P<kernel_name>[\w.\-%]+)"


def kernelspec_model(found: FoundKernel, base_url: str) -> dict:
    """jupyter_server's kernelspec model: name, spec, resource URLs."""
    prefix = f"{base_url}kernelspecs/{url_escape(found.name, plus=False)}/"
    resources = {
        key: prefix + url_escape(os.path.basename(path), plus=False)
        for key, path in found.kernel_type.resources.items()
    }
    return {"name": found.name, "spec": found.kernel_type.spec, "resources": resources}


class MainKernelSpecHandler(APIHandler):
    async def get(self) -> None:
        finder = self.settings["kernel_manager"].finder
        found = await finder.find_kernels()
        names = [k.name for k in found]
        preferred = self.settings["kernel_manager"].default_kernel_name
        default = preferred if preferred in names else (names[0] if names else preferred)
        base_url = self.settings["base_url"]
        self.finish_json(
            {
                "default": default,
                "kernelspecs": {k.name: kernelspec_model(k, base_url) for k in found},
            }
        )


class KernelSpecHandler(APIHandler):
    async def get(self, kernel_name: str) -> None:
        try:
            found = await self.settings["kernel_manager"].finder.resolve(kernel_name)
        except NoSuchKernel:
            raise ApiError(404, f"Kernel spec {kernel_name!r} not found", "Not Found") from None
        self.finish_json(kernelspec_model(found, self.settings["base_url"]))


class KernelSpecResourceHandler(BaseHandler):
    async def get(self, kernel_name: str, filename: str) -> None:
        try:
            found = await self.settings["kernel_manager"].finder.resolve(kernel_name)
        except NoSuchKernel:
            raise ApiError(404, f"Kernel spec {kernel_name!r} not found", "Not Found") from None
        try:
            data = await found.provider.read_resource(found.kernel_type, filename)
        except KernelStartError as exc:  # a gateway that cannot be reached: 502
            raise ApiError(exc.http_status, str(exc), "Resource unavailable") from None
        if data is None:
            raise ApiError(404, f"Kernel spec {kernel_name!r} has no resource {filename!r}")
        self.set_header(
            "Content-Type", mimetypes.guess_type(filename)[0] or "application/octet-stream"
        )
        self.set_header("Cache-Control", "max-age=3600")
        self.finish(data)

    def write_error(self, status_code: int, **kwargs) -> None:
        APIHandler.write_error(self, status_code, **kwargs)  # type: ignore[arg-type]


def routes() -> list[tuple[str, type]]:
    return [
        (r"api/kernelspecs/?", MainKernelSpecHandler),
        (rf"api/kernelspecs/{NAME}/?", KernelSpecHandler),
        (rf"kernelspecs/{NAME}/(?P<filename>[^/]+)", KernelSpecResourceHandler),
    ]
