"""The incident pipeline in-process on a live lab: its ops-db, action server and observability.

The lab's own agent is off; the test stands in for intake only (it copies a firing alert
from observability's /alerts into the store, as the webhook would) and runs an
IncidentPipeline with the real ObservabilityClient, KnowledgeIndex (hashing embedding),
ActionClient with an `act` key of its own, and a notifier posting to a loopback receiver
(standing in for Slack and Discord, which are not reachable here). Where a test needs a
particular hypothesis ranking (a wrong first guess, say), the diagnosis is a typed
Diagnosis built by the test; plans, policy, actions and verification are the real ones.

The cases share one lab and run in order: an alert that no longer fires clears by itself
(healthy lab); then, with one out-of-band fault (the app role's password changed by hand,
db-auth-failure, which lasts until fixed), a wrong first fix runs and fails verification
and the cap stops the second; the same fix on the same target again from another incident
is held as a loop.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from action_server.client import ActionClient
from agent.config import Settings
from agent.model import Alert, Diagnosis, Hypothesis, IncidentState, Perception
from agent.notify import Notifier
from agent.perceive import ObservabilityClient
from agent.pipeline import Diagnoser, IncidentPipeline
from agent.store import IncidentStore
from agent.store_models import Incident
from gameday.out_of_band import ChangedPassword
from gameday.polling import until
from gameday.steady import wait_steady
from knowledge.index import KnowledgeIndex
from knowledge.retrieval import Match
from knowledge.runbook import Runbook
from lab.provision import OPS_PASSWORD
from lab.secrets import read_secret
from lab.services import OPS_DB, OPS_ROLE
from tests.support.eval_lab import SLACK_PATH, EvalLab, running_eval_lab

pytestmark = pytest.mark.slow
S = IncidentState
SLACK, DISCORD = "/agent/slack", "/agent/discord"


@pytest.fixture(scope="module")
def lab() -> Iterator[EvalLab]:
    """A live lab with observability and without its own agent."""
    with running_eval_lab("breakfix-pipe-", agent=False) as running:
        yield running


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    index = KnowledgeIndex(tmp_path_factory.mktemp("knowledge"), embedding="hashing")
    index.ensure()
    return index


def ops_url(lab: EvalLab) -> str:
    password = read_secret(lab.paths.secret(OPS_PASSWORD))
    return (
        f"postgresql+psycopg2://{OPS_ROLE}:{password}@127.0.0.1:{lab.settings.ops_db_port}/{OPS_DB}"
    )


def constructed(*hypotheses: tuple[str, float]) -> Diagnoser:
    """A diagnosis fixed by the test: (fault, confidence) best first, runbook = fault."""

    def diagnose(
        perception: Perception, runbooks: list[Runbook], matches: list[Match]
    ) -> Diagnosis:
        return Diagnosis(
            hypotheses=[
                Hypothesis(fault=f, runbook_id=f, confidence=c, summary=f"test: {f}")
                for f, c in hypotheses
            ],
            notes="constructed by the test",
        )

    return diagnose


@contextmanager
def pipeline_on(
    lab: EvalLab,
    knowledge: KnowledgeIndex,
    tmp_path: Path,
    *,
    diagnoser: Diagnoser | None = None,
    **overrides: Any,
) -> Iterator[tuple[IncidentPipeline, IncidentStore]]:
    """A started IncidentPipeline on the lab (its store, clients and a loopback notifier)."""
    key = lab.lab.cli("keys", "create", "--scope", "act", "--name", "agent-test").stdout
    key_file = tmp_path / "agent.key"
    key_file.write_text(key.strip().splitlines()[-1])
    values: dict[str, Any] = {
        "ops_db_url": ops_url(lab),
        "intake_token_file": tmp_path / "intake.token",
        "action_key_file": key_file,
        "action_url": f"http://127.0.0.1:{lab.lab.port('ACTION')}",
        "observability_url": f"http://127.0.0.1:{lab.lab.port('OBSERVABILITY')}",
        "state_dir": tmp_path,
        "settle_s": 1.0,
        "verify_hold_s": 5.0,
        "verify_timeout_s": 90.0,
        "recurrence_window_s": 0.0,
        **overrides,
    }
    settings = Settings(_env_file=None, **values)
    # handover off: each test opens its own incident on purpose while the same fault keeps
    # firing after an earlier test escalated (tests/agent/test_store.py covers the handover)
    store = IncidentStore(settings.ops_db_url.get_secret_value(), handover_s=0)
    actions = ActionClient(settings.action_url, key_file.read_text(), timeout=240)
    obs = ObservabilityClient(settings.observability_url, timeout=10)
    notifier = Notifier(slack_url=lab.receiver.url(SLACK), discord_url=lab.receiver.url(DISCORD))
    pipeline = IncidentPipeline(
        settings, store, obs, knowledge, actions, notifier, diagnoser=diagnoser
    )
    pipeline.start()
    try:
        yield pipeline, store
    finally:
        pipeline.stop()
        actions.close()
        obs.close()
        store.dispose()


def firing(lab: EvalLab, alertname: str, service: str, within_s: float = 90.0) -> dict[str, Any]:
    """The observability alert `alertname` of `service` once it fires."""
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = [
            a
            for a in lab.observability.get("/alerts").json()
            if a["alertname"] == alertname and a["service"] == service and a["status"] == "firing"
        ]
        return bool(found)

    assert until(check, within_s, every_s=1.0), f"{alertname} did not fire"
    return found[0]


def intake(store: IncidentStore, alert: dict[str, Any], *, tag: str) -> str:
    """What the webhook does with one firing alert: record it; the incident it opened.

    `tag` makes the fingerprint unique per test, so each test opens its own incident while
    the same fault keeps firing."""
    result = store.ingest(
        [
            Alert(
                fingerprint=f"{alert['fingerprint']}-{tag}",
                alertname=alert["alertname"],
                service=alert["service"],
                severity=alert["severity"],
                labels=alert["labels"],
                annotations={"summary": alert.get("summary", "")},
                starts_at=datetime.fromisoformat(alert["startsAt"]),
            )
        ],
        group_key=None,
        source="alertmanager",
    )
    assert result.opened, f"no incident opened: {result}"
    return result.opened[0]


def wait_for(
    store: IncidentStore,
    incident_id: str,
    done: Callable[[Incident], bool],
    within_s: float = 240.0,
) -> Incident:
    deadline = time.monotonic() + within_s
    while True:
        incident = store.require(incident_id)
        if done(incident):
            return incident
        assert time.monotonic() < deadline, f"{incident_id} stuck in {incident.state}"
        time.sleep(0.5)


def story(store: IncidentStore, incident_id: str) -> str:
    """The events of an incident, for an assertion message."""
    return "\n".join(
        f"{e.step}: {e.inputs} -> {e.outputs}"[:600] for e in store.events(incident_id)
    )


def closed(incident: Incident) -> bool:
    """Closed, and done closing: the report is written just after the closing transition."""
    return incident.closed and incident.report is not None


def steps_of(store: IncidentStore, incident_id: str) -> list[str]:
    return [e.step for e in store.events(incident_id)]


@pytest.fixture(scope="module")
def broken(lab: EvalLab) -> Iterator[ChangedPassword]:
    """The app role's password changed by hand (db-auth-failure) once the lab is steady;
    the credential put back at the end if no test fixed it."""
    wait_steady(lab, 180.0, "before the fault")
    fault = ChangedPassword()
    fault.make(lab)
    try:
        yield fault
    finally:
        fault.clean(lab)


FAULT_ALERT = ("ProbeFailing", "target-db")


def handled(
    lab: EvalLab, knowledge: KnowledgeIndex, tmp_path: Path, *, tag: str, **overrides: Any
) -> tuple[Incident, IncidentStore]:
    """An incident opened on the firing FAULT_ALERT (its fingerprint tagged `tag`), handled
    until closed by a pipeline with `overrides`; the incident and its store."""
    alert = firing(lab, *FAULT_ALERT)
    with pipeline_on(lab, knowledge, tmp_path, **overrides) as (pipeline, store):
        incident_id = intake(store, alert, tag=tag)
        pipeline.submit(incident_id)
        return wait_for(store, incident_id, closed), store


def test_an_alert_that_no_longer_fires_clears_by_itself(
    lab: EvalLab, knowledge: KnowledgeIndex, tmp_path: Path
) -> None:
    wait_steady(lab, 180.0, "before the cleared alert")
    with pipeline_on(lab, knowledge, tmp_path) as (pipeline, store):
        opened = store.ingest(
            [Alert(fingerprint="gone-1", alertname="SomethingThatStopped", service="target")],
            group_key=None,
            source="alertmanager",
        ).opened
        pipeline.submit(opened[0])
        incident = wait_for(store, opened[0], closed, within_s=60)
    assert incident.state == S.resolved
    assert store.actions(opened[0]) == []
    assert "cleared" in steps_of(store, opened[0])
    assert incident.verification["outcome"] == "cleared by itself, no action"


def test_wrong_first_fix_fails_verification_then_the_cap_escalates(
    lab: EvalLab, knowledge: KnowledgeIndex, broken: ChangedPassword, tmp_path: Path
) -> None:
    alert = firing(lab, *FAULT_ALERT)
    diagnoser = constructed(("cache-corruption", 0.8), ("db-auth-failure", 0.7))
    with pipeline_on(
        lab,
        knowledge,
        tmp_path,
        diagnoser=diagnoser,
        max_actions_per_incident=1,
        verify_timeout_s=8.0,
    ) as (pipeline, store):
        incident_id = intake(store, alert, tag="cap")
        pipeline.submit(incident_id)
        incident = wait_for(store, incident_id, closed)
    assert incident.state == S.escalated, story(store, incident_id)
    actions = store.actions(incident_id)
    assert [(a.action, a.status) for a in actions if a.action != "escalate"] == [
        ("clear-cache", "succeeded")
    ]
    assert actions[0].idempotency_key == f"{incident_id}:1:1:clear-cache"
    assert [p["hypothesis"]["fault"] for p in incident.plans] == [
        "cache-corruption",
        "db-auth-failure",
    ]
    last = [d for d in incident.decisions if d["plan"] == 1]
    assert last[0]["verdict"] == "escalate" and last[0]["reason"].startswith("cap: 1 action")
    runs = incident.verification["runs"]
    assert len(runs) == 1 and not runs[0]["passed"]
    assert any("ProbeFailing" in p for p in runs[0]["still_failing"]), runs
    steps = steps_of(store, incident_id)
    for step in ("settle", "diagnose", "policy", "plan", "act:clear-cache", "verify", "escalate"):
        assert step in steps, (step, steps)
    for event in store.events(incident_id):
        assert isinstance(event.inputs, dict) and isinstance(event.outputs, dict)
        if event.step in ("diagnose", "policy", "verify", "act:clear-cache"):
            assert event.inputs and event.outputs, event.step
    assert incident.report is not None and "clear-cache" in incident.report
    assert "cap: 1 action" in incident.report
    # the action server's escalate delivered to its (loopback) Slack receiver
    escalations = lab.receiver.received.get(SLACK_PATH, [])
    assert any(incident_id in str(body) for body in escalations)


def test_the_same_fix_again_past_its_budget_is_held_as_a_loop(
    lab: EvalLab, knowledge: KnowledgeIndex, broken: ChangedPassword, tmp_path: Path
) -> None:
    """clear-cache ran on the target in the test before; with a budget of one run, another
    incident's clear-cache there is a loop: escalated with the history, nothing run."""
    incident, store = handled(
        lab,
        knowledge,
        tmp_path,
        tag="budget",
        diagnoser=constructed(("cache-corruption", 0.9)),
        same_action_max=1,
    )
    incident_id = incident.id
    assert incident.state == S.escalated
    assert [a.action for a in store.actions(incident_id)] == ["escalate"]
    decision = incident.decisions[0]
    assert decision["verdict"] == "escalate", decision
    assert decision["reason"].startswith("loop: clear-cache ran on target 1 times"), decision
    assert "loop: clear-cache" in (incident.report or "")


