"""`gameday.md`: the report as Markdown; every lab-provided string is escaped and bounded.

The plain-text cells (`case_cells`, `arm_rows`, `failure_notes`) are shared with the HTML page,
which escapes them its own way.
"""

from datetime import UTC, datetime

from gameday.report.schema import ActionTaken, ArmSummary, CaseResult, RunReport
from lab.untrusted_text import markdown, plain

CELL_LIMIT = 160  # characters of one table cell, before escaping
REASON_LIMIT = 600  # characters of one reason in "What failed and why"
REASONS_PER_CASE = 20

CASE_COLUMNS: tuple[str, ...] = (
    "Case",
    "Kind",
    "Arm",
    "Status",
    "Diagnosis",
    "Actions",
    "Approval wait",
    "User outage",
    "Recovered by",
    "Failed journeys",
    "p99",
)
ARM_METRICS: tuple[str, ...] = (
    "Cases (run / not run)",
    "Pass rate",
    "User outage median",
    "User outage p95",
    "Detect median",
    "Diagnose median",
)


def clip(text: str, *, limit: int = CELL_LIMIT) -> str:
    """One line of at most `limit` characters: control and invisible format characters
    dropped, newlines made spaces (lab.untrusted_text, the rules the agent's report uses)."""
    return plain(text, limit=limit, one_line=True)


def md_escape(text: str, *, limit: int = CELL_LIMIT) -> str:
    """Untrusted text made safe for a Markdown table cell: one line, bounded, inert."""
    return markdown(text, limit=limit)


def seconds(value: float | None) -> str:
    """A duration for a cell: `6.2 s`, or an em dash for none."""
    return "—" if value is None else f"{value:.1f} s"


def percent(value: float | None) -> str:
    """A rate for a cell: `75%`, or an em dash for none."""
    return "—" if value is None else f"{value * 100:.0f}%"


def when(epoch: float) -> str:
    """An epoch time as UTC `YYYY-MM-DD HH:MM:SS UTC`."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def outage_text(case: CaseResult) -> str:
    """The user outage: `≥` when censored, `none` when never hurt, `—` when not run."""
    if case.status == "not_run":
        return "—"
    outage = case.outage
    if outage.outage_s is None and not outage.censored:
        return "none"
    value = outage.outage_s
    if value is None and outage.start_s is not None:  # censored, no figure: the window's end
        value = max(0.0, case.finished_at - case.started_at - outage.start_s)
    return ("≥ " if outage.censored else "") + seconds(value)


def _action_text(action: ActionTaken) -> str:
    """`restart-api(service=api) → correct`."""
    params = ", ".join(f"{k}={v}" for k, v in action.params.items())
    return f"{action.action}({params}) → {action.verdict}"


def diagnosis_text(case: CaseResult) -> str:
    """The first incident's diagnosis and whether it was right."""
    diagnosis = case.incidents[0].diagnosis if case.incidents else None
    mark = {True: " ✓", False: " ✗", None: ""}[case.diagnosis_correct]
    return (diagnosis or "—") + mark


def case_cells(case: CaseResult) -> list[str]:
    """The per-case table's cells as bounded plain text, in CASE_COLUMNS order."""
    actions = "; ".join(_action_text(a) for a in case.actions) or "—"
    journeys = case.outage.journeys
    cells = [
        case.id,
        case.kind,
        case.arm,
        case.status.replace("_", " "),
        diagnosis_text(case),
        actions,
        seconds(case.approval_wait_s) if case.approvals else "—",
        outage_text(case),
        case.recovered_by,
        f"{case.outage.failed_journeys} / {journeys}" if journeys else "—",
        "—" if case.outage.p99_ms is None else f"{case.outage.p99_ms:.0f} ms",
    ]
    return [clip(cell) for cell in cells]


def arm_rows(arms: list[ArmSummary]) -> list[list[str]]:
    """The arms side by side: one row per metric (ARM_METRICS), one column per arm."""
    columns = [
        [
            f"{s.cases - s.not_run} / {s.not_run}",
            f"{percent(s.pass_rate)} ({s.passed}/{s.cases - s.not_run})",
            seconds(s.outage_median_s),
            seconds(s.outage_p95_s),
            seconds(s.detect_median_s),
            seconds(s.diagnose_median_s),
        ]
        for s in arms
    ]
    return [[metric, *(col[i] for col in columns)] for i, metric in enumerate(ARM_METRICS)]


def ratio_text(ratios: dict[str, float | None]) -> list[str]:
    """`agent/none: 0.12× the outage` per ratio, `—` when it cannot be computed."""
    return [
        f"{clip(name)}: " + ("—" if value is None else f"{value:.2f}× the user outage")
        for name, value in ratios.items()
    ]


def failure_notes(report: RunReport) -> list[tuple[str, str, list[str]]]:
    """Each failed or not-run case: its id, status and bounded reasons (a placeholder if none)."""
    notes = []
    for case in report.cases:
        if case.status == "passed":
            continue
        reasons = [clip(r, limit=REASON_LIMIT) for r in case.reasons[:REASONS_PER_CASE]]
        if len(case.reasons) > REASONS_PER_CASE:
            reasons.append(f"… and {len(case.reasons) - REASONS_PER_CASE} more")
        notes.append((clip(case.id), case.status.replace("_", " "), reasons or ["no reason given"]))
    return notes


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table of already-escaped cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_markdown(*, report: RunReport) -> str:
    """The whole report as Markdown."""
    m = report.machine
    lines = [
        f"# Game day {md_escape(report.run_id)}",
        "",
        f"- Started: {when(report.started_at)}"
        + (f"; finished: {when(report.finished_at)}" if report.finished_at else ""),
        f"- Machine: {md_escape(m.host)}, {m.cpus} CPUs, Python {md_escape(m.python)}",
        f"- Schema: `{md_escape(report.schema_version)}`",
    ]
    if report.interrupted:
        lines.append("- **Interrupted**: this report is partial.")
    lines.append("")
    if not report.cases:
        lines += ["No case ran.", ""]
        return "\n".join(lines)
    lines += ["## Arms", ""]
    header = ["", *(md_escape(s.arm) for s in report.arms)]
    lines += _table(header, [[md_escape(c) for c in row] for row in arm_rows(report.arms)])
    lines += ["", f"Agent pass rate: **{percent(report.pass_rate)}**", ""]
    lines += [f"- {md_escape(r, limit=200)}" for r in ratio_text(report.outage_ratios)]
    lines += ["", "## Cases", ""]
    rows = [[md_escape(cell) for cell in case_cells(c)] for c in report.cases]
    lines += _table(list(CASE_COLUMNS), rows)
    lines += ["", "## What failed and why", ""]
    notes = failure_notes(report)
    if not notes:
        lines.append("Every case that ran passed.")
    for case_id, status, reasons in notes:
        lines.append(f"- **{md_escape(case_id)}** ({status})")
        lines += [f"  - {md_escape(r, limit=REASON_LIMIT)}" for r in reasons]
    lines.append("")
    return "\n".join(lines)
