"""Memory: the postmortem every closed incident leaves, as Markdown a human reads and the
knowledge index embeds as a past incident.

Every string is escaped where it is written (`md`): a postmortem carries alert labels, log
lines and a model's words, none of which may become Markdown, HTML or a link of its own. The
alert's own text (`quoted`) goes to a section that is never indexed, so retrieval does not
take what a sender wrote for the agent's (or a runbook's) words.
"""

import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lab.incident_states import IncidentState
from lab.untrusted_text import markdown as md
from lab.untrusted_text import markdown_code, quoted

POSTMORTEM_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # also its file name
# Sections that describe the incident (indexed); the rest is bookkeeping (not indexed).
_FAULT_LINE = re.compile(r"^- \*\*Diagnosed fault:\*\* (\S+)\s*$", re.M)
_STATE_LINE = re.compile(r"^- \*\*Final state:\*\* (\S+)\s*$", re.M)
INDEXED_SECTIONS = ("Summary", "Symptoms", "Evidence", "Diagnosis", "Actions", "Outcome")
QUOTED_SECTION = "Alert text (untrusted, quoted, not indexed)"


class TimelineEntry(BaseModel):
    """One moment of the incident: when, and what happened."""

    at: datetime
    what: str


class Postmortem(BaseModel):
    """What happened, what was believed, what was done, and how it ended."""

    model_config = ConfigDict(extra="forbid")

    incident_id: str = Field(pattern=POSTMORTEM_ID)
    title: str = Field(min_length=1, max_length=300)
    state: IncidentState
    opened_at: datetime
    closed_at: datetime | None = None
    symptoms: str
    evidence: list[str] = Field(default_factory=list)
    diagnosis: dict[str, Any] = Field(default_factory=dict)  # agent.model.Diagnosis dumped
    actions: list[dict[str, Any]] = Field(default_factory=list)  # action, params, status...
    outcome: str
    ttd_s: float | None = None
    ttm_s: float | None = None
    # optional extras (not in the first contract): where, which fault, and the story
    service: str | None = None
    fault: str | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    # what the alert itself said (its summary): shown to a human, never indexed
    quoted: list[str] = Field(default_factory=list)

    @property
    def diagnosed_fault(self) -> str | None:
        """The fault acted on: `fault` if given, else the best hypothesis's."""
        if self.fault:
            return self.fault
        hypotheses = self.diagnosis.get("hypotheses") or []
        if hypotheses and isinstance(hypotheses[0], dict):
            fault = hypotheses[0].get("fault")
            return str(fault) if fault else None
        return None

    def to_markdown(self) -> str:
        """The postmortem as Markdown: header, summary, symptoms, timeline, evidence,
        diagnosis, actions, outcome, times."""
        fault = md(self.diagnosed_fault or "unknown", limit=100)
        head = [
            f"# Postmortem {self.incident_id}: {md(self.title, limit=300)}",
            "",
            f"- **Final state:** {self.state.value}",
            f"- **Service:** {md(self.service or 'unknown')}",
            f"- **Diagnosed fault:** {fault}",
            f"- **Opened:** {_when(self.opened_at)}",
            f"- **Closed:** {_when(self.closed_at) if self.closed_at else 'still open'}",
        ]
        sections = [
            ("Summary", self._summary(fault)),
            ("Symptoms", md(self.symptoms) or "None recorded."),
            ("Timeline", self._timeline()),
            ("Evidence", _bullets(self.evidence) or "None recorded."),
            ("Diagnosis", self._diagnosis()),
            ("Actions", self._actions()),
            ("Outcome", md(self.outcome) or self.state.value),
            ("Times", self._times()),
        ]
        if self.quoted:
            sections.append((QUOTED_SECTION, _bullets([quoted(q) for q in self.quoted])))
        body = [f"## {heading}\n\n{text}" for heading, text in sections]
        return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n"

    def _summary(self, fault: str) -> str:
        symptom = md(self.symptoms.strip().split("\n")[0].rstrip(".")) or "an alert fired"
        where = f" on {md(self.service)}" if self.service else ""
        done = [a.get("action") or a.get("name") or "?" for a in self.actions]
        acted = (
            f"The agent ran {', '.join(markdown_code(a) for a in done)}."
            if done
            else "No action was taken."
        )
        return (
            f"At {_when(self.opened_at)}{where}: {symptom}. The diagnosis was **{fault}**. "
            f"{acted} The incident ended **{self.state.value}**: {md(self.outcome)}"
        )

    def _timeline(self) -> str:
        entries = sorted(self.timeline, key=lambda e: e.at)
        if not entries:
            entries = [TimelineEntry(at=self.opened_at, what="incident opened")]
            if self.closed_at:
                entries.append(TimelineEntry(at=self.closed_at, what=f"{self.state.value}"))
        rows = [f"| {_when(e.at)} | {md(e.what)} |" for e in entries]
        return "| time | what |\n|---|---|\n" + "\n".join(rows)

    def _diagnosis(self) -> str:
        hypotheses = [h for h in self.diagnosis.get("hypotheses") or [] if isinstance(h, dict)]
        lines = []
        for rank, hyp in enumerate(hypotheses, 1):
            confidence = hyp.get("confidence")
            conf = f"{confidence:.2f}" if isinstance(confidence, int | float) else "?"
            book = f", runbook {markdown_code(hyp['runbook_id'])}" if hyp.get("runbook_id") else ""
            lines.append(
                f"{rank}. **{md(hyp.get('fault', 'unknown'))}** (confidence {conf}{book}): "
                f"{md(hyp.get('summary', ''))}"
            )
            for cite in hyp.get("citations") or []:
                if isinstance(cite, dict):
                    text = f": {md(cite['text'])}" if cite.get("text") else ""
                    kind, ref = md(cite.get("kind", "?")), markdown_code(cite.get("ref", "?"))
                    lines.append(f"   - {kind} {ref}{text}")
        notes = md(self.diagnosis.get("notes") or "")
        if notes:
            lines.append(f"\n{notes}")
        mode = self.diagnosis.get("mode")
        if mode:
            lines.append(f"\nReached in {md(mode)} mode.")
        return "\n".join(lines).strip() or "No diagnosis was recorded."

    def _actions(self) -> str:
        lines = []
        for rank, act in enumerate(self.actions, 1):
            name = act.get("action") or act.get("name") or "?"
            params = act.get("params") or {}
            args = f" {md(json.dumps(params, sort_keys=True, default=str))}" if params else ""
            status = act.get("status") or act.get("outcome") or act.get("result")
            tail = f": {md(status)}" if status else ""
            if act.get("dry_run"):
                tail += " (dry run)"
            why = act.get("why") or act.get("reason")
            line = f"{rank}. {markdown_code(name)}{args}{tail}" + (f" — {md(why)}" if why else "")
            lines.append(line)
        return "\n".join(lines) or "No action was taken."

    def _times(self) -> str:
        return (
            f"- Time to detect: {_seconds(self.ttd_s)}\n"
            f"- Time to mitigate: {_seconds(self.ttm_s)}\n"
            f"- Open for: {_seconds(self._open_for())}"
        )

    def _open_for(self) -> float | None:
        if self.closed_at is None:
            return None
        return (self.closed_at - self.opened_at).total_seconds()


