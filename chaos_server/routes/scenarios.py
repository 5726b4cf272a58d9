"""`/scenarios`: the scenarios this server loaded, their schedule, and running one now."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from chaos_server.auth import require_chaos_key
from chaos_server.errors import ChaosError
from chaos_server.scenarios.schedule import ScenarioBook, ScenarioBusy

router = APIRouter(prefix="/scenarios", dependencies=[Depends(require_chaos_key)])
ScenarioName = Annotated[str, Path(max_length=64)]


class ScenarioNotFound(ChaosError):
    status_code, code = 404, "not_found"


class ScenarioRunning(ChaosError):
    status_code, code = 409, "scenario_running"


class StopConditionUnavailable(ChaosError):
    """A stop condition could not be evaluated before the start: nothing was injected."""

    status_code, code = 409, "stop_condition_unavailable"


def _book(request: Request) -> ScenarioBook:
    book: ScenarioBook = request.app.state.scenarios
    return book


Book = Annotated[ScenarioBook, Depends(_book)]


@router.get("")
def list_scenarios(book: Book) -> dict[str, Any]:
    """Every loaded scenario with its schedule, next run and last result; load errors too."""
    return {
        "scheduler_enabled": book.scheduler is not None,
        "scenarios": [
            {
                "name": s.name,
                "description": s.description,
                "schedule": s.schedule,
                "steps": len(s.steps),
                "stop_conditions": (
                    s.stop_conditions.model_dump(mode="json") if s.stop_conditions else None
                ),
                "next_run": book.next_run(s.name),
                "last": book.last.get(s.name),
            }
            for s in book.scenarios.values()
        ],
        "errors": book.errors,
    }


@router.post("/{name}/run")
def run_now(name: ScenarioName, book: Book) -> dict[str, Any]:
    """Run a loaded scenario now and answer with its result (faults rolled back by then).

    A run halted by a stop condition answers 200 with status `halted` and `stop`; one whose
    stop condition cannot be evaluated is refused with 409 `stop_condition_unavailable`.
    """
    if name not in book.scenarios:
        raise ScenarioNotFound(f"no scenario {name!r}; loaded: {', '.join(sorted(book.scenarios))}")
    try:
        result = book.run(name, trigger="api")
    except ScenarioBusy:
        raise ScenarioRunning(f"scenario {name!r} is running already") from None
    if result.status == "refused" and result.stop is not None:
        raise StopConditionUnavailable(f"scenario {name!r} not started: {result.stop['detail']}")
    return result.to_dict()
