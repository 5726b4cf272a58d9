"""Request and response bodies of the chaos API."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StateName = Literal["intended", "active", "reverting", "reverted", "failed"]


class BreakRequest(BaseModel):
    """A fault to inject: its target (the fault's default when left out), params, TTL."""

    model_config = ConfigDict(extra="forbid", strict=True)  # `ttl_s: true` is no TTL

    target: str | None = Field(None, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    ttl_s: float | None = Field(None, gt=0)


class BreakResponse(BaseModel):
    id: uuid.UUID
    fault_id: str
    target: str
    correlation_id: str
    expires_at: datetime


class FaultOut(BaseModel):
    """One ledger row (revert data included: the chaos key holder may see it)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    fault_id: str
    target: str
    params: dict[str, Any]
    ttl_s: float
    state: StateName
    revert_data: dict[str, Any]
    correlation_id: str
    created_at: datetime
    injected_at: datetime | None
    expires_at: datetime
    reverted_at: datetime | None
    revert_reason: str | None
    error: str | None


class KillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field("kill switch", max_length=500)


class KillOut(BaseModel):
    engaged: bool
    engaged_at: datetime | None
    reason: str | None
    reverted: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
