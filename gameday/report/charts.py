"""The report's PNG charts: user outage by case and arm, and one timeline per case.

Figures are built with `Figure` and `FigureCanvasAgg` directly, never pyplot: no global state,
so charts may be drawn from several threads at once.
"""

import hashlib
import io
import re
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gameday.report.markdown import clip
from gameday.report.schema import ARMS, CaseResult, RunReport
from gameday.summary import user_outage_s
from lab.files import write_atomic

DPI = 100
ARM_COLOURS = {"agent": "#2f6fb3", "none": "#9a9a9a", "restart-only": "#d08a2e"}
VERDICT_COLOURS = {"correct": "#2e8b3e", "unneeded": "#d08a2e", "harmful": "#c0392b"}
LABEL_LIMIT = 40  # characters of a label drawn on a chart

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def timeline_filename(case_id: str) -> str:
    """`timeline-<slug>-<hash>.png`: filesystem-safe, bounded, distinct for distinct ids."""
    slug = _UNSAFE.sub("-", case_id).strip("-")[:60] or "case"
    digest = hashlib.sha256(case_id.encode()).hexdigest()[:8]
    return f"timeline-{slug}-{digest}.png"


def _png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    write_atomic(path, data)
    return path


def _case_label(case: CaseResult) -> str:
    """`case#repeat` for an x tick."""
    return clip(f"{case.case}#{case.repeat}", limit=LABEL_LIMIT)


