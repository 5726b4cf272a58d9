"""The small HTML storefront page."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from target_server import products as service
from target_server.deps import SessionDep
from target_server.html import render_products

router = APIRouter(tags=["pages"])


@router.get("/", response_class=HTMLResponse)
def index(session: SessionDep) -> HTMLResponse:
    """An HTML list of the first products."""
    rows = service.list_products(session=session, limit=100, offset=0)
    return HTMLResponse(render_products(rows))
