"""The narrative incident report (Markdown), written at every close, and its postmortem.

Built only from what the store recorded (incident, events, actions), so the report tells
what the agent saw and did, never what it meant to do. Every recorded string is escaped
(`md`): alert labels and annotations, log lines and a model's words are untrusted, and the
report is read on the API, in the CLI and wherever its Markdown is rendered.
"""

from datetime import datetime
from typing import Any

from agent.store.models import ActionRecord, Event, Incident
from knowledge.memory import Postmortem
from lab.untrusted_text import label, markdown_code, quoted
from lab.untrusted_text import markdown as md


def _t(at: datetime | None) -> str:
    return "—" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f} s"


def _outcome(incident: Incident) -> str:
    last = incident.verification.get("outcome") or ""
    if incident.state == "resolved":
        return "resolved" + (f": {last}" if last else "")
    if incident.state == "escalated":
        return "escalated to a human" + (f": {last}" if last else "")
    return f"{incident.state.value}" + (f": {last}" if last else "")


def render(incident: Incident, events: list[Event], actions: list[ActionRecord]) -> str:
    """The whole report: what happened, timeline, evidence, hypotheses, plan, decisions,
    actions, verification, times and usage."""
    parts = [
        f"# Incident {incident.id}: {md(incident.title, limit=300)}",
        "",
        _summary(incident, actions),
        "",
        "## Timeline",
        "",
        *_timeline(incident, events),
        "",
        "## Evidence",
        "",
        *_evidence(incident),
        "",
        "## Hypotheses",
        "",
        *_hypotheses(incident.diagnosis),
        "",
        "## Plan",
        "",
        *_plans(incident.plans),
        "",
        "## Policy decisions",
        "",
        *_decisions(incident.decisions),
        "",
        "## Actions",
        "",
        *_actions(actions),
        "",
        "## Verification",
        "",
        *_verification(incident),
        "",
        "## Times",
        "",
        f"- detected (first alert firing): {_t(incident.detected_at)}",
        f"- diagnosed: {_t(incident.diagnosed_at)} (time to diagnose {_s(incident.ttd_s)})",
        f"- first action: {_t(incident.acted_at)}",
        f"- mitigated: {_t(incident.mitigated_at)} (time to mitigate {_s(incident.ttm_s)})",
        f"- closed: {_t(incident.closed_at)}",
        "",
        "## Usage",
        "",
        *_usage(incident),
        "",
    ]
    return "\n".join(parts)


def _summary(incident: Incident, actions: list[ActionRecord]) -> str:
    best = (incident.diagnosis.get("hypotheses") or [{}])[0]
    real = [a for a in actions if not a.dry_run and a.action != "escalate"]
    did = (
        "The agent ran " + ", ".join(f"{md(a.action)} ({md(a.status)})" for a in real) + "."
        if real
        else "The agent changed nothing."
    )
    seen = md(", ".join(incident.alertnames)) or "no alert name recorded"
    cause = (
        f"The most likely cause was **{md(best.get('fault'))}** "
        f"(confidence {float(best.get('confidence', 0)):.2f}). "
        if best
        else "No cause was diagnosed. "
    )
    mode = f" Mode: {md(incident.mode)}." if incident.mode else ""
    return (
        f"{md(incident.service or 'A service')} raised {seen} "
        f"({incident.alert_count} alert(s), severity {md(incident.severity or 'unknown')}). "
        f"{cause}{did} Outcome: {md(_outcome(incident))}.{mode}"
    )


def _timeline(incident: Incident, events: list[Event]) -> list[str]:
    rows = ["| time | step | state | detail |", "|---|---|---|---|"]
    for e in events:
        move = f"{e.state_from or ''} → {e.state_to}" if e.state_to else ""
        rows.append(f"| {_t(e.at)} | {md(e.step)} | {move} | {_brief(e.outputs)} |")
    return rows if events else ["No event recorded."]


