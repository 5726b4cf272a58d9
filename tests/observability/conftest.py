"""Fixtures for observability: one real lab on free ports for the whole package."""

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from lab.background import (
    BREAKFIX,
    BackgroundLab,
    lab_environment,
    make_state_dir,
    remove_state_dir,
)
from lab.config import LabSettings
from lab.paths import StatePaths
from tests.action_server.conftest import lab_settings as settings_of


def start_lab(running: BackgroundLab, timeout: float = 180.0) -> None:
    """Like `BackgroundLab.start`, but a service the supervisor does not run (observability
    while it is disabled: `breakfix status` lists it stopped, with no pid) is not waited for."""
    with open(running.output, "ab") as out:
        running.proc = subprocess.Popen(
            [BREAKFIX, "run"],
            env=running.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=running.state_dir,
        )
    deadline = time.monotonic() + timeout
    while True:
        if running.proc.poll() is not None:
            raise AssertionError(f"breakfix run exited early:\n{running.output.read_text()}")
        result = running.cli("status", "--json", check=False)
        services = json.loads(result.stdout)["services"] if result.returncode == 0 else {}
        run = {
            name: s
            for name, s in services.items()
            if not (name == "observability" and s["pid"] is None)
        }
        if run and all(s["health"] == "healthy" for s in run.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"lab not healthy in time: {services}")
        time.sleep(0.25)


@pytest.fixture(scope="package")
def lab() -> Iterator[BackgroundLab]:
    """`breakfix run` in the background on its own state dir, stopped after the package."""
    state_dir = make_state_dir("breakfix-obs-")
    running = BackgroundLab(state_dir, lab_environment(state_dir))
    try:
        start_lab(running)
        yield running
    finally:
        if running.proc is not None and running.proc.poll() is None:
            running.down()
        remove_state_dir(state_dir)


@pytest.fixture(scope="package")
def lab_paths(lab: BackgroundLab) -> StatePaths:
    """The running lab's state dir layout (logs, cache, env files)."""
    return StatePaths.at(lab.state_dir)


@pytest.fixture(scope="package")
def lab_settings(lab: BackgroundLab) -> LabSettings:
    """The running lab's settings (its ports), as its supervisor sees them."""
    return settings_of(lab)
