"""A warm pool: kernels started ahead of demand, handed out already running.

For each configured kernel name the pool keeps N kernels launched and ready,
invisible in /api/kernels. A start request takes one and adapts it to the
request with a silent ``execute_request``:

* the working directory (``os.chdir``),
* the request's environment variables (``os.environ.update``), among them
  ``JPY_SESSION_NAME``, and ``__session__`` as ipykernel sets it at start-up.

What a pooled kernel cannot change: anything the kernel computed from its
environment or directory *before* it was handed out (modules already imported,
``sys.path`` entries added at start-up from the directory, a kernelspec whose
``argv`` depends on the request). Therefore only kernels whose spec says
``language: python`` (the adaptation is Python code) can be pooled; a pool
configured for any other kernel is refused at start-up with a clear error.
If the adaptation fails, the pooled kernel is shut down and a fresh one is
launched, so a request never gets a kernel in the wrong place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..timeutil import utcnow
from .lifecycle.finder import NoSuchKernel
from .lifecycle.state import KernelState

if TYPE_CHECKING:
    from .lifecycle.finder import KernelFinder
    from .lifecycle.kernel import ManagedKernel

log = logging.getLogger("jls.kernels")

MAX_POOL_SIZE = 64


class PoolConfigError(ValueError):
    """The pool configuration cannot be honoured."""


def validate_pool(pool: dict[str, int]) -> dict[str, int]:
    for name, size in pool.items():
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise PoolConfigError(
                f"pool size for {name!r} must be a whole number >= 0, not {size!r}"
            )
        if size > MAX_POOL_SIZE:
            raise PoolConfigError(
                f"pool size {size} for {name!r} is absurd (at most {MAX_POOL_SIZE}: each pooled "
                "kernel is a running process)"
            )
    return {name: size for name, size in pool.items() if size > 0}


def adaptation_code(cwd: str, env: dict[str, str]) -> str:
    """Python that moves a pooled kernel to ``cwd`` and sets ``env``."""
    lines = ["import os as _jls_os", f"_jls_os.chdir({json.dumps(cwd)})"]
    if env:
        lines.append(f"_jls_os.environ.update({json.dumps(env)})")
    if "JPY_SESSION_NAME" in env:
        lines.append(f"__session__ = {json.dumps(env['JPY_SESSION_NAME'])}")
    lines.append("del _jls_os")
    return "\n".join(lines)


async def adapt(kernel: ManagedKernel, cwd: str, env: dict[str, str], timeout: float) -> None:
    """Run the adaptation silently; raise if the kernel does not confirm it."""
    content = {
        "code": adaptation_code(cwd, env),
        "silent": True,
        "store_history": False,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    from .protocol.connection import request  # zmq loads with the first kernel

    identity = uuid.uuid4().hex.encode()
    reply = await request(
        kernel.connection, "shell", "execute_request", content, timeout, identity=identity
    )
    if reply.content().get("status") != "ok":
        raise RuntimeError(f"adapting a pooled kernel failed: {reply.content()}")


class WarmPool:
    """Keeps the pool full: fills it in the background, hands kernels out, replaces the dead.

    It launches through the manager's ``launch`` (the same path as any kernel),
    and never delays a request: refills run as background tasks, and a type that
    fails to start is retried after ``retry_delay`` seconds, not in a loop.
    """

    retry_delay = 30.0

    def __init__(
        self,
        sizes: dict[str, int],
        launch: Callable[[str, str, dict[str, str]], Awaitable[ManagedKernel]],
        root_dir: str,
        forget: Callable[[str], None] | None = None,
    ) -> None:
        self.pool = KernelPool(sizes)
        self._launch = launch
        self._forget = forget  # told the id of every pooled kernel that is discarded
        self._root_dir = root_dir
        self._tasks: set[asyncio.Future] = set()
        self.stopping = False
        self.handed_out = 0

    async def check(self, finder: KernelFinder) -> None:
        """Refuse kernels that cannot be pooled, with a reason a person can act on."""
        for name in self.pool.sizes:
            try:
                found = await finder.resolve(name)
            except NoSuchKernel:
                raise PoolConfigError(f"pool configured for unknown kernel {name!r}") from None
            if found.kernel_type.spec.get("language") != "python":
                raise PoolConfigError(
                    f"kernel {name!r} cannot be pooled: only Python kernels can be moved to a "
                    "request's directory and environment after start-up"
                )

    def fill(self) -> None:
        for name, size in self.pool.sizes.items():
            log.info("Keeping %d %s kernel(s) ready", size, name)
            self.refill(name)

    async def take(self, name: str, cwd: str, env: dict[str, str]) -> ManagedKernel | None:
        """A pooled kernel moved to ``cwd`` with ``env``, or None (then launch a fresh one)."""
        kernel = self.pool.take(name)
        if kernel is None:
            return None
        self.refill(name)
        try:
            await adapt(kernel, cwd, env, timeout=10)
        except Exception as exc:
            log.warning("Pooled kernel %s could not be adapted (%s); starting a fresh one",
                        kernel.id, exc)  # fmt: skip
            await self._discard(kernel)
            return None
        # Our silent request is done and no client has it yet: it is idle, even if the
        # idle status of that request has not reached us before its reply.
        kernel.execution_state = "idle"
        kernel.last_activity = utcnow()
        log.info("Kernel %s (%s) handed out from the pool", kernel.id, name)
        self.handed_out += 1
        return kernel

    def refill(self, name: str, delay: float = 0.0) -> None:
        if self.stopping:
            return
        for _ in range(max(0, self.pool.missing(name))):
            self.pool.filling[name] += 1
            task = asyncio.ensure_future(self._fill_one(name, delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fill_one(self, name: str, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            kernel = await self._launch(name, self._root_dir, {})
            try:
                await kernel.lifecycle.wait_ready()
            except Exception:
                await self._discard(kernel)
                raise
            if self.stopping:
                await self._discard(kernel)
                return
            self.pool.kernels[name].append(kernel)
            log.info("Kernel %s ready in the %s pool", kernel.id, name)
        except Exception as exc:
            log.error("Could not fill the %s pool: %s; retrying in %.0f s",
                      name, exc, self.retry_delay)  # fmt: skip
            self.pool.filling[name] -= 1
            self.refill(name, delay=self.retry_delay)
            return
        self.pool.filling[name] -= 1

    async def watch(self) -> None:
        """A pooled kernel that died is replaced, never handed out."""
        for kernel in self.pool.all_kernels():
            if not await kernel.launched.is_alive():
                log.warning("Pooled kernel %s died; replacing it", kernel.id)
                self.pool.discard(kernel)
                await self._discard(kernel)
                self.refill(kernel.name)

    async def _discard(self, kernel: ManagedKernel) -> None:
        try:
            if kernel.lifecycle.try_to(KernelState.CLOSING):
                kernel.close_streams()
                try:
                    await kernel.launched.shutdown(now=True)
                finally:
                    kernel.lifecycle.to(KernelState.GONE)
            else:
                await kernel.lifecycle.wait_gone()  # a failed start is being removed already
        finally:
            if self._forget is not None:
                self._forget(kernel.id)

    def has_kernels(self) -> bool:
        return bool(self.pool.all_kernels())

    def stop(self) -> list[ManagedKernel]:
        """Stop refilling; the pooled kernels, for the caller to shut down."""
        self.stopping = True
        for task in self._tasks:
            task.cancel()
        kernels = self.pool.all_kernels()
        for waiting in self.pool.kernels.values():
            waiting.clear()
        return kernels


class KernelPool:
    """Ready kernels per name, not yet handed out."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.kernels: dict[str, deque[ManagedKernel]] = {name: deque() for name in sizes}
        self.filling: dict[str, int] = dict.fromkeys(sizes, 0)

    def take(self, name: str) -> ManagedKernel | None:
        """A ready pooled kernel of ``name``, if one is there."""
        waiting = self.kernels.get(name)
        if not waiting:
            return None
        for _ in range(len(waiting)):
            kernel = waiting.popleft()
            if kernel.is_ready:
                return kernel
            waiting.append(kernel)  # still starting: keep it for later
        return None

    def missing(self, name: str) -> int:
        return self.sizes.get(name, 0) - len(self.kernels.get(name, ())) - self.filling.get(name, 0)

    def all_kernels(self) -> list[ManagedKernel]:
        return [k for waiting in self.kernels.values() for k in waiting]

    def discard(self, kernel: ManagedKernel) -> None:
        waiting = self.kernels.get(kernel.name)
        if waiting and kernel in waiting:
            waiting.remove(kernel)