def _brief(outputs: dict[str, Any]) -> str:
    for key in ("reason", "summary", "outcome", "verdict", "error", "status"):
        if outputs.get(key):
            return md(outputs[key], limit=160)
    return ""


def _evidence(incident: Incident) -> list[str]:
    evidence = incident.diagnosis.get("evidence") or {}
    features = evidence.get("features") or {}
    lines = [f"- alerts: {md(', '.join(incident.alertnames)) or 'none'}"]
    if features:
        shown = ", ".join(
            f"{markdown_code(k)}={md(v, limit=100)}" for k, v in sorted(features.items())[:30]
        )
        lines.append(f"- features: {shown}")
    for line in (evidence.get("log_lines") or [])[:5]:
        lines.append(f"- log: {md(quoted(line, limit=200))}")
    if evidence.get("trace_ids"):
        lines.append(f"- traces: {md(', '.join(map(str, evidence['trace_ids'][:5])))}")
    for err in evidence.get("errors") or []:
        lines.append(f"- unreadable: {md(err)}")
    return lines


def _hypotheses(diagnosis: dict[str, Any]) -> list[str]:
    hyps = diagnosis.get("hypotheses") or []
    if not hyps:
        return ["None."]
    lines = []
    for n, h in enumerate(hyps, 1):
        lines.append(
            f"{n}. **{md(h.get('fault'))}** (confidence {float(h.get('confidence', 0)):.2f}, "
            f"runbook {md(h.get('runbook_id') or '—')}): {md(h.get('summary', ''))}"
        )
        for c in (h.get("citations") or [])[:6]:
            score = "" if c.get("score") is None else f" ({float(c['score']):.2f})"
            lines.append(
                f"   - {md(c.get('kind'))} {markdown_code(c.get('ref'))}{score}: "
                f"{md(c.get('text'), limit=160)}"
            )
    if diagnosis.get("notes"):
        lines.append(f"\nNotes: {md(diagnosis['notes'])}")
    return lines


def _plans(plans: list[dict[str, Any]]) -> list[str]:
    if not plans:
        return ["No plan."]
    lines = []
    for n, plan in enumerate(plans, 1):
        hyp = plan.get("hypothesis") or {}
        lines.append(f"Plan {n}, for {md(hyp.get('fault'))}:")
        for m, step in enumerate(plan.get("steps") or [], 1):
            lines.append(
                f"{m}. {md(step.get('action'))} {md(step.get('params') or '')} "
                f"(risk {md(step.get('risk'))}) {md(step.get('why', ''))}".rstrip()
            )
        ver = plan.get("verification") or {}
        lines.append(
            f"   verified by: health of {md(', '.join(ver.get('health') or [])) or '—'}; "
            f"signals cleared: {md(', '.join(ver.get('signals') or [])) or '—'}; "
            f"held {md(ver.get('hold_s'))} s within {md(ver.get('timeout_s'))} s"
        )
    return lines


def _decisions(decisions: list[dict[str, Any]]) -> list[str]:
    if not decisions:
        return ["None."]
    return [
        f"- {md((d.get('step') or {}).get('action'))}: **{md(d.get('verdict'))}**"
        f"{' (dry run)' if d.get('dry_run') else ''} — {md(d.get('reason'))}"
        for d in decisions
    ]


def _actions(actions: list[ActionRecord]) -> list[str]:
    if not actions:
        return ["No action was run."]
    rows = ["| started | action | target | params | status | run |", "|---|---|---|---|---|---|"]
    for a in actions:
        note = a.detail.get("summary") or a.detail.get("error") or ""
        status = md(f"{a.status}: {note}" if note else a.status)
        rows.append(
            f"| {_t(a.started_at)} | {md(a.action)}{' (dry run)' if a.dry_run else ''} "
            f"| {md(a.target)} | {md(a.params or '')} | {status} | {md(a.run_id or '—')} |"
        )
    return rows


