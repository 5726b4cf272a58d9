"""Fixtures for observability: one real lab on free ports for the whole package."""

from collections.abc import Iterator

import pytest

from breakfix.background import BackgroundLab
from lab.config import LabSettings
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from tests.support.asgi import TestClient
from tests.support.background_lab import lab_fixture
from tests.support.detection import Watch, observability_app
from tests.support.lab_settings import lab_settings as settings_of

lab = lab_fixture("breakfix-obs-", scope="package")


@pytest.fixture(scope="package")
def lab_paths(lab: BackgroundLab) -> StatePaths:
    """The running lab's state dir layout (logs, cache, env files)."""
    return StatePaths.at(lab.state_dir)


@pytest.fixture(scope="package")
def lab_settings(lab: BackgroundLab) -> LabSettings:
    """The running lab's settings (its ports), as its supervisor sees them."""
    return settings_of(lab)


@pytest.fixture(scope="module")
def watch(lab: BackgroundLab, lab_settings: LabSettings) -> Iterator[Watch]:
    """An in-process observability app on the lab, its pipeline ticking at 1 Hz on its own
    thread, and what to check the lab's steadiness with (the detection tests)."""
    app = observability_app(lab, lab_settings)
    runtime: LocalRuntime = app.state.test_runtime
    with TestClient(app) as client:
        yield Watch(client, app.state.pipeline, runtime, f"http://127.0.0.1:{lab.port('TARGET')}")
    runtime.close()
