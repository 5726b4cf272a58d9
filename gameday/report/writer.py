"""Write a game day's report files: JSON, Markdown, the charts and one HTML page.

Each file is written to a temporary name and renamed, so an interrupted write never leaves a
half file behind; a partial report (or one with no case) is written like any other.
"""

from pathlib import Path

from gameday.report.charts import outage_png, timeline_filename, timeline_png
from gameday.report.html import OUTAGE_IMAGE, render_html
from gameday.report.markdown import render_markdown
from gameday.report.schema import RunReport
from gameday.summary import apply_summary
from lab.files import write_atomic as write_file

JSON_FILE = "gameday.json"
MARKDOWN_FILE = "gameday.md"
HTML_FILE = "gameday.html"


def write_atomic(*, path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (readers see the old file or the new, never half)."""
    write_file(path, data)
    return path


def write_report(*, report: RunReport, out_dir: Path) -> dict[str, Path]:
    """Write every report file into `out_dir` (created); returns the paths by file name.

    The summary is recomputed from the cases, so a partial report's figures match its cases.
    """
    report = apply_summary(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = {OUTAGE_IMAGE: outage_png(report=report)}
    for case in report.cases:
        images[timeline_filename(case.id)] = timeline_png(case=case)
    texts = {
        JSON_FILE: report.model_dump_json(indent=2) + "\n",
        MARKDOWN_FILE: render_markdown(report=report),
        HTML_FILE: render_html(report=report, images=images),
    }
    written = {name: write_atomic(path=out_dir / name, data=png) for name, png in images.items()}
    for name, text in texts.items():
        written[name] = write_atomic(path=out_dir / name, data=text.encode())
    return written
