"""Silences: maintenance windows during which alerts about some services open no incident.

Like Alertmanager's silences, for the agent's intake: an operator about to restart or
re-route something on purpose says so first, and the alerts that change causes are counted
as silenced instead of being taken on as an outage. Held in the agent's memory (a restart
of the agent ends every silence) and always bounded in time.
"""

import threading
import time
import uuid
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

MAX_SILENCE_S = 3600.0


class SilenceIn(BaseModel):
    """A silence request: for how long, why, and which services (none: every service)."""

    model_config = ConfigDict(strict=True)  # `for_s: true` is not a second

    for_s: float = Field(gt=0, le=MAX_SILENCE_S)
    reason: str = Field(min_length=1, max_length=500)
    services: list[str] = Field(default_factory=list, max_length=50)


class Silence(BaseModel):
    """One active silence."""

    id: str
    reason: str
    services: list[str]
    until: float  # Unix time

    def covers(self, service: str | None) -> bool:
        return not self.services or service in self.services


class Silences:
    """The active silences; expired ones are dropped as they are read."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock, self._lock = clock, threading.Lock()
        self._active: dict[str, Silence] = {}

    def add(self, request: SilenceIn) -> Silence:
        silence = Silence(
            id=uuid.uuid4().hex[:12],
            reason=request.reason,
            services=request.services,
            until=self._clock() + request.for_s,
        )
        with self._lock:
            self._active[silence.id] = silence
        return silence

    def active(self) -> list[Silence]:
        now = self._clock()
        with self._lock:
            self._active = {k: s for k, s in self._active.items() if s.until > now}
            return sorted(self._active.values(), key=lambda s: s.until)

    def remove(self, silence_id: str | None = None) -> int:
        """End one silence (or all of them when None); how many ended."""
        with self._lock:
            if silence_id is None:
                ended = len(self._active)
                self._active.clear()
                return ended
            return 1 if self._active.pop(silence_id, None) is not None else 0

    def covers(self, service: str | None) -> bool:
        return any(s.covers(service) for s in self.active())
