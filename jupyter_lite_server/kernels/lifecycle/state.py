"""The life cycle of one kernel: an explicit state and the transitions allowed from it.

::

    STARTING ──ready──> READY ──restart / death──> RESTARTING ──ready──> READY ...
       │  └──restart──> RESTARTING                    │
       │                                              └──restart failed──> DEAD
       ├──start failed──> DEAD ──removed──> GONE
       └──shutdown──> CLOSING ──stopped──> GONE       (CLOSING from STARTING, READY, RESTARTING)

Every task that acts on a kernel (start-up check, restart, shutdown, death
watch, culler, pool hand-out, reattach) asks this object what the kernel is
doing instead of reading flags, and moves it on with :meth:`Lifecycle.to`,
which refuses a transition the diagram does not have. ``docs/lifecycle.md``
explains each edge.

Two futures hang off the state: *ready* (pending while STARTING or
RESTARTING, resolved on READY, failed when the kernel ends before it got
there) and *gone* (resolved on GONE), so that whoever must wait for a kernel
waits on the state itself.
"""

from __future__ import annotations

import asyncio
import enum


class KernelState(enum.Enum):
    STARTING = "starting"  # launched; the start-up check has not yet seen it answer
    READY = "ready"  # answering; clients' messages go straight through
    RESTARTING = "restarting"  # a restart (a client's, or after a death) is under way
    CLOSING = "closing"  # shut down on purpose (a client, the culler, the server exiting)
    DEAD = "dead"  # failed (start-up, restart, deaths beyond the limit): being removed
    GONE = "gone"  # removed: nothing of it runs, no one lists it


S = KernelState

#: The diagram above, as data: the states each state may move to.
TRANSITIONS: dict[KernelState, frozenset[KernelState]] = {
    S.STARTING: frozenset({S.READY, S.RESTARTING, S.CLOSING, S.DEAD}),
    S.READY: frozenset({S.RESTARTING, S.CLOSING, S.DEAD}),
    S.RESTARTING: frozenset({S.READY, S.CLOSING, S.DEAD}),
    S.CLOSING: frozenset({S.GONE}),
    S.DEAD: frozenset({S.GONE}),
    S.GONE: frozenset(),
}

#: States in which the kernel is on its way out (or out): no new work is taken.
ENDING = frozenset({S.CLOSING, S.DEAD, S.GONE})


class IllegalTransition(RuntimeError):
    """A transition the diagram does not allow: a bug in whoever asked for it."""


class UnknownKernel(KeyError):
    """No kernel with that id (never started here, or gone)."""

    def __str__(self) -> str:
        return f"Kernel does not exist: {self.args[0]}"


class KernelEnded(RuntimeError):
    """The kernel was shut down or removed before it became ready."""


class Lifecycle:
    """One kernel's state, with futures for "ready" and "gone"."""

    def __init__(self) -> None:
        self._state = S.STARTING
        #: How the kernel ended, once it does: CLOSING (on purpose) or DEAD (failed).
        self.ended_as: KernelState | None = None
        loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[None] = loop.create_future()
        self._gone: asyncio.Future[None] = loop.create_future()

    def __repr__(self) -> str:
        return f"<Lifecycle {self._state.value}>"

    @property
    def state(self) -> KernelState:
        return self._state

    @property
    def is_ready(self) -> bool:
        return self._state is S.READY

    @property
    def is_ending(self) -> bool:
        return self._state in ENDING

    def can(self, new: KernelState) -> bool:
        return new in TRANSITIONS[self._state]

    def to(self, new: KernelState) -> None:
        """Move to ``new``; IllegalTransition if the diagram has no such edge."""
        if not self.can(new):
            raise IllegalTransition(f"kernel cannot go from {self._state.value} to {new.value}")
        old, self._state = self._state, new
        if new in (S.CLOSING, S.DEAD):
            self.ended_as = new
        if new is S.RESTARTING and self._ready.done():
            # Coming from READY: a fresh wait. From STARTING the pending future stays, so
            # whoever waits for the start now waits for the restarted kernel.
            self._ready = asyncio.get_running_loop().create_future()
        if new is S.READY and not self._ready.done():
            self._ready.set_result(None)
        if new in ENDING and old not in ENDING and not self._ready.done():
            self._fail_ready(KernelEnded(f"kernel {new.value} before it was ready"))
        if new is S.GONE and not self._gone.done():
            self._gone.set_result(None)

    def try_to(self, new: KernelState) -> bool:
        """Move to ``new`` if allowed; False (and no change) otherwise."""
        if not self.can(new):
            return False
        self.to(new)
        return True

    def fail_start(self, reason: BaseException) -> None:
        """The start-up (or restart) check failed: whoever waits for readiness is told why.

        The state does not change here: the manager decides what the failure means.
        """
        if not self._ready.done():
            self._fail_ready(reason)

    def _fail_ready(self, reason: BaseException) -> None:
        self._ready.set_exception(reason)
        self._ready.exception()  # retrieved: an unobserved failure is not an asyncio warning

    @property
    def ready(self) -> asyncio.Future[None]:
        """Resolves when the kernel is READY; fails if its start-up check fails or it ends."""
        return self._ready

    async def wait_ready(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    async def wait_gone(self) -> None:
        await asyncio.shield(self._gone)
