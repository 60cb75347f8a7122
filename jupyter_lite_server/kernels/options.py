"""The MappingKernelManager's options, apart from its logic.

They are set as ``c.MappingKernelManager.<option>`` (traitlets reads the
configuration of every class a configurable inherits from).
"""

from __future__ import annotations

import os

from traitlets import Bool, Dict, Enum, Float, Int, Unicode, default
from traitlets.config import LoggingConfigurable


class KernelManagerOptions(LoggingConfigurable):
    """Start, restart, culling, pool, replay and shutdown options of the kernel manager."""


    root_dir = Unicode(help="Directory kernels start in when no path is given.").tag(config=True)
    default_kernel_name = Unicode("python3", help="Kernel started when none is named.").tag(
        config=True
    )
    kernel_start_timeout = Float(
        60.0, help="Seconds a kernel may take to answer kernel_info after launch."
    ).tag(config=True)
    wait_for_ready = Enum(
        ["first", "always", "never"],
        "first",
        help="When a start request answers. 'first': wait until the kernel is ready while its "
        "kernel type has not yet started successfully in this server (and again after one of "
        "its kernels failed at start-up), so a broken kernel is reported with its stderr; "
        "otherwise answer as soon as the process is launched. 'always': always wait. "
        "'never': never wait (start-up failures then reach clients as a dead kernel).",
    ).tag(config=True)
    autorestart = Bool(True, help="Restart kernels that die unexpectedly.").tag(config=True)
    restart_limit = Int(5, help="Deaths within restart_window after which a kernel is dead.").tag(
        config=True
    )
    restart_window = Float(60.0, help="Seconds over which restart_limit is counted.").tag(
        config=True
    )
    watch_interval = Float(1.0, help="Seconds between liveness checks of each kernel.").tag(
        config=True
    )
    cull_idle_timeout = Float(
        0.0,
        help="Shut down kernels idle for longer than this many seconds (0: never). Idle "
        "means no kernel output and no client message for that long.",
    ).tag(config=True)
    cull_interval = Float(300.0, help="Seconds between checks for idle kernels.").tag(config=True)
    cull_connected = Bool(
        False, help="Also cull idle kernels that still have websocket connections."
    ).tag(config=True)
    cull_busy = Bool(False, help="Also cull kernels whose last state was busy.").tag(config=True)
    pool = Dict(
        value_trait=Int(),
        help="Kernels kept started and ready per kernel name, e.g. {'python3': 2}.",
    ).tag(config=True)
    pool_size = Int(0, help="Pool size for the default kernel (shorthand for pool).").tag(
        config=True
    )
    replay_buffer_bytes = Int(
        10 * 1024 * 1024,
        help="Output kept per disconnected client session, replayed when it reconnects.",
    ).tag(config=True)
    replay_sessions_per_kernel = Int(
        16,
        help="Disconnected client sessions whose output is kept per kernel (each holds "
        "three ZMQ sockets and up to replay_buffer_bytes); beyond it the session that left "
        "longest ago is forgotten first.",
    ).tag(config=True)
    client_send_buffer = Int(
        32 * 1024 * 1024,
        help="Bytes a websocket client may have waiting to be sent before further output "
        "for it waits in a backlog of at most replay_buffer_bytes (oldest messages dropped "
        "first, counted and reported to the client): one slow reader can neither exhaust "
        "memory nor slow the other clients of its kernel. A terminal client this far "
        "behind is disconnected (it reconnects to the terminal's recent output).",
    ).tag(config=True)
    replay_buffer_timeout = Float(
        3600.0, help="Seconds a disconnected client's output is kept for it."
    ).tag(config=True)
    shutdown_timeout = Float(
        10.0, help="Seconds a polite shutdown of all kernels may take before they are killed."
    ).tag(config=True)
    keep_kernels = Bool(
        False,
        help="Leave kernels running when the server stops (needs a sessions database on "
        "file); the next server on that database reattaches them.",
    ).tag(config=True)
    reattach_timeout = Float(
        10.0, help="Seconds a kernel found running at start-up may take to answer kernel_info."
    ).tag(config=True)

    @default("root_dir")
    def _default_root_dir(self) -> str:
        return os.getcwd()
