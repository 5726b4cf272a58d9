"""When the agent acts on a first look and when it looks again (agent/diagnosis/step.py's rules,
judged on the shipped runbooks, no lab needed): a weak best, a best that does not lead, and a
best that rests on a log line's absence while the incident is young."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.closing import Closing
from agent.config import Settings
from agent.diagnosis.step import Diagnosing, rests_on_absence
from agent.model import Diagnosis, Hypothesis, IncidentState
from agent.store.models import Incident
from knowledge.runbook import Runbook, load_runbooks

RUNBOOKS = load_runbooks()


class _Knowledge:
    runbooks: list[Runbook] = RUNBOOKS

    def query(self, text: str, k: int = 5, *, mode: str | None = None) -> list[Any]:
        return []


def _diagnosing(tmp_path: Path, **values: Any) -> Diagnosing:
    token = tmp_path / "token"
    token.write_text("t" * 32)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        intake_token_file=token,
        action_key_file=token,
        ops_db_url="postgresql://unused@127.0.0.1:1/unused",  # the rules read no store
        **values,
    )
    return Diagnosing(
        settings,
        store=None,  # type: ignore[arg-type]  # the rules read no store
        observability=None,  # type: ignore[arg-type]
        knowledge=_Knowledge(),
        crew=None,
        diagnoser=None,
        closing=Closing.__new__(Closing),
        stop=threading.Event(),
    )


def _incident(first_alert_s_ago: float) -> Incident:
    now = datetime.now(UTC)
    return Incident(
        id="inc-1",
        state=IncidentState.diagnosing,
        title="t",
        source="test",
        opened_at=now - timedelta(seconds=first_alert_s_ago),
        detected_at=now - timedelta(seconds=first_alert_s_ago),
    )


def _diagnosis(*ranked: tuple[str, float]) -> Diagnosis:
    return Diagnosis(hypotheses=[Hypothesis(fault=f, confidence=c, summary=f) for f, c in ranked])


def test_only_the_runbooks_needing_a_log_line_absent_rest_on_absence() -> None:
    assert rests_on_absence("net-db-latency", RUNBOOKS)  # no lost connections, required
    assert rests_on_absence("api-error-storm", RUNBOOKS)
    assert not rests_on_absence("net-db-partition", RUNBOOKS)  # needs them present
    assert not rests_on_absence("db-lock", RUNBOOKS)
    assert not rests_on_absence("no-such-fault", RUNBOOKS)


def test_a_best_resting_on_absence_waits_out_the_absence_window(tmp_path: Path) -> None:
    """A partition's first lost connection is logged a request timeout after the probe's
    alert: a young look saying net-db-latency (no lost connections yet) is taken again."""
    step = _diagnosing(tmp_path, absence_window_s=6.0, early_retry_s=1.0, lead_window_s=0.0)
    confident = _diagnosis(("net-db-latency", 0.9), ("api-latency", 0.3))
    young = step._look_again_in(_incident(3.0), confident, since=None, fresh=True)
    assert young is not None and 0 < young <= 1.0
    assert step._look_again_in(_incident(6.5), confident, since=None, fresh=True) is None
    # a fault whose evidence is all present is acted on at once, however young
    lock = _diagnosis(("db-lock", 0.9), ("api-latency", 0.3))
    assert step._look_again_in(_incident(3.0), lock, since=None, fresh=True) is None
    # only a fresh look waits: after a failed fix the next hypothesis is acted on
    assert step._look_again_in(_incident(3.0), confident, since=None, fresh=False) is None


def test_the_absence_window_counts_from_a_partial_fix_when_there_was_one(tmp_path: Path) -> None:
    step = _diagnosing(tmp_path, absence_window_s=6.0, lead_window_s=0.0)
    confident = _diagnosis(("api-error-storm", 0.9))
    old = _incident(60.0)
    assert step._look_again_in(old, confident, since=None, fresh=True) is None
    just = datetime.now(UTC) - timedelta(seconds=2.0)
    assert step._look_again_in(old, confident, since=just, fresh=True) is not None


@pytest.mark.parametrize(
    ("ranked", "waits"),
    [
        ((("db-lock", 0.8), ("db-pool-exhaustion", 0.75)), True),  # no clear lead yet
        ((("db-lock", 0.8), ("db-pool-exhaustion", 0.5)), False),  # leads by 0.3
    ],
)
def test_a_young_best_is_acted_on_only_when_it_leads(
    tmp_path: Path, ranked: tuple[tuple[str, float], ...], waits: bool
) -> None:
    step = _diagnosing(tmp_path, lead_window_s=3.0, min_lead=0.15, absence_window_s=0.0)
    got = step._look_again_in(_incident(1.0), _diagnosis(*ranked), since=None, fresh=True)
    assert (got is not None) is waits
