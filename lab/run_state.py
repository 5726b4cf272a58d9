"""The running supervisor's record in the state dir: its pid, control URL and children."""

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from lab.files import write_atomic
from lab.process import pid_alive


class ChildRecord(BaseModel):
    """One child process: enough to find it again (pid + start time) and stop it right."""

    pid: int
    started_at: float
    stop_signal: int


class RunState(BaseModel):
    """What `status` and `down` need to find a running lab."""

    pid: int
    started_at: float
    control_url: str
    children: dict[str, ChildRecord] = {}

    def supervisor_alive(self) -> bool:
        return pid_alive(self.pid, started_at=self.started_at)


def load(path: Path) -> RunState | None:
    """The recorded state, or None when there is none (or it is unreadable)."""
    try:
        return RunState.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError):
        return None


def save(path: Path, state: RunState) -> None:
    write_atomic(path, state.model_dump_json(indent=2), mode=0o600)
