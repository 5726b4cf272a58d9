"""FastAPI dependencies; tests replace `get_session` through `app.dependency_overrides`."""

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from target_server.parts import TargetParts
from target_server.pricing import PricingClient
from target_server.schemas import INT4_MAX


def get_runtime(request: Request) -> TargetParts:
    """The resources of the app serving this request."""
    runtime: TargetParts = request.app.state.runtime
    return runtime


def get_session(runtime: Annotated[TargetParts, Depends(get_runtime)]) -> Iterator[Session]:
    """A session per request, rolled back and closed if the handler did not commit."""
    with runtime.session_factory() as session:
        yield session


def get_pricing(runtime: Annotated[TargetParts, Depends(get_runtime)]) -> PricingClient:
    """The pricing client of this app."""
    return runtime.pricing


SessionDep = Annotated[Session, Depends(get_session)]
PricingDep = Annotated[PricingClient, Depends(get_pricing)]
RuntimeDep = Annotated[TargetParts, Depends(get_runtime)]
_PLAIN_ID = re.compile(r"[1-9][0-9]{0,9}")


def _plain_id(value: object) -> object:
    # int() and pydantic read "+1", " 1", "01", "1_0" and "1.0" as ids: one spelling each.
    if isinstance(value, str) and not _PLAIN_ID.fullmatch(value):
        raise ValueError("an id is written in plain digits (no sign, space or leading zero)")
    return value


# Ids are int4 serials: a larger path value is a 422, never a DataError from the driver.
IdPath = Annotated[int, BeforeValidator(_plain_id), Path(ge=1, le=INT4_MAX)]