def test_dry_run_mode_validates_the_plan_and_changes_nothing(
    lab: EvalLab, knowledge: KnowledgeIndex, broken: ChangedPassword, tmp_path: Path
) -> None:
    incident, store = handled(
        lab,
        knowledge,
        tmp_path,
        tag="dry",
        diagnoser=constructed(("cache-corruption", 0.9)),
        dry_run=True,
        cooldown_s=0,
    )
    incident_id = incident.id
    assert incident.state == S.escalated, story(store, incident_id)
    records = [(a.action, a.status, a.dry_run) for a in store.actions(incident_id)]
    assert records[0] == ("clear-cache", "dry_run", True)
    assert incident.acted_at is None  # nothing real was attempted
    escalated = [e for e in store.events(incident_id) if e.state_to == "escalated"]
    assert escalated[0].inputs["reason"].startswith("dry-run mode: nothing changed")
    assert "(dry run)" in (incident.report or "")


def scripted(*looks: list[tuple[str, float]]) -> Diagnoser:
    """A diagnosis per look, in order (the last repeats): evidence that firms up over time."""
    calls = iter(looks)
    last: list[tuple[str, float]] = []

    def diagnose(
        perception: Perception, runbooks: list[Runbook], matches: list[Match]
    ) -> Diagnosis:
        nonlocal last
        last = next(calls, last)
        return constructed(*last)(perception, runbooks, matches)

    return diagnose


