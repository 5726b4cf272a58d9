"""gameday.md: the summary, one row per case, and lab text that cannot break out."""

import re
from pathlib import Path

from gameday.report.markdown import CASE_COLUMNS, REASON_LIMIT, md_escape, render_markdown
from gameday.report.schema import RunReport
from gameday.summary import apply_summary

FIXTURE = Path(__file__).parent / "fixtures" / "run.json"
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _report() -> RunReport:
    """The recorded run (8 cases over three arms)."""
    return RunReport.model_validate_json(FIXTURE.read_text())


def _case_rows(markdown: str) -> list[str]:
    """The data rows of the Cases table."""
    section = markdown.split("## Cases", 1)[1].split("## What failed", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return rows[2:]  # after the header and its rule


def test_one_row_per_case_with_every_column() -> None:
    report = _report()
    rows = _case_rows(render_markdown(report=report))
    assert len(rows) == len(report.cases) == 8
    for row in rows:
        assert len(_UNESCAPED_PIPE.findall(row)) == len(CASE_COLUMNS) + 1


def test_summary_and_cells() -> None:
    md = render_markdown(report=_report())
    assert md.startswith("# Game day gd-20260107-120000\n")
    assert "2026-01-07 12:00:00 UTC" in md and "lab-ci-1, 4 CPUs" in md
    assert "| Pass rate | 100% (3/3) | 0% (0/2) | 50% (1/2) |" in md
    assert "agent/none: 0.12× the user outage" in md
    rows = {row.split(" | ")[0].lstrip("| "): row for row in _case_rows(md)}
    assert "restart-api(service=api) → correct" in rows["api-crash#1/agent"]
    assert "api-crash ✓" in rows["api-crash#1/agent"]
    assert "≥ 88.3 s" in rows["api-crash#1/none"]
    assert "restart-api(service=api) → unneeded" in rows["db-lock#1/restart-only"]
    assert "| 7.2 s |" in rows["db-lock#1/agent"]  # the approval wait
    assert "| not run |" in rows["disk-fill#1/agent"]


def test_hostile_reason_is_escaped() -> None:
    md = render_markdown(report=_report())
    failed = md.split("## What failed and why", 1)[1]
    assert "<script>" not in md
    assert r"500 \| body: \`&lt;script&gt;alert(1)&lt;/script&gt;\`" in failed
    assert "only 1 active fault allowed" in failed  # the not-run case's reason
    assert "api-crash#1/agent" not in failed  # passed cases are not listed


def test_hostile_case_ids_and_long_reasons_stay_in_their_row() -> None:
    report = _report()
    evil = report.cases[1].model_copy(
        update={"id": "x\n| injected | row |\n<img src=x>`", "reasons": ["A" * 5000]}
    )
    md = render_markdown(report=report.model_copy(update={"cases": [*report.cases, evil]}))
    rows = _case_rows(md)
    assert len(rows) == 9
    assert len(_UNESCAPED_PIPE.findall(rows[-1])) == len(CASE_COLUMNS) + 1
    assert "<img" not in md
    longest = max(len(line) for line in md.split("## What failed and why", 1)[1].splitlines())
    assert longest < REASON_LIMIT + 20


def test_md_escape() -> None:
    assert md_escape("a|b\nc`d<e>[f](g)") == r"a\|b c\`d&lt;e&gt;\[f\](g)"
    assert len(md_escape("x" * 1000, limit=50)) == 50


def test_zero_cases_says_so() -> None:
    report = apply_summary(_report().model_copy(update={"cases": [], "interrupted": True}))
    md = render_markdown(report=report)
    assert "No case ran." in md
    assert "Interrupted" in md
