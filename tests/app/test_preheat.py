"""A pre-heated kernel builds the dashboard at low priority in a thread of its own (explorer.app.preheat);
the thread that serves the visitor afterwards keeps its priority."""

from __future__ import annotations

import os
import threading

import pytest

from explorer.app.preheat import PREHEAT_NICE_VARIABLE, VOILA_PREHEAT_VARIABLE, low_priority, preheat_nice


def _where() -> tuple[int, int]:
    """(this thread's id, its nice value: os.getpriority reads the calling thread's on Linux)."""
    return threading.get_ident(), os.getpriority(os.PRIO_PROCESS, 0)


@pytest.fixture
def pool_kernel(monkeypatch):
    """The environment Voilà gives a kernel of its pool, with the dashboard's server asking for nice 5."""
    monkeypatch.setenv(VOILA_PREHEAT_VARIABLE, "True")
    monkeypatch.setenv(PREHEAT_NICE_VARIABLE, "5")


def test_a_pool_kernel_builds_in_a_lower_priority_thread_and_keeps_its_own(pool_kernel):
    caller, before = _where()
    thread, nice = low_priority(_where)
    assert thread != caller
    assert nice == min(19, before + 5)
    assert _where() == (caller, before)  # the kernel's main thread, which serves the visitor, is as it was


def test_the_builds_error_reaches_the_caller(pool_kernel):
    def fails():
        raise ValueError("no such trial")

    with pytest.raises(ValueError, match="no such trial"):
        low_priority(fails)


@pytest.mark.parametrize("preheated, nice", [(None, "19"), ("True", "0"), ("True", None), ("True", "high")])
def test_elsewhere_the_build_runs_at_once_at_full_priority(monkeypatch, preheated, nice):
    """A visitor waiting for their kernel (no VOILA_PREHEAT), a server that asks for none, or a bad setting."""
    for name, value in ((VOILA_PREHEAT_VARIABLE, preheated), (PREHEAT_NICE_VARIABLE, nice)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert preheat_nice() == 0
    assert low_priority(_where) == _where()


def test_the_dashboard_builds_its_state_through_it(monkeypatch):
    """Dashboard() in a pool kernel: the state (5 s of CPU at 10^6) is what low_priority builds."""
    from explorer.app import dashboard

    built = []
    monkeypatch.setattr(dashboard, "low_priority", lambda build: built.append(build()) or built[-1])
    monkeypatch.setenv("TRIAL_EXPLORER_N", "500")
    board = dashboard.Dashboard(address=False)
    assert built == [board.state]
