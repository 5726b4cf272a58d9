"""The `lab` fixture of the packages and modules that run `breakfix run` in the background."""

from collections.abc import Iterator
from typing import Literal

import pytest

from breakfix.background import BackgroundLab, running_lab


def lab_fixture(prefix: str, *, scope: Literal["module", "package"] = "module") -> object:
    """A `lab` fixture: `breakfix run` in the background on its own state dir (named from
    `prefix`) and free ports, stopped at the end of `scope`. Assign it to `lab`."""

    @pytest.fixture(scope=scope, name="lab")
    def lab() -> Iterator[BackgroundLab]:
        """`breakfix run` in the background on its own state dir, stopped after its scope."""
        with running_lab(prefix) as running:
            yield running

    return lab
