"""`gameday.json`: the stable, versioned record of one game day (schema `breakfix.gameday/1`).

Every time is epoch seconds (UTC) or seconds after the case's first injection (`*_s`).
Fields are only ever added within a schema version; a removal or a change of meaning bumps
SCHEMA_VERSION. The same models are stored in ops-db and read back by `gameday show`.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "breakfix.gameday/1"

Arm = Literal["agent", "none", "restart-only"]
ARMS: tuple[Arm, ...] = ("agent", "none", "restart-only")
CaseKind = Literal["chaos", "by-hand", "sequence", "monkey", "control"]
CaseStatus = Literal["passed", "failed", "not_run"]
Verdict = Literal["correct", "unneeded", "harmful"]
RecoveredBy = Literal["responder", "revert", "none", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expected(_Model):
    """What a right response is: the diagnosis, the one action, the end state."""

    diagnosis: str | None
    action: str | None
    params: dict[str, object] = Field(default_factory=dict)
    state: Literal["resolved", "escalated", "none"]


class FaultRecord(_Model):
    """One fault of a case: how it was made, when, and how it went away."""

    fault: str  # catalogue id
    how: Literal["chaos", "by-hand"]
    maker: str | None = None  # the by-hand maker (psql-lock, sigstop, ...)
    ledger_id: str | None = None  # the chaos ledger's id (chaos-made only)
    injected_at: float
    ttl_s: float | None = None  # chaos TTL: longer than the case, so it cannot mask a fix
    reverted_at: float | None = None  # when the game day reverted or cleaned it
    left_behind: list[str] = Field(default_factory=list)  # what its revert/clean-up found
    note: str | None = None  # a sequence's second fault: what it waited for


class ActionTaken(_Model):
    """One action a responder ran through the action server (never the game day's own)."""

    action: str
    params: dict[str, object] = Field(default_factory=dict)
    outcome: str  # the audit outcome: succeeded, failed, refused, ...
    at_s: float  # seconds after the case's first injection
    verdict: Verdict


class Approval(_Model):
    """An approval the agent asked for, and how it was answered."""

    incident: str
    action: str | None = None
    asked_s: float
    answered_s: float | None = None
    answer: Literal["approved", "denied", "unanswered", "elsewhere"]  # elsewhere: not by us
    wait_s: float | None = None


class Outage(_Model):
    """What users saw, measured by the game day's own probe (outside the lab's processes)."""

    start_s: float | None = None  # first failed or too-slow journey after the injection
    end_s: float | None = None  # start of the clean window after the last episode
    outage_s: float | None = None  # the episodes' sum; None when never hurt
    episodes: int = 0  # separate stretches of failed journeys, each to a clean window
    recovered: bool = True  # False: no clean window before the case window closed
    censored: bool = False  # the window closed first: outage_s is a lower bound
    journeys: int = 0
    failed_journeys: int = 0  # the error budget burnt
    p99_ms: float | None = None  # journey latency during the case


class Incident(_Model):
    """The incident the responder opened for the case (the lab's agent only)."""

    id: str
    diagnosis: str | None
    state: str
    detected_s: float | None = None
    diagnosed_s: float | None = None
    mitigated_s: float | None = None
    closed_s: float | None = None
    stages: dict[str, float] = Field(default_factory=dict)  # gameday/stages.py


class CaseResult(_Model):
    """One case of one arm: what was done to the lab, what happened, and the verdict."""

    id: str  # "<case>#<repeat>/<arm>"
    case: str
    kind: CaseKind
    arm: Arm
    repeat: int = 1
    status: CaseStatus
    reasons: list[str] = Field(default_factory=list)  # why it failed or did not run
    expected: Expected
    faults: list[FaultRecord] = Field(default_factory=list)
    started_at: float  # the first injection (epoch s)
    finished_at: float
    detected_s: float | None = None  # the first alert for the case
    incidents: list[Incident] = Field(default_factory=list)
    diagnosis_correct: bool | None = None  # None: no incident API (an external agent)
    actions: list[ActionTaken] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)
    approval_wait_s: float = 0.0
    outage: Outage = Field(default_factory=Outage)
    recovered_by: RecoveredBy = "unknown"
    data_lost: list[str] = Field(default_factory=list)
    steady_after: bool = True


class ArmSummary(_Model):
    """One arm over the run's cases."""

    arm: Arm
    cases: int
    passed: int
    not_run: int
    pass_rate: float | None  # passed / run cases
    outage_median_s: float | None
    outage_p95_s: float | None
    detect_median_s: float | None
    diagnose_median_s: float | None


class Machine(_Model):
    host: str
    cpus: int
    python: str


class RunReport(_Model):
    """A whole game day."""

    schema_version: str = SCHEMA_VERSION
    run_id: str
    started_at: float
    finished_at: float | None = None
    interrupted: bool = False
    machine: Machine
    options: dict[str, object] = Field(default_factory=dict)  # the command's options
    cases: list[CaseResult] = Field(default_factory=list)
    arms: list[ArmSummary] = Field(default_factory=list)
    # user outage of the agent over the other arm, per arm, on the cases both ran
    outage_ratios: dict[str, float | None] = Field(default_factory=dict)
    pass_rate: float | None = None  # of the agent arm (the --min-pass gate)
