"""FastAPI dependencies; tests replace `get_session` through `app.dependency_overrides`."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from target_server.pricing import PricingClient
from target_server.runtime import Runtime
from target_server.schemas import INT4_MAX


def get_runtime(request: Request) -> Runtime:
    """The resources of the app serving this request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    """A session per request, rolled back and closed if the handler did not commit."""
    with runtime.session_factory() as session:
        yield session


def get_pricing(runtime: Annotated[Runtime, Depends(get_runtime)]) -> PricingClient:
    """The pricing client of this app."""
    return runtime.pricing


SessionDep = Annotated[Session, Depends(get_session)]
PricingDep = Annotated[PricingClient, Depends(get_pricing)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# Ids are int4 serials: a larger path value is a 422, never a DataError from the driver.
IdPath = Annotated[int, Path(ge=1, le=INT4_MAX)]
