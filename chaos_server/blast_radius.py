"""Blast radius: every check that can refuse a fault, made before anything changes."""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from chaos_server.config import Settings
from chaos_server.errors import (
    IntensityOverMax,
    InvalidParams,
    InvalidTarget,
    KillSwitchEngaged,
    TargetBusy,
    TargetNotAllowed,
    TooManyFaults,
    TtlOverMax,
    UnknownFault,
)
from chaos_server.faults.base import Fault
from chaos_server.store.killswitch import latch
from chaos_server.store.ledger import count_open


@dataclass
class Request:
    """A validated break request."""

    fault: Fault
    target: str
    params: BaseModel
    ttl_s: float


def validate(
    *,
    settings: Settings,
    catalogue: dict[str, Fault],
    fault_id: str,
    target: str | None,
    params: dict[str, Any],
    ttl_s: float | None,
) -> Request:
    """The request, or the refusal that names what is outside the blast radius."""
    fault = catalogue.get(fault_id)
    if fault is None:
        raise UnknownFault(f"no fault {fault_id!r}; known: {', '.join(sorted(catalogue))}")
    target = target or fault.targets[0]
    if target not in settings.allowlist:
        raise TargetNotAllowed(f"target {target!r} is not on the chaos allowlist")
    if target not in fault.targets:
        raise InvalidTarget(f"{fault_id} acts on {', '.join(fault.targets)}, not {target!r}")
    try:
        model = fault.params_model.model_validate(params, strict=True)  # true is not 1
    except ValidationError as exc:
        msgs = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise InvalidParams("; ".join(msgs)) from None
    for name, default_max in fault.intensity.items():
        limit = settings.max_intensity.get(f"{fault_id}.{name}", default_max)
        value = getattr(model, name)
        if value > limit:
            raise IntensityOverMax(f"{name}={value} is over the maximum {limit}")
    ttl = settings.default_ttl_s if ttl_s is None else ttl_s
    if ttl > settings.max_ttl_s:
        raise TtlOverMax(f"ttl_s={ttl} is over the maximum {settings.max_ttl_s}")
    return Request(fault=fault, target=target, params=model, ttl_s=ttl)


def admit(session: Session, *, settings: Settings, target: str) -> None:
    """The checks on what is open now; call under the admission lock."""
    if latch(session).engaged:
        raise KillSwitchEngaged("the kill switch is engaged: POST /kill/release first")
    if count_open(session) >= settings.max_concurrent:
        raise TooManyFaults(f"{settings.max_concurrent} faults are open already (the maximum)")
    if count_open(session, target=target) >= settings.max_per_target:
        raise TargetBusy(f"{target} has {settings.max_per_target} open fault(s) (the maximum)")
