"""Fixtures for observability: one real lab on free ports for the whole package."""

from collections.abc import Iterator

import pytest

from breakfix.background import (
    BackgroundLab,
    running_lab,
)
from lab.config import LabSettings
from lab.paths import StatePaths
from tests.support.lab_settings import lab_settings as settings_of


@pytest.fixture(scope="package")
def lab() -> Iterator[BackgroundLab]:
    """`breakfix run` in the background on its own state dir, stopped after the package."""
    with running_lab("breakfix-obs-") as running:
        yield running


@pytest.fixture(scope="package")
def lab_paths(lab: BackgroundLab) -> StatePaths:
    """The running lab's state dir layout (logs, cache, env files)."""
    return StatePaths.at(lab.state_dir)


@pytest.fixture(scope="package")
def lab_settings(lab: BackgroundLab) -> LabSettings:
    """The running lab's settings (its ports), as its supervisor sees them."""
    return settings_of(lab)