def outage_png(*, report: RunReport) -> bytes:
    """Grouped bars: per case and repeat, the user outage of each arm."""
    groups: dict[tuple[str, int], dict[str, CaseResult]] = {}
    for c in report.cases:
        groups.setdefault((c.case, c.repeat), {})[c.arm] = c
    arms = [a for a in ARMS if any(a in g for g in groups.values())]
    fig = Figure(figsize=(max(6.0, 1.1 * len(groups) * max(1, len(arms)) ** 0.5 + 2), 4.2))
    ax = fig.add_subplot()
    ax.set_title("User outage by case and arm")
    if not groups:
        ax.text(0.5, 0.5, "No case ran", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        fig.tight_layout()
        return _png(fig)
    width = 0.8 / len(arms)
    top = max((user_outage_s(case=c) for g in groups.values() for c in g.values()), default=0)
    for i, arm in enumerate(arms):
        for x, group in enumerate(groups.values()):
            case = group.get(arm)
            if case is None:
                continue
            pos = x - 0.4 + width * (i + 0.5)
            if case.status == "not_run":
                ax.plot(pos, 0, marker="x", color="black", markersize=8, mew=2, clip_on=False)
                ax.text(
                    pos, top * 0.04, "not run", ha="center", va="bottom", fontsize=7, rotation=90
                )
                continue
            value = user_outage_s(case=case)
            censored = case.outage.censored
            ax.bar(
                pos,
                value,
                width * 0.92,
                color=ARM_COLOURS[arm],
                hatch="///" if censored else None,
                edgecolor="black" if censored else ARM_COLOURS[arm],
                linewidth=0.6,
            )
            never_hurt = case.outage.start_s is None and not censored and value == 0
            text = "none" if never_hurt else ("≥" if censored else "") + f"{value:.1f}"
            ax.text(pos, value + top * 0.01, text, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(
        range(len(groups)), [_case_label(next(iter(g.values()))) for g in groups.values()]
    )
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylim(0, max(1.0, top * 1.12))
    ax.set_ylabel("user outage (s)")
    ax.set_xlabel("case")
    ax.grid(axis="y", alpha=0.3)
    handles: list[Patch | Line2D] = [Patch(color=ARM_COLOURS[a], label=a) for a in arms]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="///", label="censored (≥)"))
    handles.append(Line2D([], [], color="black", marker="x", ls="", label="not run"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _png(fig)


def outage_chart(*, report: RunReport, path: Path) -> Path:
    """Write the outage bar chart to `path` (PNG) and return it."""
    return _write(path, outage_png(report=report))


_LANES = ("Faults", "Users", "Responder", "Actions", "Approvals")
_Mark = tuple[float, str, str, str, str]  # x, lane, label, colour, marker


def _timeline_marks(case: CaseResult) -> list[_Mark]:
    """Every point event of a case, in seconds after its first injection."""
    marks: list[_Mark] = []
    for fault in case.faults:
        marks.append(
            (fault.injected_at - case.started_at, "Faults", f"inject {fault.fault}", "#c0392b", "v")
        )
        if fault.reverted_at is not None:
            marks.append(
                (
                    fault.reverted_at - case.started_at,
                    "Faults",
                    f"revert {fault.fault}",
                    "#555555",
                    "^",
                )
            )
    outage = case.outage
    if outage.end_s is not None:
        marks.append((outage.end_s, "Users", "recovered", "#2e8b3e", "D"))
    if case.detected_s is not None:
        marks.append((case.detected_s, "Responder", "first alert", "#8e44ad", "s"))
    first = case.incidents[0] if case.incidents else None
    if first is not None and first.diagnosed_s is not None:
        label = f"diagnosed {first.diagnosis or '?'}"
        marks.append((first.diagnosed_s, "Responder", label, "#2f6fb3", "o"))
    for action in case.actions:
        label = f"{action.action} ({action.verdict})"
        marks.append((action.at_s, "Actions", label, VERDICT_COLOURS[action.verdict], "P"))
    for approval in case.approvals:
        marks.append((approval.asked_s, "Approvals", "approval asked", "#555555", "o"))
        if approval.answered_s is not None:
            answer = "answered elsewhere" if approval.answer == "elsewhere" else approval.answer
            marks.append((approval.answered_s, "Approvals", answer, "#555555", "o"))
    return marks


def timeline_png(*, case: CaseResult) -> bytes:
    """One case on one axis of seconds after the first injection, one lane per kind of event."""
    fig = Figure(figsize=(9.0, 3.6))
    ax = fig.add_subplot()
    ax.set_title(clip(f"{case.id} — {case.status.replace('_', ' ')}", limit=90), fontsize=10)
    lane = {name: len(_LANES) - 1 - i for i, name in enumerate(_LANES)}
    window = max(case.finished_at - case.started_at, 0.0)
    marks = sorted(_timeline_marks(case), key=lambda m: m[0])
    xs = [m[0] for m in marks] + [window, 10.0]
    left, right = min(0.0, *xs), max(xs)
    pad = 0.04 * (right - left)
    ax.set_xlim(left - pad, right + pad)

    outage = case.outage
    if outage.start_s is not None:
        end = outage.end_s if outage.end_s is not None else max(window, outage.start_s)
        ax.axvspan(outage.start_s, end, color="#c0392b", alpha=0.12, lw=0)
        ax.plot([outage.start_s, end], [lane["Users"]] * 2, color="#c0392b", lw=6, alpha=0.7)
        if outage.end_s is None:
            text = "still hurt at window end" + (" (censored)" if outage.censored else "")
            ax.text(end, lane["Users"] + 0.17, text, fontsize=7, ha="right", va="bottom")
    elif case.status != "not_run":
        ax.text(
            0, lane["Users"] + 0.17, "users never hurt", fontsize=7, color="#2e8b3e", va="bottom"
        )
    if not case.faults and case.status != "not_run":
        ax.text(0, lane["Faults"] + 0.17, "no fault injected", fontsize=7, va="bottom")
    for approval in case.approvals:
        if approval.answered_s is not None:
            ax.plot([approval.asked_s, approval.answered_s], [lane["Approvals"]] * 2, c="#999999")
    for fault in case.faults:
        ax.axvline(fault.injected_at - case.started_at, color="#c0392b", ls="--", lw=0.8)
    if window > 0:
        ax.axvline(window, color="#555555", ls=":", lw=1.0)

    near = 0.12 * (right - left)  # labels closer than this on one lane alternate sides
    last: dict[str, tuple[float, bool]] = {}
    for x, row, label, colour, marker in marks:
        y = lane[row]
        ax.plot(x, y, marker=marker, color=colour, markersize=8, ls="", zorder=3)
        prev = last.get(row)
        above = not prev[1] if prev is not None and x - prev[0] < near else True
        last[row] = (x, above)
        ha = "left" if x < left + near / 2 else "right" if x > right - near / 2 else "center"
        ax.text(
            x,
            y + (0.17 if above else -0.17),
            clip(label, limit=LABEL_LIMIT),
            fontsize=7,
            ha=ha,
            va="bottom" if above else "top",
            zorder=4,
        )

    if case.status == "not_run":
        reason = case.reasons[0] if case.reasons else "no reason given"
        ax.text(
            0.5,
            0.5,
            clip(f"not run: {reason}", limit=90),
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=9,
            color="#555555",
        )
    ax.set_yticks(list(lane.values()), list(lane.keys()), fontsize=8)
    ax.set_ylim(-0.7, len(_LANES) - 0.3)
    ax.set_xlabel("seconds after the first injection")
    ax.grid(axis="x", alpha=0.3)
    handles: list[Patch | Line2D] = [
        Line2D([], [], color=c, marker="P", ls="", label=f"action: {v}")
        for v, c in VERDICT_COLOURS.items()
    ]
    handles.append(Patch(color="#c0392b", alpha=0.25, label="user outage"))
    handles.append(Line2D([], [], color="#c0392b", ls="--", lw=0.8, label="injection"))
    handles.append(Line2D([], [], color="#555555", ls=":", label="case window end"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _png(fig)


def timeline_chart(*, case: CaseResult, path: Path) -> Path:
    """Write one case's timeline to `path` (PNG) and return it."""
    return _write(path, timeline_png(case=case))
