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
                "next_run": book.next_run(s.name),
                "last": book.last.get(s.name),
            }
            for s in book.scenarios.values()
        ],
        "errors": book.errors,
    }


@router.post("/{name}/run")
def run_now(name: ScenarioName, book: Book) -> dict[str, Any]:
    """Run a loaded scenario now and answer with its result (faults rolled back by then)."""
    if name not in book.scenarios:
        raise ScenarioNotFound(f"no scenario {name!r}; loaded: {', '.join(sorted(book.scenarios))}")
    try:
        return book.run(name, trigger="api").to_dict()
    except ScenarioBusy:
        raise ScenarioRunning(f"scenario {name!r} is running already") from None
