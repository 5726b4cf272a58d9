"""Answering the agent's approval requests as an on-call human would.

`auto` approves after a think time, `deny` denies after it, `manual` leaves the answer to
a person (`breakfix incidents` shows the pending step; the agent's API takes the answer).
Every request is recorded with its wait, so the report can show it apart from the outage.
The client carries the game day's approver token: the agent records the answer as given by
that token's name (`gameday`), and that token can do nothing but answer.
"""

import threading
import time
from dataclasses import dataclass

import httpx

from gameday.plan import ApproveMode


@dataclass
class Asked:
    """One approval request seen: when, and how it was answered."""

    incident: str
    asked_at: float
    answered_at: float | None = None
    answer: str = "unanswered"


class Approver:
    """Polls the agent for incidents awaiting approval and answers them with `agent`, a
    client carrying an approver token."""

    def __init__(
        self, agent: httpx.Client, *, mode: ApproveMode, think_time_s: float, every_s: float = 0.5
    ) -> None:
        self._agent, self.mode, self.think_time_s, self.every_s = agent, mode, think_time_s, every_s
        self.asked: dict[str, Asked] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="approver", daemon=True)

    def start(self) -> "Approver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30.0)

    def since(self, moment: float) -> list[Asked]:
        """The requests seen at or after `moment`."""
        with self._lock:
            return [a for a in self.asked.values() if a.asked_at >= moment]

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                listed = self._agent.get("/incidents", params={"limit": 50}, timeout=10.0).json()
            except (httpx.HTTPError, ValueError):
                continue
            now = time.time()
            for item in listed.get("incidents", []):
                self._see(item, now)

    def _see(self, item: dict[str, object], now: float) -> None:
        incident, state = str(item["id"]), item.get("state")
        with self._lock:
            asked = self.asked.get(incident)
            if state == "awaiting_approval" and (asked is None or asked.answered_at is not None):
                asked = self.asked[incident] = Asked(incident, now)
            if asked is None or asked.answered_at is not None:
                return
            if state != "awaiting_approval":  # answered by someone else, or timed out
                asked.answered_at, asked.answer = now, "elsewhere"
                return
        if self.mode == "manual" or now - asked.asked_at < self.think_time_s:
            return
        verb = "approve" if self.mode == "auto" else "deny"
        body = {"note": f"game day --approve {self.mode}"}  # who: the token's name
        try:
            answer = self._agent.post(f"/incidents/{incident}/{verb}", json=body, timeout=30.0)
        except httpx.HTTPError:
            return
        if answer.status_code < 400:
            with self._lock:
                asked.answered_at = time.time()
                asked.answer = "approved" if verb == "approve" else "denied"
