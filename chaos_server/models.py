"""ops-db tables of the chaos server (created by lab/ops_migrations/versions/0003)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base for the chaos server's tables."""


class FaultState(StrEnum):
    """A fault's life: recorded, applied, being undone, undone; or failed to apply/undo."""

    intended = "intended"
    active = "active"
    reverting = "reverting"
    reverted = "reverted"
    failed = "failed"


OPEN_STATES = (FaultState.intended, FaultState.active, FaultState.reverting)


class FaultRecord(Base):
    __tablename__ = "chaos_faults"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    fault_id: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    ttl_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(Text)
    revert_data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    injector: Mapped[int] = mapped_column(BigInteger)  # the injecting process's lease key
    correlation_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    injected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revert_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class ChaosEvent(Base):
    __tablename__ = "chaos_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(Text)
    fault: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    fault_id: Mapped[str | None] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(Text)
    correlation_id: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)


class KillSwitch(Base):
    __tablename__ = "chaos_kill_switch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    engaged: Mapped[bool] = mapped_column(Boolean)
    engaged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
