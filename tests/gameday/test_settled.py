"""When a case may end: the same clean window the report measures, and the responder done."""

import pytest

from gameday.case_runner import CaseSettings, _settled
from gameday.outage import Journey
from gameday.probe import JourneyProbe

T0 = 1_000_000.0
SETTINGS = CaseSettings(clean_window_s=5.0, settle_s=1.0)


def _probe(pattern: str) -> JourneyProbe:
    probe = JourneyProbe("http://127.0.0.1:9", interval_s=0.5)
    probe._journeys = [
        Journey(started_at=T0 + i * 0.5, latency_s=0.05, ok=c == ".") for i, c in enumerate(pattern)
    ]
    return probe


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [T0]
    monkeypatch.setattr("gameday.case_runner.time.time", lambda: now[0])
    return now


def test_a_clean_run_shorter_than_the_window_does_not_end_the_case(frozen: list[float]) -> None:
    frozen[0] = T0 + 6.5
    short = _probe("xxxx" + "." * 9)  # good from 2.0 s to 6.0 s: 4 s, under the 5 s window
    assert not _settled({}, short, since=T0, settings=SETTINGS, incidents_expected=False)
    frozen[0] = T0 + 7.5
    held = _probe("xxxx" + "." * 11)  # good from 2.0 s to 7.0 s: the window held
    assert _settled({}, held, since=T0, settings=SETTINGS, incidents_expected=False)


def test_the_lab_agent_must_have_opened_and_closed_its_incidents(frozen: list[float]) -> None:
    frozen[0] = T0 + 15.0
    probe = _probe("xxxx" + "." * 26)
    args = {"since": T0, "settings": SETTINGS, "incidents_expected": True}
    assert not _settled({}, probe, **args)  # recovered, but the agent opened nothing yet
    assert not _settled({"i1": "verifying"}, probe, **args)
    assert _settled({"i1": "resolved"}, probe, **args)


def test_users_hurt_again_keep_the_case_open(frozen: list[float]) -> None:
    frozen[0] = T0 + 10.0
    again = _probe("xx" + "." * 12 + "xx")
    assert not _settled({"i1": "resolved"}, again, since=T0, settings=SETTINGS,
                        incidents_expected=True)  # fmt: skip


def test_never_hurt_without_incidents_waits_for_a_responder(frozen: list[float]) -> None:
    frozen[0] = T0 + 20.0
    quiet = _probe("." * 63)  # to 31 s
    assert not _settled({}, quiet, since=T0, settings=SETTINGS, incidents_expected=False)
    frozen[0] = T0 + 31.0
    assert _settled({}, quiet, since=T0, settings=SETTINGS, incidents_expected=False)
