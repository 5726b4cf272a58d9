"""gameday.html in Debian's Chromium: no broken image, no injected script, one row per case."""

from pathlib import Path

from playwright.sync_api import Dialog, sync_playwright

from gameday.report.schema import RunReport
from gameday.report.writer import write_report
from tests.support.system_binaries import require_binary

FIXTURE = Path(__file__).parent / "fixtures" / "run.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_the_page_renders_whole_and_inert(tmp_path: Path) -> None:
    chromium = require_binary("chromium", package="chromium")
    report = RunReport.model_validate_json(FIXTURE.read_text())
    written = write_report(report=report, out_dir=tmp_path / "report")
    shot = tmp_path / "gameday.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            dialogs: list[str] = []

            def dismiss(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", dismiss)
            page.goto(written["gameday.html"].as_uri())
            widths = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
            )
            assert len(widths) == 1 + len(report.cases)
            assert all(w > 0 for w in widths), widths
            assert page.locator("script").count() == 0
            assert dialogs == []
            assert "`<script>alert(1)</script>`" in page.locator("body").inner_text()
            assert page.locator("table.cases tbody tr").count() == len(report.cases)
            assert page.locator("section h3").count() == len(report.cases)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
