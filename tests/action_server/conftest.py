"""Fixtures for action_server: a real lab on free ports and an ActionContext pointing at it."""

from collections.abc import Iterator

import pytest

from action_server.context import ActionContext
from breakfix.background import BackgroundLab
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.services import clusters
from tests.support.background_lab import lab_fixture
from tests.support.lab_settings import lab_settings

lab = lab_fixture("breakfix-action-")


@pytest.fixture(scope="module")
def action_ctx(lab: BackgroundLab) -> Iterator[ActionContext]:
    """What the action server hands each action, built for the running lab."""
    paths = StatePaths.at(lab.state_dir)
    runtime = LocalRuntime.from_state_dir(paths)
    try:
        yield ActionContext(
            runtime=runtime,
            paths=paths,
            target_db=clusters(lab_settings(lab), paths)["target-db"],
            target_url=f"http://127.0.0.1:{lab.port('TARGET')}",
        )
    finally:
        runtime.close()
