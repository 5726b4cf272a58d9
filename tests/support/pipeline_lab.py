"""The incident pipeline in-process on a live lab (tests/agent/test_pipeline_lab.py and
test_approval.py): a started pipeline on the lab's store, action server, observability and
a loopback notifier; intake of a firing alert as the webhook would; waits and a story of an
incident for assertion messages."""

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from action_server.client import ActionClient
from agent.config import Settings
from agent.model import Alert
from agent.notify import Notifier
from agent.perceive import ObservabilityClient
from agent.pipeline import IncidentPipeline
from agent.pipeline_types import Diagnoser
from agent.store import IncidentStore
from agent.store.models import Incident
from gameday.polling import until
from knowledge.index import KnowledgeIndex
from lab.secrets import read_secret
from lab.services import OPS_DB, OPS_PASSWORD, OPS_ROLE
from tests.support.eval_lab import EvalLab

SLACK, DISCORD = "/agent/slack", "/agent/discord"
FAULT_ALERT = ("ProbeFailing", "target-db")


def ops_url(lab: EvalLab) -> str:
    password = read_secret(lab.paths.secret(OPS_PASSWORD))
    return (
        f"postgresql+psycopg2://{OPS_ROLE}:{password}@127.0.0.1:{lab.settings.ops_db_port}/{OPS_DB}"
    )


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


@contextmanager
def submitted(
    lab: EvalLab, knowledge: KnowledgeIndex, tmp_path: Path, *, tag: str, **overrides: Any
) -> Iterator[tuple[IncidentPipeline, IncidentStore, str]]:
    """The firing FAULT_ALERT taken in (its fingerprint tagged `tag`) and submitted to a
    pipeline started with `overrides`: the pipeline, its store and the incident's id."""
    alert = firing(lab, *FAULT_ALERT)
    with pipeline_on(lab, knowledge, tmp_path, **overrides) as (pipeline, store):
        incident_id = intake(store, alert, tag=tag)
        pipeline.submit(incident_id)
        yield pipeline, store, incident_id


# submitted() with the lab, knowledge index and tmp_path bound (the `submit` fixture)
Submit = Callable[..., AbstractContextManager[tuple[IncidentPipeline, IncidentStore, str]]]


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
