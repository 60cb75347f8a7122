"""Unit tier: the kernel state machine allows exactly the transitions of its diagram."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from jupyter_lite_server.kernels.lifecycle.state import (
    TRANSITIONS,
    IllegalTransition,
    KernelEnded,
    KernelState,
    Lifecycle,
)

S = KernelState
LEGAL = {
    (S.STARTING, S.READY), (S.STARTING, S.RESTARTING), (S.STARTING, S.CLOSING),
    (S.STARTING, S.DEAD), (S.READY, S.RESTARTING), (S.READY, S.CLOSING), (S.READY, S.DEAD),
    (S.RESTARTING, S.READY), (S.RESTARTING, S.CLOSING), (S.RESTARTING, S.DEAD),
    (S.CLOSING, S.GONE), (S.DEAD, S.GONE),
}  # fmt: skip

PATHS = {  # how to reach each state from a new kernel
    S.STARTING: [],
    S.READY: [S.READY],
    S.RESTARTING: [S.READY, S.RESTARTING],
    S.CLOSING: [S.CLOSING],
    S.DEAD: [S.DEAD],
    S.GONE: [S.CLOSING, S.GONE],
}


def test_the_table_is_the_documented_diagram():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL


@pytest.mark.parametrize("old, new", list(itertools.product(KernelState, KernelState)))
async def test_every_transition_is_allowed_or_refused_as_the_diagram_says(old, new):
    lifecycle = Lifecycle()
    for step in PATHS[old]:
        lifecycle.to(step)
    assert lifecycle.state is old
    if (old, new) in LEGAL:
        lifecycle.to(new)
        assert lifecycle.state is new
    else:
        with pytest.raises(IllegalTransition):
            lifecycle.to(new)
        assert lifecycle.state is old
        assert lifecycle.try_to(new) is False


async def test_ready_resolves_waiters_and_a_restart_makes_them_wait_again():
    lifecycle = Lifecycle()
    waiter = asyncio.ensure_future(lifecycle.wait_ready(1))
    await asyncio.sleep(0)
    assert not waiter.done()
    lifecycle.to(S.READY)
    await waiter
    lifecycle.to(S.RESTARTING)
    assert not lifecycle.ready.done() and not lifecycle.is_ready
    lifecycle.to(S.READY)
    assert lifecycle.ready.done() and lifecycle.is_ready


async def test_a_restart_during_start_up_keeps_the_start_waiting_for_the_restarted_kernel():
    lifecycle = Lifecycle()
    started = lifecycle.ready
    lifecycle.to(S.RESTARTING)
    assert lifecycle.ready is started and not started.done()
    lifecycle.to(S.READY)
    assert started.done() and started.exception() is None


async def test_a_kernel_shut_down_while_starting_fails_the_wait_and_says_how_it_ended():
    lifecycle = Lifecycle()
    lifecycle.to(S.CLOSING)
    with pytest.raises(KernelEnded):
        await lifecycle.wait_ready(1)
    assert lifecycle.ended_as is S.CLOSING and lifecycle.is_ending
    gone = asyncio.ensure_future(lifecycle.wait_gone())
    await asyncio.sleep(0)
    assert not gone.done()
    lifecycle.to(S.GONE)
    await asyncio.wait_for(gone, 1)


async def test_a_failed_start_check_reaches_the_waiter_without_changing_the_state():
    lifecycle = Lifecycle()
    lifecycle.fail_start(RuntimeError("died during start-up"))
    assert lifecycle.state is S.STARTING
    with pytest.raises(RuntimeError, match="died"):
        await lifecycle.wait_ready(1)
    lifecycle.to(S.DEAD)
    assert lifecycle.ended_as is S.DEAD
