"""Game day runs in ops-db (tables of lab/ops_migrations/versions/0006), and comparing two runs.

A run is stored whole (its `gameday.json` as JSONB) plus one row per case for listing. The
runner saves after every case, so an interrupted game day still leaves its partial run.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, Text, delete, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from gameday.errors import GamedayError
from gameday.report.schema import ARMS, SCHEMA_VERSION, Arm, CaseResult, CaseStatus, RunReport
from gameday.summary import user_outage_s
from lab.ops_store import OpsStore

# An outage is worse only when it grew by more than both of these (probe jitter is ~1 s).
OUTAGE_SLACK_S = 2.0
OUTAGE_SLACK_RATIO = 0.5


class StoreUnavailable(GamedayError):
    """ops-db could not be reached; nothing was read or written."""


class AmbiguousRunId(GamedayError):
    """A run id prefix matched more than one run."""

    def __init__(self, prefix: str, matches: list[str]) -> None:
        super().__init__(f"run id {prefix!r} is ambiguous: {', '.join(matches)}")
        self.prefix = prefix
        self.matches = matches


class UnreadableRun(GamedayError):
    """A stored run does not fit this version's RunReport (another schema version)."""


class GamedayStore(OpsStore):
    """ops-db as game days use it (sessions named `breakfix-gameday`)."""

    def __init__(self, database_url: str) -> None:
        super().__init__(
            database_url, application_name="breakfix-gameday", unavailable=StoreUnavailable
        )


class _Base(DeclarativeBase):
    """Declarative base for the game day tables."""


class GamedayRun(_Base):
    __tablename__ = "gameday_runs"

    run_id: Mapped[str] = mapped_column(Text, primary_key=True)
    schema_version: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    interrupted: Mapped[bool] = mapped_column(Boolean)
    pass_rate: Mapped[float | None] = mapped_column(Float(precision=53))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)


