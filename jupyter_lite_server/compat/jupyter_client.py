"""jupyter_client's kernel manager, where jls depends on its private parts.

* ``_async_finish_shutdown(waittime, pollinterval, restart)``: we poll for the
  process's exit every 10 ms instead of 100 ms (same shutdown steps).
* ``_control_socket`` / ``_close_control_socket``: closed without lingering
  (see :meth:`FastShutdownKernelManager._close_control_socket`).
* ``_async_post_start_kernel``: connects that socket; we close it again (see
  :meth:`FastShutdownKernelManager._async_post_start_kernel`).
* ``KernelSpecManager._kernel_dirs_default``: see :class:`LeanKernelSpecManager`.
* ``_attempted_start`` and ``_launch_args``: what ``start_kernel`` records and
  ``restart_kernel`` relaunches with; a kernel adopted from an earlier server
  was never started by this manager, so they are set by hand.
"""

from __future__ import annotations

import os
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_path
from traitlets import default


class LeanKernelSpecManager(KernelSpecManager):
    """jupyter_client's kernelspec manager, without importing IPython into the server.

    To add ``~/.ipython/kernels`` to the search path, jupyter_client imports
    ``IPython.paths``, which imports all of IPython (jedi, parso, pygments): 22 MB
    in the server and a few hundred ms holding the GIL, for one directory name.
    Same directories, found the way IPython finds its own (``IPYTHONDIR``, else
    ``~/.ipython``); a configured ``kernel_dirs`` still wins.
    """

    def _kernel_dirs_default(self) -> list[str]:
        ipython_dir = os.environ.get("IPYTHONDIR") or os.path.join(
            os.path.expanduser("~"), ".ipython"
        )
        return [*jupyter_path("kernels"), os.path.join(ipython_dir, "kernels")]


class FastShutdownKernelManager(AsyncKernelManager):
    """jupyter_client's manager, polling for process exit every 10 ms instead of 100 ms,
    on the server's one ZMQ context.

    Same shutdown steps; a kernel that exits promptly after ``shutdown_request``
    is noticed sooner. The plain AsyncKernelManager has no restarter of its
    own: deaths are the MappingKernelManager's business, so that a dead kernel
    is never restarted twice by two watchers.
    """

    @default("context")
    def _shared_context(self) -> zmq.asyncio.Context:
        """The server's one ZMQ context. jupyter_client makes a context per manager,
        and each starts two threads (I/O and reaper) with their stacks and malloc
        arenas: memory per kernel a server with 100 kernels pays 100 times. Not
        created here, so the manager never destroys it."""
        return zmq.asyncio.Context.shadow(zmq.Context.instance().underlying)

    async def _async_finish_shutdown(
        self, waittime: float | None = None, pollinterval: float = 0.01, restart: bool = False
    ) -> None:
        await super()._async_finish_shutdown(waittime, pollinterval, restart)

    async def _async_post_start_kernel(self, **kw: Any) -> None:
        """Start as jupyter_client does, without keeping the control socket connected.

        jupyter_client connects it here and again before each use (shutdown and
        interrupt requests), so holding it is not needed: an idle kernel kept a TCP
        connection, a ZMQ socket and ~50 KB of the server's memory for it (measured
        with 100 idle kernels), paid 100 times by a server with 100 kernels.
        """
        await super()._async_post_start_kernel(**kw)
        self._close_control_socket()  # nothing was sent on it yet

    def _close_control_socket(self) -> None:
        """Drop what the control socket still holds instead of lingering 100 ms.

        It is closed once the process has ended. A ``shutdown_request`` sent to a
        kernel that was already dead (killed by jupyter_client's interrupt during
        its start-up) is still queued then; a restarted kernel binds the same
        ports, and one that starts within the linger time (a forked kernel takes
        ~50 ms) received it and shut itself down: the restart failed.
        """
        if self._control_socket is not None:
            self._control_socket.close(linger=0)
            self._control_socket = None


def set_relaunch_arguments(manager: AsyncKernelManager, launch_args: dict[str, Any]) -> None:
    """What ``start_kernel`` would have recorded: ``restart_kernel`` relaunches with these."""
    manager._attempted_start = True
    manager._launch_args = launch_args