def test_a_weak_first_look_is_taken_again_while_the_incident_is_young(
    lab: EvalLab, knowledge: KnowledgeIndex, broken: ChangedPassword, tmp_path: Path
) -> None:
    """Under AGENT_MIN_CONFIDENCE, or no runbook matched: look again every retry_s within
    the patience instead of escalating on the first look; act on the look that is sure."""
    incident, store = handled(
        lab,
        knowledge,
        tmp_path,
        tag="weak",
        diagnoser=scripted([], [("cache-corruption", 0.3)], [("db-auth-failure", 0.9)]),
        dry_run=True,  # the plan is validated, nothing changes
        approval_required=[],
        cooldown_s=0,
        diagnose_patience_s=30.0,
        diagnose_retry_s=1.0,
    )
    incident_id = incident.id
    looks = [e for e in store.events(incident_id) if e.step == "diagnose:inconclusive"]
    assert [e.outputs["summary"] for e in looks] == ["none", "best: cache-corruption (0.30)"]
    assert incident.fault == "db-auth-failure", story(store, incident_id)
    assert [(a.action, a.dry_run) for a in store.actions(incident_id)][0] == (
        "regenerate-env",
        True,
    )


def test_a_look_that_stays_weak_is_escalated_once_patience_runs_out(
    lab: EvalLab, knowledge: KnowledgeIndex, broken: ChangedPassword, tmp_path: Path
) -> None:
    incident, store = handled(
        lab,
        knowledge,
        tmp_path,
        tag="stays-weak",
        diagnoser=constructed(("db-auth-failure", 0.3)),
        cooldown_s=0,
        diagnose_patience_s=5.0,
        diagnose_retry_s=1.0,
    )
    incident_id = incident.id
    assert incident.state == S.escalated, story(store, incident_id)
    looks = [e for e in store.events(incident_id) if e.step == "diagnose:inconclusive"]
    assert 2 <= len(looks) <= 5  # within 5 s of intake, one look a second
    assert [a.action for a in store.actions(incident_id)] == ["escalate"]
    decision = incident.decisions[0]
    assert decision["verdict"] == "escalate" and decision["reason"].startswith("low confidence")


def test_after_a_failed_fix_a_fresh_look_finds_what_the_first_did_not(
    lab: EvalLab, knowledge: KnowledgeIndex, broken: ChangedPassword, tmp_path: Path
) -> None:
    """The first look names one fault (the wrong one) and nothing else; its fix fails
    verification; the look taken again on fresh evidence names the right one, whose fix
    holds. (Last in the module: it really fixes the password.)"""
    incident, store = handled(
        lab,
        knowledge,
        tmp_path,
        tag="fresh-look",
        diagnoser=scripted(
            [("cache-corruption", 0.9)],
            [("cache-corruption", 0.9), ("db-auth-failure", 0.8)],
        ),
        approval_required=[],
        cooldown_s=0,
        verify_timeout_s=45.0,  # the wrong fix's verification fails sooner
    )
    ran = [a.action for a in store.actions(incident.id) if not a.dry_run]
    assert ran == ["clear-cache", "regenerate-env"], story(store, incident.id)
    assert incident.state == S.resolved, story(store, incident.id)
    states = [e.state_to for e in store.events(incident.id) if e.state_to]
    assert states.count("diagnosing") == 2  # the second look, after the failed verification
