"""Silences (maintenance windows): create, list, end. Changing them needs the token."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from agent.api.auth import require_token
from agent.api.deps import Parts
from agent.silences import Silence, SilenceIn

router = APIRouter()
SilenceId = Annotated[str, Path(max_length=32, pattern=r"^[a-f0-9]+$")]


@router.get("/silences")
def list_silences(parts: Parts) -> list[Silence]:
    """The active silences, soonest to end first."""
    return parts.silences.active()


@router.post("/silences", status_code=201, dependencies=[Depends(require_token)])
def add_silence(request: SilenceIn, parts: Parts) -> Silence:
    """Alerts about these services (every service if none) open no incident until it ends."""
    return parts.silences.add(request)


@router.delete("/silences", dependencies=[Depends(require_token)])
def end_all(parts: Parts) -> dict[str, int]:
    return {"ended": parts.silences.remove()}


@router.delete("/silences/{silence_id}", dependencies=[Depends(require_token)])
def end_one(silence_id: SilenceId, parts: Parts) -> dict[str, int]:
    return {"ended": parts.silences.remove(silence_id)}
