"""write_report: every file, atomically; the JSON round-trips; a run with no case works."""

import os
from pathlib import Path

import pytest

from gameday.report.charts import timeline_filename
from gameday.report.schema import RunReport
from gameday.report.writer import write_atomic, write_report
from gameday.summary import apply_summary

FIXTURE = Path(__file__).parent / "fixtures" / "run.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _report() -> RunReport:
    """The recorded run (8 cases over three arms)."""
    return RunReport.model_validate_json(FIXTURE.read_text())


def test_every_file_is_written(tmp_path: Path) -> None:
    report = _report()
    out = tmp_path / "new" / "dir"
    written = write_report(report=report, out_dir=out)
    timelines = {timeline_filename(c.id) for c in report.cases}
    assert set(written) == {"gameday.json", "gameday.md", "gameday.html", "outage.png", *timelines}
    assert sorted(p.name for p in out.iterdir()) == sorted(written)  # no temporary file left
    for name, path in written.items():
        assert path == out / name and path.stat().st_size > 0
        if name.endswith(".png"):
            assert path.read_bytes().startswith(PNG_MAGIC)
    html = written["gameday.html"].read_text()
    assert html.count("data:image/png;base64,") == 1 + len(report.cases)
    assert "http://" not in html and "https://" not in html  # self-contained


def test_json_round_trips(tmp_path: Path) -> None:
    report = _report()
    written = write_report(report=report, out_dir=tmp_path)
    again = RunReport.model_validate_json(written["gameday.json"].read_text())
    assert again == apply_summary(report)
    assert again.schema_version == "breakfix.gameday/1"


def test_a_partial_report_is_summarised_from_its_cases(tmp_path: Path) -> None:
    partial = _report().model_copy(update={"interrupted": True, "finished_at": None})
    partial = partial.model_copy(update={"cases": partial.cases[:3], "arms": []})
    written = write_report(report=partial, out_dir=tmp_path)
    again = RunReport.model_validate_json(written["gameday.json"].read_text())
    assert again.interrupted and len(again.cases) == 3
    assert [a.arm for a in again.arms] == ["agent", "none", "restart-only"]
    assert "Interrupted" in written["gameday.md"].read_text()


def test_zero_cases(tmp_path: Path) -> None:
    empty = _report().model_copy(update={"cases": [], "arms": [], "outage_ratios": {}})
    written = write_report(report=empty, out_dir=tmp_path)
    assert set(written) == {"gameday.json", "gameday.md", "gameday.html", "outage.png"}
    assert "No case ran." in written["gameday.md"].read_text()
    assert "No case ran." in written["gameday.html"].read_text()
    assert written["outage.png"].read_bytes().startswith(PNG_MAGIC)
    again = RunReport.model_validate_json(written["gameday.json"].read_text())
    assert again.cases == [] and again.pass_rate is None


def test_an_interrupted_write_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gameday.json"
    path.write_text("old")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path=path, data=b"new" * 1000)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["gameday.json"]
