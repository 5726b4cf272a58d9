"""The arms a case is run under: who responds to the fault.

- `agent`: whoever acts through the action server with a key that is not the game day's —
  the lab's agent, or an external agent with its own key (run the lab with
  BREAKFIX_AGENT_ENABLED=false and point yours at the action server);
- `none`: nobody; the lab's agent is silenced for the case (what a team has today
  without automation: the outage lasts until someone notices);
- `restart-only`: a naive bot restarts the API on any firing alert about the victims, at
  most once per cooldown; the lab's agent is silenced.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from action_server.client import ActionClient, ActionClientError
from action_server.keys import Scope
from gameday.errors import GamedayError
from gameday.lab_handle import BOT_KEY, GamedayLab, own_key
from gameday.report.schema import Arm
from gameday.steady import VICTIMS


class RestartBot:
    """Restart the API whenever an alert about a victim fires (a cooldown between)."""

    def __init__(self, lab: GamedayLab, *, cooldown_s: float = 20.0, every_s: float = 1.0) -> None:
        key = own_key(lab.paths, secret=BOT_KEY, name="gameday-restart-bot", scope=Scope.act)
        self._actions = ActionClient(lab.action_url, key, timeout=120.0)
        self._observability = lab.observability
        self.cooldown_s, self.every_s = cooldown_s, every_s
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="restart-bot", daemon=True)

    def start(self) -> "RestartBot":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=150.0)
        self._actions.close()

    def _firing(self) -> bool:
        try:
            alerts = self._observability.get("/alerts", timeout=5.0).json()
        except (httpx.HTTPError, ValueError):
            return False
        return any(a.get("status") == "firing" and a.get("service") in VICTIMS for a in alerts)

    def _loop(self) -> None:
        last = 0.0
        while not self._stop.wait(self.every_s):
            if time.monotonic() - last < self.cooldown_s or not self._firing():
                continue
            last = time.monotonic()
            try:
                self._actions.act("restart-api", {}, wait=True)
                self.restarts += 1
            except (ActionClientError, httpx.HTTPError):
                pass  # refused or unreachable: the audit log has it; try after the cooldown


def silence_agent(lab: GamedayLab, *, for_s: float, reason: str) -> str | None:
    """Silence the lab's agent for every service (None when the lab runs no agent)."""
    if lab.agent is None:
        return None
    made = lab.agent.post(
        "/silences", json={"for_s": min(for_s, 3600.0), "reason": reason}, timeout=10.0
    )
    if made.status_code != 201:
        raise GamedayError(f"the agent refused a silence: {made.status_code} {made.text[:200]}")
    return str(made.json()["id"])


def end_silence(lab: GamedayLab, silence_id: str | None) -> None:
    """End a silence made by `silence_agent` (a failure to is not fatal: it expires)."""
    if lab.agent is None or silence_id is None:
        return
    try:
        lab.agent.delete(f"/silences/{silence_id}", timeout=10.0)
    except httpx.HTTPError:
        pass


@contextmanager
def responding(lab: GamedayLab, arm: Arm, *, for_s: float) -> Iterator[None]:
    """The arm in place for one case: the agent left alone, silenced, or silenced with the
    restart bot running; everything undone afterwards, Ctrl-C included."""
    silence = None
    bot = None
    try:
        if arm != "agent":
            silence = silence_agent(lab, for_s=for_s, reason=f"gameday: arm {arm}")
        if arm == "restart-only":
            bot = RestartBot(lab).start()
        yield
    finally:
        if bot is not None:
            bot.stop()
        end_silence(lab, silence)
