"""Incidents that arrive only as words, on a running lab (issue 17, part 3).

A report per fault class (api, db, dependency, network, config) goes to the agent's
`POST /webhook/incident` with the report's text as its description, and one foreign monitor's
alert (an alert name no lab rule has) to `/webhook/alertmanager`. The lab itself is healthy,
so no lab signal backs any of them: the agent must not act on words alone. It escalates, with
the right fault among the candidates it lists.

The texts are held out (tests/knowledge/heldout/symptoms.yaml, never used to tune), chosen by
a rule, not by hand: for each class the first fault of the catalogue in that class, and that
fault's first text (its second for the foreign alert).
"""

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.incidents import agent_actions, incident
from gameday.polling import until
from lab.catalogue.registry import get_catalogue
from tests.support.eval_lab import EvalLab

pytestmark = pytest.mark.slow

HELDOUT = Path(__file__).resolve().parents[1] / "knowledge" / "heldout" / "symptoms.yaml"
CLASSES = ("api", "db", "dependency", "network", "config")
CLOSED = {"resolved", "escalated", "failed"}
CLOSE_WITHIN_S = 120.0


def _chosen() -> dict[str, tuple[str, list[str]]]:
    """Class -> (its first catalogue fault, that fault's held-out texts)."""
    texts = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["faults"]
    chosen: dict[str, tuple[str, list[str]]] = {}
    for fault in get_catalogue().faults:
        if fault.fault_class in CLASSES and fault.fault_class not in chosen:
            chosen[fault.fault_class] = (fault.id, [item["text"] for item in texts[fault.id]])
    return chosen


CHOSEN = _chosen()
PIPELINE_WITHIN_S = 400.0  # the agent builds its knowledge index before its pipeline runs


@pytest.fixture(scope="module")
def agent_lab(eval_lab: EvalLab) -> EvalLab:
    """The module's lab once the agent's pipeline runs (its index built)."""
    agent = eval_lab.agent
    assert agent is not None

    def running() -> bool:
        return bool(agent.get("/healthz").json().get("pipeline") == "running")

    assert until(running, PIPELINE_WITHIN_S, every_s=1.0), "the agent's pipeline never started"
    return eval_lab


def _closed(lab: EvalLab, incident_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = {}

    def done() -> bool:
        nonlocal detail
        detail = incident(lab, incident_id)
        return detail["state"] in CLOSED

    assert until(done, CLOSE_WITHIN_S, every_s=1.0), f"{incident_id} still {detail.get('state')}"
    return detail


def _judged(lab: EvalLab, incident_id: str, fault: str, since: float) -> None:
    detail = _closed(lab, incident_id)
    candidates = [h["fault"] for h in detail["diagnosis"].get("hypotheses", [])]
    assert detail["state"] == "escalated", (detail["state"], candidates)
    assert fault in candidates, (fault, candidates, detail["diagnosis"].get("text"), incident_id)
    assert detail["diagnosis"].get("text"), "the incident's words were not retrieved on"
    acted = [a.action for a in agent_actions(lab, since) if a.action != "escalate"]
    assert acted == [], f"the agent acted on words alone: {acted}"


def test_the_rule_picks_a_text_per_class() -> None:
    assert set(CHOSEN) == set(CLASSES)
    assert all(len(texts) >= 2 for _, texts in CHOSEN.values())


@pytest.mark.timeout(600)
@pytest.mark.parametrize("fault_class", CLASSES)
def test_a_reported_incident_is_escalated_with_the_fault_among_its_candidates(
    fault_class: str, agent_lab: EvalLab
) -> None:
    eval_lab = agent_lab
    fault, texts = CHOSEN[fault_class]
    assert eval_lab.agent is not None
    since = time.time()
    response = eval_lab.agent.post(
        "/webhook/incident",
        json={
            "incident_id": f"report-{fault_class}-{uuid.uuid4().hex[:8]}",
            "timestamp": datetime.now(UTC).isoformat(),
            # an SLO per report: an escalated incident still firing takes the next alert of
            # its own name on its service for a while (the store's handover_s)
            "breached_slo": f"{fault_class}-report",
            "container_info": {"name": "target"},
            "title": "Reported by on-call",
            "description": texts[0],
        },
    )
    assert response.status_code == 200, response.text
    _judged(eval_lab, response.json()["incident_id"], fault, since)


@pytest.mark.timeout(600)
def test_a_foreign_monitors_alert_is_escalated_with_the_fault_among_its_candidates(
    agent_lab: EvalLab,
) -> None:
    eval_lab = agent_lab
    fault, texts = CHOSEN["api"]
    assert eval_lab.agent is not None
    since = time.time()
    name = f"ExternalCheck{uuid.uuid4().hex[:6]}"  # no lab rule has this name
    response = eval_lab.agent.post(
        "/webhook/alertmanager",
        json={
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": name, "service": "target", "severity": "critical"},
                    "annotations": {"summary": "External check failing", "description": texts[1]},
                    "startsAt": datetime.now(UTC).isoformat(),
                }
            ],
        },
    )
    assert response.status_code == 200, response.text
    opened = response.json()["opened"]
    assert len(opened) == 1, response.json()
    _judged(eval_lab, opened[0], fault, since)
