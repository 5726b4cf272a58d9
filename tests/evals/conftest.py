"""Fixtures for evaluations: one live lab (observability and the agent) per module, and
the table of results printed when the module is done."""

from collections.abc import Iterator

import pytest

from tests.support.eval_lab import EvalLab, running_eval_lab
from tests.support.eval_timings import CaseRun, render_table
from tests.support.module_table import printed_after_module


@pytest.fixture(scope="module")
def eval_lab(request: pytest.FixtureRequest) -> Iterator[EvalLab]:
    """`breakfix run` with observability and the agent on a fresh state dir and free ports."""
    with running_eval_lab(f"breakfix-{request.module.__name__.rsplit('.', 1)[-1]}-") as lab:
        yield lab


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest) -> Iterator[dict[str, CaseRun]]:
    """Each case's outcome and times, printed as a table once the module is done."""
    yield from printed_after_module(request, render_table)
