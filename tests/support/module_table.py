"""A table of per-case results that a module's tests fill, printed once the module is done."""

from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

Run = TypeVar("Run")


def printed_after_module(
    request: pytest.FixtureRequest, render: Callable[[list[Run]], str]
) -> Iterator[dict[str, Run]]:
    """For a module-scoped fixture to `yield from`: the runs by case, rendered by `render`
    into the terminal report at the end (nothing when no case ran or there is no terminal)."""
    runs: dict[str, Run] = {}
    yield runs
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not runs:
        return
    reporter.write_line("")
    reporter.write_line(render(list(runs.values())))
