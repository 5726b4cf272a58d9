"""Which alerts a fixed fault explains (agent/explained.py, from the shipped runbooks and
detector rules): what decides between "still clearing" and "another fault: diagnose it"."""

from agent.explained import disrupted_alerts, explained_alerts
from knowledge.runbook import load_runbooks

RUNBOOKS = load_runbooks()


def test_a_slow_api_explains_its_failing_probe() -> None:
    """api-latency makes /ready miss the probe's deadline: after restart-api the probe alert
    still firing a few seconds is the fix clearing, not a second fault (an evaluation run
    diagnosed it afresh as upstream-dns and switched pricing for nothing)."""
    assert {"ProbeFailing", "HighLatencyP99"} <= explained_alerts(["api-latency"], RUNBOOKS)


def test_a_lock_does_not_explain_the_apis_failing_probe() -> None:
    """db-lock beside upstream-outage: the probe alert is the outage's, left to diagnose."""
    lock = explained_alerts(["db-lock"], RUNBOOKS)
    assert "DbBlockedSessions" in lock and "ProbeFailing" not in lock
    assert "ProbeFailing" in explained_alerts(["db-lock", "upstream-outage"], RUNBOOKS)


def test_an_unknown_fault_explains_nothing() -> None:
    assert explained_alerts(["no-such-fault"], RUNBOOKS) == frozenset()


def test_a_restarting_fix_explains_its_own_restart() -> None:
    """api-cpu-hog's restart-api takes the target down for seconds: its process-down, probe
    and synthetic alerts are the fix's own, not a second fault (under CI's load they joined
    the incident, made a partial, and a fresh look at a restarting API escalated)."""
    assert {"ServiceDown", "ProbeFailing", "SyntheticTransactionFailing"} <= disrupted_alerts(
        ["restart-api"]
    )
    assert disrupted_alerts(["switch-to-fallback", "terminate-db-blockers"])
    assert disrupted_alerts(["terminate-db-blockers", "clear-cache"]) == frozenset()
    assert "ProbeFailing" not in explained_alerts(["api-cpu-hog"], RUNBOOKS)  # from the fix


def test_the_restarting_fixes_are_the_catalogues() -> None:
    """Which fixes restart a service is declared once, per action, in the catalogue."""
    from agent.explained import RESTARTING_ACTIONS
    from lab.catalogue.registry import get_catalogue

    declared = {a.name for a in get_catalogue().actions if a.restarts}
    assert RESTARTING_ACTIONS == declared
    assert "restart-api" in declared and "terminate-db-blockers" not in declared
