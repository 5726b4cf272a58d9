"""Types shared by every runtime backend and the supervisor's control endpoint."""

import signal as signals
from typing import Literal

from pydantic import BaseModel, Field

from lab.stats import ProcessStats

Health = Literal["healthy", "unhealthy", "stopped"]

SignalName = Literal[
    "SIGTERM",
    "SIGKILL",
    "SIGINT",
    "SIGHUP",
    "SIGSTOP",
    "SIGCONT",
    "SIGUSR1",
    "SIGUSR2",
    "SIGQUIT",
]


class ServiceStatus(BaseModel):
    """What a backend knows about one service right now."""

    name: str
    kind: str
    pid: int | None
    port: int
    url: str
    health: Health
    uptime_s: float | None
    restarts: int = 0
    restart_policy: Literal["always", "never"]
    last_exit_code: int | None = None


class SignalRequest(BaseModel):
    """A signal to deliver to a service's main process."""

    signal: SignalName

    def number(self) -> signals.Signals:
        return signals.Signals[self.signal]


class LogTail(BaseModel):
    """The last lines of a service's log."""

    service: str
    lines: list[str] = Field(default_factory=list)


__all__ = [
    "Health",
    "LogTail",
    "ProcessStats",
    "ServiceStatus",
    "SignalName",
    "SignalRequest",
]
