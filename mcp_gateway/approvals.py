"""Approval requests in ops-db: a high-risk action an MCP client asked for waits here for a
human's yes or no, then records the run it became.

pending -> approved | denied | expired; approved -> running -> executed | failed. Every
change is one conditional UPDATE, so two deciders or two pollers cannot both win.
"""

import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Text, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lab.ops_store import OpsStore

DEFAULT_TTL_S = 900.0
LIST_LIMIT = 200


class ApprovalError(Exception):
    """An approval call that cannot be done: `code` is stable (unknown_approval,
    not_pending, ops_db_unavailable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ApprovalStoreUnavailable(ApprovalError):
    def __init__(self, message: str) -> None:
        super().__init__("ops_db_unavailable", message)


class State(StrEnum):
    pending = "pending"
    approved = "approved"
    denied = "denied"
    expired = "expired"
    running = "running"
    executed = "executed"
    failed = "failed"


class _Base(DeclarativeBase):
    pass


class Approval(_Base):
    """One request and what became of it."""

    __tablename__ = "mcp_approvals"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    client: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(Text)
    run_status: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def view(self) -> dict[str, Any]:
        """The request as a tool, the CLI or the console shows it."""
        return {
            "approval_id": self.id,
            "client": self.client,
            "action": self.action,
            "params": self.params,
            "reason": self.reason,
            "state": self.state,
            "requested_at": self.requested_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "decided_by": self.decided_by,
            "note": self.note,
            "run_id": self.run_id,
            "run_status": self.run_status,
            "outcome": self.outcome,
        }


class Approvals:
    """The approval requests, on ops-db."""

    def __init__(self, database_url: str, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self._store = OpsStore(
            database_url, application_name="breakfix-mcp", unavailable=ApprovalStoreUnavailable
        )
        self.ttl_s = ttl_s

    def close(self) -> None:
        self._store.dispose()

    def request(self, *, client: str, action: str, params: dict[str, Any], reason: str) -> Approval:
        """A new pending request, expiring after the TTL."""
        now = datetime.now(UTC)
        row = Approval(
            id="apr_" + secrets.token_hex(6),
            client=client,
            action=action,
            params=params,
            reason=reason,
            state=State.pending.value,
            requested_at=now,
            expires_at=now + timedelta(seconds=self.ttl_s),
        )
        with self._store.session() as session:
            session.add(row)
            session.commit()
        return row

    def get(self, approval_id: str) -> Approval:
        """One request (a pending one past its expiry is expired first)."""
        self._expire()
        with self._store.session() as session:
            row = session.get(Approval, approval_id)
        if row is None:
            raise ApprovalError("unknown_approval", f"no approval request {approval_id!r}")
        return row

    def recent(self, *, state: str | None = None, limit: int = 50) -> list[Approval]:
        """Requests newest first, of one state when given; at most LIST_LIMIT."""
        self._expire()
        stmt = select(Approval).order_by(Approval.requested_at.desc())
        if state is not None:
            stmt = stmt.where(Approval.state == state)
        with self._store.session() as session:
            return list(session.scalars(stmt.limit(max(1, min(limit, LIST_LIMIT)))))

    def decide(self, approval_id: str, *, approve: bool, by: str, note: str = "") -> Approval:
        """Approve or deny a pending request; not_pending when it is decided or expired."""
        state = State.approved if approve else State.denied
        row = self._move(
            approval_id,
            State.pending,
            state=state.value,
            decided_at=datetime.now(UTC),
            decided_by=by,
            note=note,
        )
        if row is None:
            current = self.get(approval_id)
            raise ApprovalError(
                "not_pending", f"approval {approval_id} is {current.state}, not pending"
            )
        return row

    def claim_run(self, approval_id: str) -> bool:
        """approved -> running: True for the one caller that may run it now."""
        return self._move(approval_id, State.approved, state=State.running.value) is not None

    def finish(
        self, approval_id: str, *, ok: bool, run_id: str | None, run_status: str, outcome: str
    ) -> Approval:
        """running -> executed | failed, with the run it became."""
        row = self._move(
            approval_id,
            State.running,
            state=(State.executed if ok else State.failed).value,
            run_id=run_id,
            run_status=run_status,
            outcome=outcome[:2000],
            finished_at=datetime.now(UTC),
        )
        return row if row is not None else self.get(approval_id)

    def _move(self, approval_id: str, expected: State, **values: Any) -> Approval | None:
        """One conditional UPDATE: the row as it now is, or None when it was not `expected`."""
        if expected is State.pending:
            self._expire()
        with self._store.session() as session:
            row = session.scalars(
                update(Approval)
                .where(Approval.id == approval_id, Approval.state == expected.value)
                .values(**values)
                .returning(Approval)
            ).one_or_none()
            session.commit()
        return row

    def _expire(self) -> None:
        with self._store.session() as session:
            session.execute(
                update(Approval)
                .where(Approval.state == State.pending.value)
                .where(Approval.expires_at < datetime.now(UTC))
                .values(state=State.expired.value)
            )
            session.commit()