def postmortem_fault(markdown: str) -> str | None:
    """The `Diagnosed fault` of a postmortem's header, None when absent or unknown, or when
    the incident did not end resolved: an escalated or failed incident's best guess is no
    evidence that the fault happened (its candidates were left for a human)."""
    header = markdown.split("\n## ", 1)[0]
    found = _FAULT_LINE.search(header)
    fault = found.group(1).strip() if found else ""
    state = _STATE_LINE.search(header)
    if state is None or state.group(1) != IncidentState.resolved.value:
        return None
    return fault if fault and fault != "unknown" else None


def postmortem_passages(markdown: str) -> tuple[str, list[tuple[str, str]]]:
    """(title, [(heading, text)]) of a postmortem file, the indexed sections only; works on
    a file a human edited as long as it keeps `# title` and `## section` headings."""
    title, heading, lines = "", "", list[str]()
    pieces: list[tuple[str, str]] = []

    def flush() -> None:
        text = "\n".join(lines).strip()
        if heading in INDEXED_SECTIONS and text:
            pieces.append((heading, text))

    for line in markdown.splitlines():
        if line.startswith("# ") and not title:
            title = line[2:].strip()
        elif line.startswith("## "):
            flush()
            heading, lines = line[3:].strip(), []
        else:
            lines.append(line)
    flush()
    return title, pieces


def _when(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float | None) -> str:
    if value is None:
        return "not reached"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min ({value:.0f} s)"


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {md(item)}" for item in items if item.strip())
