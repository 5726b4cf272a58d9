"""An alert from the future, on a live lab with its own agent (issue 13, finding 1).

A webhook sender holding the intake token (or a sender whose clock runs ahead) posts an
alert about the target with `startsAt` in 2099; an api-crash follows at once through the
chaos server, so its alerts join the incident the hostile alert opened. Before, that
incident waited for its first alert's start (until 2099) and the crash was never handled.
Now the alert counts as starting when it was received (the skew recorded), and the crash
is fixed as it is without the hostile alert (both times printed; a benchmark's business to
compare, not this test's).
"""

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gameday.chaos_faults import inject, revert
from gameday.incidents import agent_actions, incident, wait_closed
from gameday.steady import wait_steady
from lab.secrets import read_secret
from lab.services import AGENT_INTAKE_TOKEN
from tests.support.eval_lab import EvalLab, running_eval_lab

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def lab() -> Iterator[EvalLab]:
    with running_eval_lab("breakfix-future-") as running:
        yield running


def _hostile(lab: EvalLab, starts_at: str) -> httpx.Response:
    token = read_secret(lab.paths.secret(AGENT_INTAKE_TOKEN))
    assert lab.agent is not None
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "FromTheFuture", "service": "target"},
                "annotations": {"summary": "an alert stamped far ahead"},
                "startsAt": starts_at,
            }
        ],
    }
    return httpx.post(
        f"{lab.agent.base_url}/webhook/alertmanager",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )


def _crash_fixed(lab: EvalLab, *, hostile: str | None) -> tuple[float, list[dict[str, Any]]]:
    """Seconds from the injection to every incident closed, and the incidents."""
    wait_steady(lab, 180.0, "before the crash")
    since = time.time()
    if hostile is not None:
        answer = _hostile(lab, hostile)
        assert answer.status_code in (200, 202), answer.text
    injected = inject(lab, "api-crash")
    try:
        closed = wait_closed(lab, since - 1.0, 150.0)
        took = time.time() - injected.requested_at
    finally:
        revert(lab, injected)
    actions = [a.action for a in agent_actions(lab, since)]
    assert "restart-api" in actions, (actions, closed)
    assert lab.target.get("/ready").status_code == 200
    return took, [incident(lab, i["id"]) for i in closed]


@pytest.mark.timeout(600)
def test_a_crash_after_an_alert_from_2099_is_fixed(lab: EvalLab) -> None:
    plain, _ = _crash_fixed(lab, hostile=None)
    after, incidents = _crash_fixed(lab, hostile="2099-01-01T00:00:00Z")
    log.info("api-crash fixed in %.1f s; after an alert from 2099: %.1f s", plain, after)
    crash = [i for i in incidents if i.get("fault") == "api-crash"]
    assert crash and crash[0]["state"] == "resolved", [(i["id"], i["state"]) for i in incidents]
    skewed = [
        e
        for i in incidents
        for e in i["timeline"]
        if e["step"] == "alert" and (e.get("inputs") or {}).get("clock_skew_s")
    ]
    assert skewed, "the alert from the future is recorded with its clock skew"
    assert skewed[0]["inputs"]["clock_skew_s"] > 365 * 24 * 3600
