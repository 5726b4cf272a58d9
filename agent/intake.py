"""Parsing what arrives at the intake: Alertmanager and Grafana webhooks, the incident contract.

Unknown fields are tolerated (real Alertmanager and Grafana add many); a missing or
mistyped required field is an InvalidPayload (422, `invalid_payload`) naming where.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.api.errors import InvalidPayload
from agent.model import Alert
from observability.detector.alertmanager import fingerprint as alertmanager_fingerprint

MAX_BODY_BYTES = 32 * 1024 * 1024  # 10,000 alerts in one notification fit with room to spare
_GO_ZERO_YEAR = 1  # Go's zero time (0001-01-01) is how "no endsAt" is written
_FRACTION = re.compile(r"(\.\d{6})\d+")  # RFC3339Nano: keep microseconds
_SERVICE_LABELS = ("service", "job", "container", "app", "instance")


def _time(value: Any) -> Any:
    if isinstance(value, str):
        return _FRACTION.sub(r"\1", value)
    return value


class _WireAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"] = "firing"
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    fingerprint: str | None = Field(None, max_length=200)

    _times = field_validator("startsAt", "endsAt", mode="before")(_time)

    @field_validator("labels")
    @classmethod
    def _named(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("alertname"):
            raise ValueError("labels.alertname is required")
        return value


class _WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alerts: list[_WireAlert]
    groupKey: str | None = Field(None, max_length=2000)
    status: str | None = None
    version: str | None = None
    orgId: int | None = None  # Grafana only
    title: str | None = None  # Grafana only


class _ContainerInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    name: str = Field(min_length=1, max_length=200)
    image: str | None = None


class _ObservabilityContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metrics_snapshot: dict[str, Any] = Field(default_factory=dict)
    trace_ids: list[str] = Field(default_factory=list)
    correlated_logs: list[Any] = Field(default_factory=list)


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore")

    incident_id: str = Field(min_length=1, max_length=200)
    timestamp: datetime
    breached_slo: str = Field(min_length=1, max_length=200)
    container_info: _ContainerInfo
    observability_context: _ObservabilityContext = Field(default_factory=_ObservabilityContext)
    # What a human or a foreign monitor wrote: all the agent has when no lab signal fires
    title: str | None = Field(None, max_length=500)
    description: str | None = Field(None, max_length=8000)

    _times = field_validator("timestamp", mode="before")(_time)


@dataclass
class Intake:
    """Alerts parsed from one request, with what the store needs to correlate them."""

    alerts: list[Alert]
    source: Literal["alertmanager", "grafana", "incident"]
    group_key: str | None = None
    contract: dict[str, Any] | None = field(default=None)


def decode(body: bytes) -> Any:
    """The JSON document of a request body."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidPayload("body is too large")  # callers check the size before reading
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidPayload(f"body is not JSON: {exc}") from None


def _invalid(exc: ValidationError, what: str) -> InvalidPayload:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:10]
    )
    return InvalidPayload(f"not a valid {what}: {problems}")


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.year == _GO_ZERO_YEAR:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _service(labels: dict[str, str]) -> str | None:
    return next((labels[k] for k in _SERVICE_LABELS if labels.get(k)), None)


def parse_webhook(document: Any) -> Intake:
    """An Alertmanager (v4) or Grafana unified alerting webhook as alerts."""
    if not isinstance(document, dict):
        raise InvalidPayload("not a valid webhook: body must be a JSON object")
    try:
        body = _WebhookBody.model_validate(document)
    except ValidationError as exc:
        raise _invalid(exc, "webhook") from None
    source: Literal["alertmanager", "grafana"] = (
        "grafana" if body.orgId is not None or "state" in document else "alertmanager"
    )
    alerts = [
        Alert(
            fingerprint=wire.fingerprint or alertmanager_fingerprint(wire.labels),
            alertname=wire.labels["alertname"],
            status=wire.status,
            service=_service(wire.labels),
            severity=wire.labels.get("severity"),
            labels=wire.labels,
            annotations=wire.annotations,
            starts_at=_aware(wire.startsAt),
            ends_at=_aware(wire.endsAt),
            group_key=body.groupKey,
            source=source,
        )
        for wire in body.alerts
    ]
    return Intake(alerts=alerts, source=source, group_key=body.groupKey)


def parse_contract(document: Any) -> Intake:
    """The incident contract as one alert, the whole document kept for the incident."""
    if not isinstance(document, dict):
        raise InvalidPayload("not a valid incident: body must be a JSON object")
    try:
        contract = _Contract.model_validate(document)
    except ValidationError as exc:
        raise _invalid(exc, "incident") from None
    labels = {
        "alertname": contract.breached_slo,
        "service": contract.container_info.name,
        "incident_id": contract.incident_id,
    }
    digest = hashlib.sha256(f"incident\xff{contract.incident_id}".encode()).hexdigest()[:16]
    alert = Alert(
        fingerprint=digest,
        alertname=contract.breached_slo,
        service=contract.container_info.name,
        severity="critical",
        labels=labels,
        annotations={
            "summary": contract.title or f"{contract.breached_slo} breached on {labels['service']}",
            **({"title": contract.title} if contract.title else {}),
            **({"description": contract.description} if contract.description else {}),
        },
        starts_at=_aware(contract.timestamp),
        source="incident",
    )
    kept = contract.model_dump(mode="json")
    return Intake(alerts=[alert], source="incident", contract=kept)
