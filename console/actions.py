"""A console action: done through a service, shown as a message, recorded with who did it."""

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi.responses import RedirectResponse

from console.errors import ServiceFailed, StoreUnavailable
from console.parts import ConsoleParts
from console.sessions import Session
from lab.untrusted_text import plain

log = logging.getLogger("console.actions")


def act(
    parts: ConsoleParts,
    session: Session,
    *,
    action: str,
    target: str | None,
    params: dict[str, Any] | None = None,
    run: Callable[[], Any],
    done: Callable[[Any], str],
    back: str,
) -> RedirectResponse:
    """Run `run`; a refusal or failure becomes the page's message with the service's reason.
    Either way the attempt is recorded (console_actions) before the redirect to `back`."""
    try:
        result = run()
    except ServiceFailed as exc:
        refused = exc.status is not None and exc.status < 500
        outcome, status, message = ("refused" if refused else "error"), exc.status, str(exc)
        session.flash.append(("error", f"{'refused' if refused else 'failed'}: {message}"))
    else:
        outcome, status, message = "ok", 200, done(result)
        session.flash.append(("ok", message))
    try:
        parts.history.record(
            actor=session.actor,
            role=session.role,
            action=action,
            target=target,
            params=json.dumps(params or {}),
            outcome=outcome,
            status_code=status,
            detail=plain(message, limit=500),
        )
    except StoreUnavailable:
        log.warning("console action %s on %s not recorded: ops-db unreachable", action, target)
        session.flash.append(("error", "ops-db unreachable: this action was not recorded"))
    return RedirectResponse(back, status_code=303)