def _verification(incident: Incident) -> list[str]:
    v = incident.verification
    if not v:
        return ["Not verified (no action needed verification)."]
    lines = [f"- outcome: {md(v.get('outcome', '—'))}"]
    for r in v.get("runs") or []:
        lines.append(
            f"- {'passed' if r.get('passed') else 'failed'} after {md(r.get('checks'))} checks "
            f"(hold {md(r.get('hold_s'))} s, timeout {md(r.get('timeout_s'))} s)"
            + (
                f"; still failing: {md('; '.join(map(str, r['still_failing'])))}"
                if r.get("still_failing")
                else ""
            )
        )
    return lines


def _usage(incident: Incident) -> list[str]:
    u = incident.usage or {}
    return [
        f"- mode: {md(incident.mode or 'deterministic')}",
        f"- LLM calls: {u.get('calls', 0)}, tokens: {u.get('prompt_tokens', 0)} prompt + "
        f"{u.get('completion_tokens', 0)} completion, cost ${float(u.get('cost_usd', 0)):.4f}",
    ]


def postmortem(incident: Incident, actions: list[ActionRecord]) -> Postmortem:
    """The memory the knowledge index keeps of this incident (a past incident to match).

    Named from what the agent concluded, not from the alert's summary: the alert's words are
    kept quoted and out of the index; its labels, log lines and a model's words are quoted
    (labels only where they are not plain names).
    """
    evidence = incident.diagnosis.get("evidence") or {}
    features = evidence.get("features") or {}
    kept = ("hypotheses", "mode", "notes")
    diagnosis = _quoting({k: v for k, v in incident.diagnosis.items() if k in kept})
    best = (incident.diagnosis.get("hypotheses") or [{}])[0]
    fault = incident.fault or best.get("fault")
    names = ", ".join(label(n) for n in incident.alertnames) or "alerts"
    symptoms = f"{names} on {label(incident.service) if incident.service else 'a service'}"
    return Postmortem(
        incident_id=incident.id,
        title=f"{label(fault) if fault else 'no diagnosis'}: {symptoms}"[:300],
        state=incident.state,
        opened_at=incident.opened_at,
        closed_at=incident.closed_at,
        symptoms=symptoms,
        evidence=[f"{label(k)}={_value(v)}" for k, v in sorted(features.items())]
        + [f"log line {quoted(x, limit=200)}" for x in (evidence.get("log_lines") or [])[:5]],
        diagnosis=diagnosis,
        actions=[
            # escalate's params are the page sent to humans, quoting the alert: not indexed
            {
                "action": a.action,
                "params": {} if a.action == "escalate" else a.params,
                "status": a.status,
                "dry_run": a.dry_run,
            }
            for a in actions
        ],
        outcome=_outcome(incident),
        ttd_s=incident.ttd_s,
        ttm_s=incident.ttm_s,
        service=incident.service,
        fault=incident.fault,
        quoted=[incident.title],
    )


def _quoting(diagnosis: dict[str, Any]) -> dict[str, Any]:
    """The diagnosis with a model's words (LLM mode: the model read the alert) and cited log
    lines quoted, so the postmortem does not index them as the agent's own."""
    llm = diagnosis.get("mode") == "llm"

    def cited(c: dict[str, Any]) -> dict[str, Any]:
        own = not llm and c.get("kind") != "log"
        return c if own or not c.get("text") else {**c, "text": quoted(c["text"])}

    hypotheses = [
        h
        | {
            "summary": quoted(h.get("summary", "")) if llm else h.get("summary", ""),
            "citations": [cited(c) for c in h.get("citations") or []],
        }
        for h in diagnosis.get("hypotheses") or []
    ]
    quoting: dict[str, Any] = {"hypotheses": hypotheses}
    if llm and diagnosis.get("notes"):
        quoting["notes"] = quoted(diagnosis["notes"])
    return diagnosis | quoting


def _value(value: Any) -> str:
    return str(value) if isinstance(value, int | float | bool) else label(value)
