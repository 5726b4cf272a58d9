"""Fixtures for evaluations: one live lab (observability and the agent) per module, and
the table of results printed when the module is done."""

from collections.abc import Iterator

import pytest

from tests.support.eval_lab import EvalLab, running_eval_lab
from tests.support.eval_timings import CaseRun, render_table


@pytest.fixture(scope="module")
def eval_lab(request: pytest.FixtureRequest) -> Iterator[EvalLab]:
    """`breakfix run` with observability and the agent on a fresh state dir and free ports."""
    with running_eval_lab(f"breakfix-{request.module.__name__.rsplit('.', 1)[-1]}-") as lab:
        yield lab


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest) -> Iterator[dict[str, CaseRun]]:
    """Each case's outcome and times, printed as a table once the module is done."""
    runs: dict[str, CaseRun] = {}
    yield runs
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not runs:
        return
    reporter.write_line("")
    reporter.write_line(render_table(list(runs.values())))
