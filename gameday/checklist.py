"""A checklist of steps: each timed, with what it checked, its clean-ups run however it
ends, and the run stopped at the first step that fails (`breakfix validate`)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from action_server.client import ActionClientError
from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab


@dataclass
class StepResult:
    """One step of the checklist: what it checked, how long it took, why it failed."""

    number: int
    name: str
    passed: bool
    checked: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    ran: bool = True  # False: an earlier step failed, this one was not run


class StepFailed(GamedayError):
    """What a step saw instead of what it expected."""


class Checklist:
    """What a step checked so far, and what it must undo however it ends."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._undo: list[tuple[str, Callable[[], object]]] = []

    def check(self, line: str) -> None:
        self.lines.append(line)

    def defer(self, what: str, undo: Callable[[], object]) -> None:
        """Run `undo` when the step ends, last deferred first."""
        self._undo.append((what, undo))

    def undo_all(self) -> list[str]:
        """Every deferred undo, newest first; what failed (each is tried regardless)."""
        failed = []
        while self._undo:
            what, undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:  # one failed clean-up must not skip the others
                failed.append(f"{what}: {describe(exc)}")
        return failed


StepBody = Callable[[GamedayLab, Checklist], None]


@dataclass(frozen=True)
class Step:
    number: int
    name: str
    body: StepBody


def describe(exc: BaseException) -> str:
    """One line for an error a step met."""
    if isinstance(exc, GamedayError):
        return str(exc)
    if isinstance(exc, ActionClientError):
        return f"action server refused: {exc}"
    return f"{type(exc).__name__}: {exc}"


def run_step(step: Step, lab: GamedayLab) -> StepResult:
    """Run one step, timed; its clean-ups run however it ends."""
    checklist, error = Checklist(), None
    started = time.monotonic()
    try:
        step.body(lab, checklist)
    except Exception as exc:
        error = describe(exc)
    finally:
        left = checklist.undo_all()
    if left:
        checklist.check(f"clean-up failed: {'; '.join(left)}")
        error = error or f"clean-up failed: {'; '.join(left)}"
    seconds = time.monotonic() - started
    return StepResult(step.number, step.name, error is None, checklist.lines, seconds, error)


def first_failure(results: list[StepResult]) -> StepResult | None:
    """The step that stopped the run, if any."""
    return next((r for r in results if r.ran and not r.passed), None)