class GamedayCase(_Base):
    __tablename__ = "gameday_cases"

    run_id: Mapped[str] = mapped_column(
        Text, ForeignKey("gameday_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[str] = mapped_column(Text, primary_key=True)
    case: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    arm: Mapped[str] = mapped_column(Text)
    repeat: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text)
    outage_s: Mapped[float | None] = mapped_column(Float(precision=53))
    censored: Mapped[bool] = mapped_column(Boolean)
    recovered_by: Mapped[str] = mapped_column(Text)
    diagnosis_correct: Mapped[bool | None] = mapped_column(Boolean)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunRow(_Frozen):
    """One line of `gameday list`."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None
    interrupted: bool
    cases: int
    passed: int
    pass_rate: float | None  # of the agent arm, as the run recorded it
    arms: list[str]


def _at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


def save_run(*, session: Session, report: RunReport) -> None:
    """Store `report`, replacing the run and every case row an earlier save of it left."""
    ids = [case.id for case in report.cases]
    if len(set(ids)) != len(ids):
        raise ValueError(f"run {report.run_id} has duplicate case ids")
    document = report.model_dump(mode="json")
    run = {
        "run_id": report.run_id,
        "schema_version": report.schema_version,
        "started_at": _at(report.started_at),
        "finished_at": None if report.finished_at is None else _at(report.finished_at),
        "interrupted": report.interrupted,
        "pass_rate": report.pass_rate,
        "options": document["options"],
        "report": document,
    }
    upsert = pg_insert(GamedayRun).values(run)
    upsert = upsert.on_conflict_do_update(
        index_elements=[GamedayRun.run_id],
        set_={name: upsert.excluded[name] for name in run if name != "run_id"},
    )
    try:
        session.execute(upsert)
        session.execute(delete(GamedayCase).where(GamedayCase.run_id == report.run_id))
        if report.cases:
            session.execute(
                pg_insert(GamedayCase), [_case_row(report.run_id, c) for c in report.cases]
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _case_row(run_id: str, case: CaseResult) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "case_id": case.id,
        "case": case.case,
        "kind": case.kind,
        "arm": case.arm,
        "repeat": case.repeat,
        "status": case.status,
        "outage_s": case.outage.outage_s,
        "censored": case.outage.censored,
        "recovered_by": case.recovered_by,
        "diagnosis_correct": case.diagnosis_correct,
    }


def list_runs(*, session: Session, limit: int = 20) -> list[RunRow]:
    """The newest `limit` runs, newest first, with their case counts and arms."""
    stmt = (
        select(
            GamedayRun.run_id,
            GamedayRun.started_at,
            GamedayRun.finished_at,
            GamedayRun.interrupted,
            GamedayRun.pass_rate,
            func.count(GamedayCase.case_id).label("cases"),
            func.count(GamedayCase.case_id).filter(GamedayCase.status == "passed").label("passed"),
            func.array_agg(GamedayCase.arm.distinct()).label("arms"),
        )
        .outerjoin(GamedayCase, GamedayCase.run_id == GamedayRun.run_id)
        .group_by(GamedayRun.run_id)
        .order_by(GamedayRun.started_at.desc(), GamedayRun.run_id.desc())
        .limit(limit)
    )
    return [
        RunRow(
            run_id=row.run_id,
            started_at=row.started_at,
            finished_at=row.finished_at,
            interrupted=row.interrupted,
            cases=row.cases,
            passed=row.passed,
            pass_rate=row.pass_rate,
            arms=_arm_order(arm for arm in row.arms if arm is not None),
        )
        for row in session.execute(stmt)
    ]


def _arm_order(arms: Iterable[str]) -> list[str]:
    rank: dict[str, int] = {arm: i for i, arm in enumerate(ARMS)}
    return sorted(set(arms), key=lambda arm: (rank.get(arm, len(rank)), arm))


def get_run(*, session: Session, run_id: str) -> RunReport | None:
    """The run with this id, or with this unique id prefix; None when there is none."""
    if not run_id:
        return None
    document = session.scalar(select(GamedayRun.report).where(GamedayRun.run_id == run_id))
    if document is None:
        matches = list(
            session.scalars(
                select(GamedayRun.run_id)
                .where(GamedayRun.run_id.startswith(run_id, autoescape=True))
                .order_by(GamedayRun.run_id)
                .limit(6)
            )
        )
        if not matches:
            return None
        if len(matches) > 1:
            raise AmbiguousRunId(run_id, matches[:5] + (["..."] if len(matches) > 5 else []))
        document = session.scalar(select(GamedayRun.report).where(GamedayRun.run_id == matches[0]))
    try:
        return RunReport.model_validate(document)
    except ValidationError as exc:
        stored = (document or {}).get("schema_version", "?")
        raise UnreadableRun(
            f"run {run_id} (schema {stored}) does not fit {SCHEMA_VERSION}:"
            f" {exc.error_count()} field error(s)"
        ) from exc


class CaseKey(_Frozen):
    """A case as two runs share it: the same case, repeat and arm."""

    case: str
    repeat: int
    arm: Arm


class CaseDelta(_Frozen):
    """One case present in both runs."""

    case: str
    repeat: int
    arm: Arm
    status_before: CaseStatus
    status_after: CaseStatus
    outage_before_s: float | None  # None: not run (never hurt: 0; censored: its lower bound)
    outage_after_s: float | None
    outage_delta_s: float | None
    regression: bool
    why: str | None = None  # what made it a regression


class ArmDelta(_Frozen):
    """One arm's pass rate (passed / run cases) in each run."""

    arm: Arm
    pass_rate_before: float | None
    pass_rate_after: float | None
    delta: float | None


class Comparison(_Frozen):
    """What changed from one run to another, case by case and arm by arm."""

    before_run_id: str
    after_run_id: str
    cases: list[CaseDelta]
    only_before: list[CaseKey]
    only_after: list[CaseKey]
    arms: list[ArmDelta]

    @property
    def regressions(self) -> list[CaseDelta]:
        """The cases that got worse."""
        return [case for case in self.cases if case.regression]


def _key(case: CaseResult) -> CaseKey:
    return CaseKey(case=case.case, repeat=case.repeat, arm=case.arm)


def _sort_key(key: CaseKey) -> tuple[str, int, int]:
    return (key.case, key.repeat, ARMS.index(key.arm))


def _outage(case: CaseResult) -> float | None:
    """The user outage a case counts for, as the run's summary counts it; None if not run."""
    return None if case.status == "not_run" else user_outage_s(case=case)


def _delta(before: CaseResult, after: CaseResult) -> CaseDelta:
    outage_before, outage_after = _outage(before), _outage(after)
    delta = None
    if outage_before is not None and outage_after is not None:
        delta = outage_after - outage_before
    why = None
    if before.status == "passed" and after.status != "passed":
        why = f"passed -> {after.status}"
    elif outage_before is not None and outage_after is not None:
        if outage_after - outage_before > max(OUTAGE_SLACK_S, OUTAGE_SLACK_RATIO * outage_before):
            why = f"outage {outage_before:.1f} s -> {outage_after:.1f} s"
    return CaseDelta(
        case=before.case,
        repeat=before.repeat,
        arm=before.arm,
        status_before=before.status,
        status_after=after.status,
        outage_before_s=outage_before,
        outage_after_s=outage_after,
        outage_delta_s=delta,
        regression=why is not None,
        why=why,
    )


def _pass_rates(report: RunReport) -> dict[Arm, float | None]:
    rates: dict[Arm, float | None] = {}
    for arm in ARMS:
        ran = [c for c in report.cases if c.arm == arm and c.status != "not_run"]
        if any(c.arm == arm for c in report.cases):
            rates[arm] = sum(c.status == "passed" for c in ran) / len(ran) if ran else None
    return rates


def _arm_deltas(before: RunReport, after: RunReport) -> list[ArmDelta]:
    rates_before, rates_after = _pass_rates(before), _pass_rates(after)
    deltas = []
    for arm in ARMS:
        if arm not in rates_before and arm not in rates_after:
            continue
        old, new = rates_before.get(arm), rates_after.get(arm)
        change = None if old is None or new is None else new - old
        deltas.append(ArmDelta(arm=arm, pass_rate_before=old, pass_rate_after=new, delta=change))
    return deltas


def compare(*, before: RunReport, after: RunReport) -> Comparison:
    """Case by case and arm by arm, what changed from `before` to `after`."""
    old = {_key(c): c for c in before.cases}
    new = {_key(c): c for c in after.cases}
    shared = sorted(old.keys() & new.keys(), key=_sort_key)
    return Comparison(
        before_run_id=before.run_id,
        after_run_id=after.run_id,
        cases=[_delta(old[key], new[key]) for key in shared],
        only_before=sorted(old.keys() - new.keys(), key=_sort_key),
        only_after=sorted(new.keys() - old.keys(), key=_sort_key),
        arms=_arm_deltas(before, after),
    )
