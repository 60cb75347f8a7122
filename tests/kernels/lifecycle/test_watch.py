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


def test_only_what_a_kernel_wrote_after_start_up_is_shown_with_its_death():
    from jupyter_lite_server.kernels.lifecycle.watch import written_since

    banner = "WARNING | running over TCP\nTo connect another client..."
    assert written_since(banner, banner) == []
    crashed = banner + "\nTraceback\nMemoryError"
    assert written_since(banner, crashed) == ["Traceback", "MemoryError"]
    assert written_since("", "a\nb") == ["a", "b"]
    # the bounded tail dropped the banner's first line meanwhile
    rotated = "To connect another client...\nSegfault"
    assert written_since(banner, rotated) == ["Segfault"]
    assert written_since(banner, "all\nnew") == ["all", "new"]
