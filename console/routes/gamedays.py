"""Game days: the stored runs, one run's scorecard and outage chart, two runs compared."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from console.deps import Parts, Viewer
from console.errors import NotFound
from console.parts import ConsoleParts
from console.render import page
from gameday.errors import GamedayError
from gameday.report.charts import outage_png, timeline_png
from gameday.report.schema import RunReport
from gameday.summary import user_outage_s

router = APIRouter()
RunId = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
RunQuery = Annotated[str, Query(max_length=100, pattern=r"^[A-Za-z0-9_.:-]*$")]


@router.get("/gamedays", response_class=HTMLResponse)
def gamedays_page(
    request: Request,
    parts: Parts,
    session: Viewer,
    page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """Game day runs, newest first."""
    runs = parts.history.gamedays(page=page_no, size=parts.settings.page_size)
    return page(request, "gamedays.html", session, runs=runs)


@router.get("/gamedays/compare", response_class=HTMLResponse)
def compare_page(
    request: Request, parts: Parts, session: Viewer, before: RunQuery = "", after: RunQuery = ""
) -> HTMLResponse:
    """Two runs compared case by case and arm by arm."""
    comparison, error = None, None
    if before and after:
        try:
            comparison = parts.history.compare(before, after)
        except (NotFound, GamedayError) as exc:
            error = str(exc)
    return page(
        request,
        "gameday_compare.html",
        session,
        comparison=comparison,
        error=error,
        before=before,
        after=after,
    )


def _run(parts: ConsoleParts, run_id: str) -> RunReport:
    try:
        return parts.history.gameday(run_id)
    except GamedayError as exc:
        raise NotFound(str(exc)) from None


@router.get("/gamedays/{run_id}", response_class=HTMLResponse)
def gameday_page(request: Request, parts: Parts, session: Viewer, run_id: RunId) -> HTMLResponse:
    """One run: its scorecard, each case's outage and verdict, the outage chart."""
    report = _run(parts, run_id)
    outages = {case.id: user_outage_s(case=case) for case in report.cases}
    return page(request, "gameday.html", session, report=report, outages=outages)


@router.get("/gamedays/{run_id}/outage.png")
async def gameday_chart(parts: Parts, _: Viewer, run_id: RunId) -> Response:
    """The run's outage chart, drawn from the stored report."""
    report = await run_in_threadpool(_run, parts, run_id)
    png = await run_in_threadpool(outage_png, report=report)
    return Response(png, media_type="image/png")


@router.get("/gamedays/{run_id}/cases/{number}.png")
async def case_chart(
    parts: Parts, _: Viewer, run_id: RunId, number: Annotated[int, Path(ge=0, le=10_000)]
) -> Response:
    """One case's timeline chart (injection, alerts, actions, the outage), by its place."""
    report = await run_in_threadpool(_run, parts, run_id)
    if number >= len(report.cases):
        raise NotFound(f"run {run_id} has {len(report.cases)} cases")
    png = await run_in_threadpool(timeline_png, case=report.cases[number])
    return Response(png, media_type="image/png")
