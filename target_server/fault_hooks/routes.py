"""`/_faults/*`: add, list and remove hooks; token required, hidden from the OpenAPI schema."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from target_server.fault_hooks.auth import require_hooks_token
from target_server.fault_hooks.errors import HookNotFoundError
from target_server.fault_hooks.params import KEY_PATTERN, PARAMS, HookKind
from target_server.fault_hooks.state import FaultHooks

PREFIX = "/_faults"
router = APIRouter(
    prefix=PREFIX, include_in_schema=False, dependencies=[Depends(require_hooks_token)]
)


def _hooks(request: Request) -> FaultHooks:
    hooks: FaultHooks = request.app.state.runtime.fault_hooks
    return hooks


@router.get("")
def list_hooks(request: Request) -> dict[str, list[dict[str, Any]]]:
    """Every active hook with its parameters and what it holds."""
    return {"hooks": [hook.describe() for hook in _hooks(request).active()]}


@router.post("/{kind}")
async def add_hook(kind: HookKind, request: Request) -> JSONResponse:
    """Start a hook: 201 when new, 200 when this key is already active (nothing restarted)."""
    # The body is parsed here, after the token check, with the model its kind names.
    raw = await request.body()
    try:
        body = PARAMS[kind].model_validate_json(raw or b"{}")
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]
        raise RequestValidationError(errors) from None
    hook, created = _hooks(request).add(kind, body)
    return JSONResponse(hook.describe(), status_code=201 if created else 200)


@router.delete("/{kind}/{fault_key}")
def remove_hook(
    kind: HookKind, fault_key: Annotated[str, Path(pattern=KEY_PATTERN)], request: Request
) -> dict[str, Any]:
    """Stop a hook and release what it holds; 404 when it is not active in this process."""
    hook = _hooks(request).remove(kind, fault_key)
    if hook is None:
        raise HookNotFoundError(f"no active {kind.value} hook {fault_key!r}")
    return hook.describe()
