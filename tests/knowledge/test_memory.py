"""Postmortems: readable Markdown, and indexed as past incidents next to the runbooks."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.model import Citation, Diagnosis, Hypothesis, IncidentState
from knowledge.memory import Postmortem, TimelineEntry, postmortem_fault, postmortem_passages
from tests.support.knowledge_fixtures import EmbedCounter, IndexOn

OPENED = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)


def _postmortem(incident_id: str = "inc-0042") -> Postmortem:
    diagnosis = Diagnosis(
        hypotheses=[
            Hypothesis(
                fault="db-pool-exhaustion",
                runbook_id="db-pool-exhaustion",
                confidence=0.82,
                summary="Every pool connection is checked out and held by slow requests.",
                citations=[
                    Citation(kind="feature", ref="db_pool_waiting", text="37 requests wait"),
                ],
            ),
            Hypothesis(fault="db-lock", confidence=0.31, summary="A blocking session."),
        ],
        notes="The pool gauge was pinned at its maximum.",
    )
    return Postmortem(
        incident_id=incident_id,
        title="Checkout requests time out waiting for a connection",
        state=IncidentState.resolved,
        opened_at=OPENED,
        closed_at=OPENED + timedelta(seconds=95),
        symptoms=(
            "Requests time out waiting for a database connection from the pool; "
            "QueuePool limit reached errors in the API log.\nLatency p99 over 5 s."
        ),
        evidence=[
            "db_pool_checked_out = 20 of 20 for 60 s",
            "log: QueuePool limit of size 20 overflow 0 reached, connection timed out",
        ],
        diagnosis=diagnosis.model_dump(mode="json"),
        actions=[
            {
                "action": "restart-api",
                "params": {"service": "api"},
                "status": "succeeded",
                "why": "release the connections held by stuck requests",
            }
        ],
        outcome="Pool usage back to 3 of 20 and p99 under 200 ms for the hold window.",
        ttd_s=12.5,
        ttm_s=61.0,
        service="api",
        timeline=[
            TimelineEntry(at=OPENED + timedelta(seconds=40), what="restart-api succeeded"),
            TimelineEntry(at=OPENED, what="DbPoolSaturated firing"),
        ],
    )


def test_markdown_tells_the_story() -> None:
    text = _postmortem().to_markdown()
    assert text.startswith(
        "# Postmortem inc-0042: Checkout requests time out waiting for a connection\n"
    )
    for heading in (
        "Summary",
        "Symptoms",
        "Timeline",
        "Evidence",
        "Diagnosis",
        "Actions",
        "Outcome",
        "Times",
    ):
        assert f"\n## {heading}\n" in text
    assert "- **Final state:** resolved" in text
    assert "- **Diagnosed fault:** db-pool-exhaustion" in text
    assert "The agent ran `restart-api`." in text
    # the timeline is in time order whatever order it was given in
    assert text.index("DbPoolSaturated firing") < text.index("| 2025-03-04 10:00:40 UTC |")
    assert "1. **db-pool-exhaustion** (confidence 0.82, runbook `db-pool-exhaustion`)" in text
    assert "   - feature `db_pool_waiting`: 37 requests wait" in text
    assert '1. `restart-api` {"service": "api"}: succeeded — release the connections' in text
    assert "- Time to detect: 12.5 s" in text
    assert "- Time to mitigate: 61.0 s" in text
    assert "- Open for: 95.0 s" in text


def test_markdown_of_an_escalated_incident_without_actions() -> None:
    pm = Postmortem(
        incident_id="inc-7",
        title="Unknown slowness",
        state="escalated",
        opened_at=OPENED,
        symptoms="p99 latency doubled",
        outcome="Escalated to a human: confidence too low.",
    )
    text = pm.to_markdown()
    assert "- **Diagnosed fault:** unknown" in text
    assert "No action was taken." in text
    assert "No diagnosis was recorded." in text
    assert "- Time to detect: not reached" in text
    assert "- **Closed:** still open" in text


def test_the_diagnosed_fault_is_read_back_from_the_file() -> None:
    assert postmortem_fault(_postmortem().to_markdown()) == "db-pool-exhaustion"
    unknown = _postmortem().model_copy(update={"diagnosis": {}, "fault": None})
    assert postmortem_fault(unknown.to_markdown()) is None
    # only the header counts, not a fault named in the text below it
    body = "# Postmortem x: y\n\n## Summary\n\n- **Diagnosed fault:** db-lock\n"
    assert postmortem_fault(body) is None


@pytest.mark.parametrize("state", [IncidentState.escalated, IncidentState.failed])
def test_an_unresolved_incidents_guess_is_no_diagnosed_fault(state: IncidentState) -> None:
    # escalated with candidates: its best guess is not evidence that the fault happened
    guessed = _postmortem().model_copy(update={"state": state})
    assert "- **Diagnosed fault:** db-pool-exhaustion" in guessed.to_markdown()
    assert postmortem_fault(guessed.to_markdown()) is None


def test_indexed_sections_only(tmp_path: Path) -> None:
    title, pieces = postmortem_passages(_postmortem().to_markdown())
    assert title.startswith("Postmortem inc-0042")
    assert [h for h, _ in pieces] == [
        "Summary",
        "Symptoms",
        "Evidence",
        "Diagnosis",
        "Actions",
        "Outcome",
    ]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a/b", "", ".hidden", "x" * 200])
def test_an_incident_id_must_be_a_safe_file_name(bad: str) -> None:
    data = _postmortem().model_dump()
    data["incident_id"] = bad
    with pytest.raises(ValidationError, match="incident_id"):
        Postmortem(**data)


def test_a_postmortem_is_indexed_incrementally_and_surfaces_next_to_runbooks(
    tmp_path: Path, index_on: IndexOn, count_embeddings: Callable[[Any], EmbedCounter]
) -> None:
    index = index_on("minilm")
    assert index.ensure() is True
    symptom = "requests time out waiting for a connection from the database pool"
    assert all(m.kind == "runbook" for m in index.query(symptom, k=10))

    counter = count_embeddings(index._embed)
    pm = _postmortem()
    path = index.add_postmortem(pm)
    assert path == tmp_path / "knowledge" / "incidents" / "inc-0042.md"
    assert path.read_text(encoding="utf-8") == pm.to_markdown()
    _, pieces = postmortem_passages(pm.to_markdown())
    assert counter.texts == len(pieces), "only the postmortem was embedded, no rebuild"

    matches = index.query(symptom, k=5)
    assert matches[0].kind == "incident"
    assert matches[0].id == "inc-0042"
    assert matches[0].title.endswith("Checkout requests time out waiting for a connection")
    assert "Symptoms" in {p.heading for p in matches[0].passages}
    assert matches[0].fault == "db-pool-exhaustion"
    assert all(m.fault is None for m in matches if m.kind == "runbook")
    assert {m.kind for m in matches} == {"incident", "runbook"}

    # the manifest knows the postmortem: a new instance reuses everything
    manifest = json.loads((tmp_path / "knowledge" / "manifest.json").read_text())
    assert list(manifest["incidents"]) == ["inc-0042"]
    again = index_on("minilm")
    assert again.ensure() is False
    assert again.query(symptom, k=1)[0].id == "inc-0042"


def test_writing_a_postmortem_again_replaces_its_passages(index_on: IndexOn) -> None:
    index = index_on("hashing")
    index.add_postmortem(_postmortem())
    updated = _postmortem().model_copy(update={"outcome": "Escalated after all: zebra."})
    index.add_postmortem(updated)
    incident = [m for m in index.query("zebra escalated outcome", k=10) if m.kind == "incident"]
    assert len(incident) == 1
    outcome = [p.text for p in incident[0].passages if p.heading == "Outcome"]
    assert outcome == ["Escalated after all: zebra."]


def test_postmortems_survive_a_runbook_rebuild(
    tmp_path: Path, runbook_dir: Path, index_on: IndexOn
) -> None:
    index = index_on("hashing")
    index.add_postmortem(_postmortem())
    (runbook_dir / "disk-fill.md").unlink()
    assert index.ensure() is True
    best = index.query("QueuePool limit reached connection timed out", k=1)[0]
    assert (best.kind, best.id) == ("incident", "inc-0042")
    # a postmortem removed by hand is gone after the next ensure
    (tmp_path / "knowledge" / "incidents" / "inc-0042.md").unlink()
    assert index.ensure() is True
    assert all(m.kind == "runbook" for m in index.query("QueuePool limit", k=10))
