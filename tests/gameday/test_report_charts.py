"""The charts: safe timeline file names, and PNGs drawn from several threads at once."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gameday.report.charts import outage_chart, timeline_chart, timeline_filename, timeline_png
from gameday.report.schema import RunReport

FIXTURE = Path(__file__).parent / "fixtures" / "run.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _report() -> RunReport:
    """The recorded run (8 cases over three arms)."""
    return RunReport.model_validate_json(FIXTURE.read_text())


def test_timeline_file_names_are_safe_and_distinct() -> None:
    assert timeline_filename("api-crash#1/agent").startswith("timeline-api-crash-1-agent-")
    hostile = ["../../etc/passwd", "..", "/", "a/b", "a-b", "a\x00b", "é" * 300, ""]
    names = [timeline_filename(case_id) for case_id in hostile]
    assert len(set(names)) == len(hostile)
    for name in names:
        assert "/" not in name and "\x00" not in name and not name.startswith(".")
        assert name.startswith("timeline-") and name.endswith(".png") and len(name) < 90


def test_charts_write_pngs(tmp_path: Path) -> None:
    report = _report()
    outage = outage_chart(report=report, path=tmp_path / "outage.png")
    timeline = timeline_chart(case=report.cases[3], path=tmp_path / "t.png")
    for path in (outage, timeline):
        assert path.read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outage.png", "t.png"]


def test_timelines_draw_in_parallel() -> None:
    cases = _report().cases
    with ThreadPoolExecutor(max_workers=4) as pool:
        pngs = list(pool.map(lambda c: timeline_png(case=c), cases))
    assert all(png.startswith(PNG_MAGIC) for png in pngs)
    assert pngs[0] == timeline_png(case=cases[0])  # the same case draws the same picture
