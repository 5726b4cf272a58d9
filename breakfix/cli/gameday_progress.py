"""The game day's live progress: one line per case (what is happening to it now) and the
running scorecard; a Rich live table on a terminal, plain lines when piped."""

import sys
import threading

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from gameday.report.schema import RunReport

STYLE = {"passed": "green", "failed": "red", "not_run": "yellow"}


class Progress:
    """Receives `phase(case_id, text)` from the runner and `scored(report)` after a case."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rows: dict[str, str] = {}
        self.score = "no case scored yet"
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> "Progress":
        if self.console.is_terminal:
            self._live = Live(self._table(), console=self.console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(None, None, None)

    def phase(self, case_id: str, text: str) -> None:
        """A case's line changed."""
        with self._lock:
            if self.rows.get(case_id) == text:
                return
            self.rows[case_id] = text
        if self._live is not None:
            self._live.update(self._table())
        else:
            self.console.print(f"{escape(case_id)}: {escape(text)}", highlight=False)
            sys.stdout.flush()

    def scored(self, report: RunReport) -> None:
        """The running scorecard, after each case."""
        parts = []
        for arm in report.arms:
            rate = "-" if arm.pass_rate is None else f"{arm.pass_rate:.0%}"
            outage = "-" if arm.outage_median_s is None else f"{arm.outage_median_s:.1f}s"
            parts.append(f"{arm.arm} {arm.passed}/{arm.cases} passed ({rate}), outage p50 {outage}")
        self.score = "; ".join(parts) or "no case scored yet"
        if self._live is not None:
            self._live.update(self._table())
        else:
            self.console.print(f"scorecard: {self.score}", highlight=False)

    def _table(self) -> Table:
        table = Table(title="game day", caption=escape(self.score), expand=False)
        table.add_column("case")
        table.add_column("now")
        with self._lock:
            for case_id, text in self.rows.items():
                style = STYLE.get(text, "")
                table.add_row(
                    escape(case_id), f"[{style}]{escape(text)}[/]" if style else escape(text)
                )
        return table
