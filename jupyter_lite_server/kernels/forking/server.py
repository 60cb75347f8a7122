"""The kernel fork server: a Python process with ipykernel imported that forks kernels.

Run by path, not as a module of this package (``python server.py FD ROOM``), so
that nothing of the server is imported into kernels. FD is one end of a
``SOCK_SEQPACKET`` socket pair; the server holds the other. One message per
datagram, JSON, from the server::

    {"argv": [...], "env": {...}, "cwd": "..."}  + three descriptors (stdin, stdout, stderr)

and to it: ``{"ready": pid}`` once the imports are done (or ``{"failed": why}``),
``{"spawned": pid}`` or ``{"refused": why}`` for each request in order, and
``{"exited": pid, "returncode": rc}`` (negative: killed by that signal, as
``Popen.returncode``) when a kernel ends. End of file on the socket (the
server exited, however it exited) ends this process; its kernels, watching
their parent, then end too (``JPY_PARENT_PID``).

ROOM is a blank argument that reserves space in the process's command line:
each kernel writes its own argv there, so that ``ps`` and /proc show
``python -m ipykernel_launcher -f kernel-….json`` rather than this file.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import runpy
import selectors
import socket
import sys
import traceback

#: Imported before any fork: what ipykernel imports to start, debugger included.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "tornado.platform.asyncio",
    "tornado.queues",
    "tornado.locks",
)
MAX_MESSAGE = 1 << 20


def main() -> None:
    del sys.path[0]  # this file's directory; each kernel puts its own cwd there
    channel = socket.socket(fileno=int(sys.argv[1]))
    channel.setblocking(True)
    try:
        for name in PRELOAD:
            importlib.import_module(name)
    except Exception as exc:  # ipykernel missing or broken: the server launches as usual
        _send(channel, {"failed": f"{type(exc).__name__}: {exc}"})
        return
    retitle([sys.executable, *sys.argv[:2]])  # ROOM is blank space: not shown
    gc.collect()
    gc.freeze()  # objects of the imports stay out of collections: their pages stay shared
    _send(channel, {"ready": os.getpid()})
    serve(channel)


def serve(channel: socket.socket) -> None:
    """Fork a kernel for each request; report each kernel's end; return at end of file."""
    selector = selectors.DefaultSelector()
    selector.register(channel, selectors.EVENT_READ, None)
    while True:
        for key, _ in selector.select():
            if key.data is not None:  # a kernel's pidfd: it ended
                pid = key.data
                _, status = os.waitpid(pid, 0)
                selector.unregister(key.fd)
                os.close(key.fd)
                _send(channel, {"exited": pid, "returncode": _returncode(status)})
                continue
            data, fds, flags, _ = socket.recv_fds(channel, MAX_MESSAGE, 3)
            if not data:
                return
            try:
                request = json.loads(data)
                if flags & socket.MSG_TRUNC or len(fds) != 3:
                    raise ValueError("a request is JSON and three descriptors")
                if not os.path.isdir(request["cwd"]):
                    raise FileNotFoundError(f"no such directory: {request['cwd']!r}")
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    channel.close()
                    become_kernel(request, fds)  # never returns
            except (ValueError, KeyError, TypeError, OSError) as exc:
                _send(channel, {"refused": f"{type(exc).__name__}: {exc}"})
                continue
            finally:
                for fd in fds:
                    os.close(fd)
            pidfd = os.pidfd_open(pid)
            selector.register(pidfd, selectors.EVENT_READ, pid)
            _send(channel, {"spawned": pid})


def become_kernel(request: dict, fds: list[int]) -> None:
    """In the forked child: take the kernel's streams, session, directory, environment
    and command line, then run ``ipykernel_launcher`` as ``python -m`` would."""
    code: int | str | None = 1
    try:
        os.setsid()  # its own process group: interrupts and kills reach it and its children
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        argv = request["argv"]
        retitle(argv)
        sys.path.insert(0, os.getcwd())  # what ``-m`` puts first; the launcher takes it out
        sys.argv = argv[2:]
        if os.environ.get("JPY_PARENT_PID"):
            # ipykernel read JPY_PARENT_PID when the fork server imported it, not now:
            # its parent poller (end when the parent does) is told by option instead.
            sys.argv.append(f"--IPKernelApp.parent_handle={os.environ['JPY_PARENT_PID']}")
        runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr, flush=True)
            code = 1
        os._exit(code or 0)


def retitle(argv: list[str]) -> None:
    """Write ``argv`` over this process's command line, where /proc and ``ps`` read it.

    Only the space of the original arguments can be used (ROOM reserves it);
    a longer title, or a system that refuses the write, leaves it as it was.
    """
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48, 49)
        title = b"\0".join(os.fsencode(arg) for arg in argv) + b"\0"
        if len(title) > end - start:
            return
        with open("/proc/self/mem", "r+b", buffering=0) as memory:
            memory.seek(start)
            memory.write(title.ljust(end - start, b"\0"))
    except (OSError, ValueError, IndexError):
        pass


def _returncode(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _send(channel: socket.socket, message: dict) -> None:
    channel.send(json.dumps(message).encode())  # one datagram: whole or not at all


if __name__ == "__main__":
    main()
