"""CPU-heavy work on large documents runs in worker processes (contents, export).

Python's json parser and encoder hold the GIL for the whole call, so parsing a
50 MB notebook in a thread still stops the event loop for a third of a second:
every kernel's output and every request waits. Work like that goes to a
process instead. Workers are forked from a forkserver that has the worker
module imported (a few milliseconds each) and each does one task and exits,
so the memory a 50 MB parse takes is returned at once and a crash costs one
request. Nothing is started until the first large task; from then on the
forkserver (with its preloaded modules) and multiprocessing's resource
tracker stay, about 80 MB, for the next one.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

NICENESS = 10
#: How often a kept worker checks that the server that started it still runs.
PARENT_CHECK_SECONDS = 1.0


class WorkerCrashed(RuntimeError):
    """The worker process died (killed, out of memory) before it answered."""


class WorkerPool:
    """Worker processes, started with the first task.

    ``fresh_per_task`` (the default): forked from a forkserver that imported
    ``preload``, one task each, niced. Otherwise spawned once with nothing
    preloaded and kept for the next tasks (export: nbconvert's start-up is
    too slow to pay per task).
    """

    def __init__(
        self, preload: list[str], workers: int = 2, fresh_per_task: bool = True
    ) -> None:
        self._preload = preload
        self._workers = workers
        self._fresh = fresh_per_task
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            if self._fresh:
                forkserver = multiprocessing.get_context("forkserver")
                forkserver.set_forkserver_preload(self._preload)
                self._pool = ProcessPoolExecutor(
                    self._workers,
                    mp_context=forkserver,
                    max_tasks_per_child=1,
                    initializer=_end_with_parent,
                )
            else:  # spawn, never fork: the server has threads a fork would copy
                spawn = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    self._workers, mp_context=spawn, initializer=_end_with_parent
                )
        return self._pool

    async def run(self, target: str, *args: Any) -> Any:
        """``module:function`` called with ``args`` in a worker; its exceptions are raised
        here. Named, not imported: the worker's module imports its caller's."""
        try:
            task = self._executor().submit(_call, target, args, self._fresh)
            return await asyncio.wrap_future(task)
        except BrokenProcessPool:
            self._pool = None  # the next task gets a fresh pool
            raise WorkerCrashed(f"the worker process for {target} died") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _end_with_parent() -> None:
    """In a worker: exit once its parent (the server, or the forkserver, which ends with
    the server) is gone. An idle worker waits for its next task on a pipe whose writing
    end it may hold too, so it would never see the server die."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="end with the server", daemon=True).start()


def _call(target: str, args: tuple[Any, ...], nice: bool = True) -> Any:
    if nice and os.nice(0) < NICENESS:
        os.nice(NICENESS)  # batch work: the server and the kernels come first for the CPU
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)(*args)

