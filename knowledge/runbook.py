"""Runbooks: Markdown with YAML front-matter, loaded and validated into typed models.

Front-matter keys (all validated; see knowledge/runbooks/README.md for the vocabulary):
id, title, faults (catalogue fault ids it covers; empty for general runbooks), severity,
symptoms (prose), signals (structured conditions over the agent's evidence features),
diagnosis (prose), actions (ordered catalogue actions with parameters), verification,
escalate_when, reported_as (how the failure is reported, one phrasing per line). The
Markdown body is the human text, split into passages for retrieval.
"""

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lab.catalogue.registry import Risk, get_catalogue

RUNBOOK_DIR = Path(__file__).resolve().parent / "runbooks"
_FRONT = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
RUNBOOK_ID = r"^[a-z0-9][a-z0-9-]{1,63}$"

Op = Literal["present", "absent", "eq", "ne", "gt", "ge", "lt", "le"]


class RunbookError(ValueError):
    """A runbook file that cannot be used: which file and what is wrong."""


class Signal(BaseModel):
    """A condition over one evidence feature: `feature op value`, with a weight.

    `required` signals must all hold for the runbook to match at all; the others add their
    weight to the match score.
    """

    model_config = ConfigDict(extra="forbid")

    feature: str = Field(min_length=1, max_length=200)
    op: Op = "present"
    value: float | str | bool | None = None
    weight: float = Field(1.0, ge=0.0, le=10.0)
    required: bool = False

    def holds(self, features: dict[str, float | str | bool]) -> bool:
        """Whether the condition is true of `features` (a missing feature is never true,
        except for `absent`)."""
        if self.op == "absent":
            return self.feature not in features or features[self.feature] in (False, 0, "")
        if self.feature not in features:
            return False
        got = features[self.feature]
        if self.op == "present":
            return got not in (False, 0, "")
        if self.op == "eq":
            return got == self.value
        if self.op == "ne":
            return got != self.value
        if not isinstance(got, int | float) or not isinstance(self.value, int | float):
            return False
        return {
            "gt": got > self.value,
            "ge": got >= self.value,
            "lt": got < self.value,
            "le": got <= self.value,
        }[self.op]


class RunbookAction(BaseModel):
    """One step of a runbook: a catalogue action, its parameters and its risk."""

    model_config = ConfigDict(extra="forbid")

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk = "low"
    why: str = ""

    @field_validator("action")
    @classmethod
    def _in_catalogue(cls, value: str) -> str:
        if value not in get_catalogue().action_names:
            raise ValueError(f"{value!r} is not a catalogue action")
        return value


class Runbook(BaseModel):
    """One runbook, front-matter and body."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RUNBOOK_ID)
    title: str = Field(min_length=3)
    faults: list[str] = Field(default_factory=list)
    severity: Literal["info", "warning", "critical"] = "critical"
    symptoms: str = Field(min_length=10)
    signals: list[Signal] = Field(default_factory=list)
    diagnosis: str = Field(min_length=10)
    actions: list[RunbookAction] = Field(default_factory=list)
    verification: str = Field(min_length=10)
    verify_signals: list[str] = Field(default_factory=list)  # features that must clear
    escalate_when: str = Field(min_length=10)
    # How people and other monitors report the failure, in their words (an on-call chat, a
    # foreign monitor's alert, a customer's ticket): each line is a retrieval passage of its own
    reported_as: list[str] = Field(default_factory=list)
    body: str = ""
    path: str = ""

    def passages(self) -> list[tuple[str, str]]:
        """(heading, text) pieces for retrieval: the front-matter prose, then each body
        section under its own heading."""
        pieces = [
            ("Symptoms", self.symptoms),
            ("Diagnosis", self.diagnosis),
            ("Verification", self.verification),
            ("When to escalate", self.escalate_when),
            *(("Reported as", line) for line in self.reported_as),
        ]
        heading, lines = self.title, list[str]()
        for line in self.body.splitlines():
            if line.startswith("#"):
                if "".join(lines).strip():
                    pieces.append((heading, "\n".join(lines).strip()))
                heading, lines = line.lstrip("#").strip(), []
            else:
                lines.append(line)
        if "".join(lines).strip():
            pieces.append((heading, "\n".join(lines).strip()))
        return pieces


def parse_runbook(text: str, *, path: str = "<string>") -> Runbook:
    """One runbook from its file text; RunbookError says which file and what is wrong."""
    match = _FRONT.match(text.replace("\r\n", "\n"))
    if match is None:
        raise RunbookError(f"{path}: no YAML front-matter between --- lines")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise RunbookError(f"{path}: front-matter is not YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise RunbookError(f"{path}: front-matter must be a mapping")
    try:
        return Runbook(**meta, body=match.group(2).strip(), path=path)
    except ValidationError as exc:
        raise RunbookError(f"{path}: {exc}") from None
    except TypeError as exc:  # a key given twice (body/path set in the front-matter)
        raise RunbookError(f"{path}: {exc}") from None


def load_runbooks(directory: Path = RUNBOOK_DIR) -> list[Runbook]:
    """Every `*.md` runbook of `directory` (README.md excepted), sorted by id; ids unique."""
    books = [
        parse_runbook(p.read_text(encoding="utf-8"), path=str(p))
        for p in sorted(directory.glob("*.md"))
        if p.name != "README.md"
    ]
    seen: dict[str, str] = {}
    for book in books:
        if book.id in seen:
            raise RunbookError(f"{book.path}: id {book.id!r} already used by {seen[book.id]}")
        seen[book.id] = book.path
    return books
