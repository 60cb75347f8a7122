"""Unit tier: the restart budget and the culling rules."""

from __future__ import annotations

from jupyter_lite_server.kernels.lifecycle.watch import CullRules, RestartBudget


def test_restarts_are_allowed_until_the_limit_within_the_window():
    budget = RestartBudget(limit=3, window=60)
    assert budget.allows_restart(budget.record_death("k", now=0))
    assert budget.allows_restart(budget.record_death("k", now=10))
    assert not budget.allows_restart(budget.record_death("k", now=20))


def test_deaths_older_than_the_window_no_longer_count():
    budget = RestartBudget(limit=2, window=60)
    budget.record_death("k", now=0)
    assert budget.record_death("k", now=100) == 1
    budget.forget("k")
    assert budget.record_death("k", now=101) == 1


def test_cull_rules_follow_jupyter_servers_options():
    rules = CullRules(idle_timeout=60, interval=10, connected=False, busy=False)
    assert rules.should_cull(61, "idle", connections=0)
    assert not rules.should_cull(59, "idle", connections=0)
    assert not rules.should_cull(61, "busy", connections=0)
    assert not rules.should_cull(61, "idle", connections=1)
    permissive = CullRules(idle_timeout=60, interval=10, connected=True, busy=True)
    assert permissive.should_cull(61, "busy", connections=2)
