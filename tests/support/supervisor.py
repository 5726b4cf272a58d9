"""A Supervisor in tests: on a test's state dir, recording its events, nowhere to report to."""

from pathlib import Path

from breakfix.supervisor import Supervisor
from lab.config import LabSettings
from lab.events import EventRecorder
from lab.paths import StatePaths
from lab.services import ServiceSpec


def supervisor_on(
    state_dir: Path, specs: list[ServiceSpec] | None = None, settings: LabSettings | None = None
) -> Supervisor:
    """A Supervisor of `specs` (none by default) with `settings` (the defaults on
    `state_dir` unless given) and a control URL that nothing listens on."""
    return Supervisor(
        specs=specs or [],
        settings=settings or LabSettings(state_dir=state_dir),
        paths=StatePaths.at(state_dir),
        events=EventRecorder(source="test"),
        control_url="http://127.0.0.1:1",
    )
