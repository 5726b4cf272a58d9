"""The target's exceptions (one base, a stable code each) and their single JSON handler."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from lab.http_errors import error_response, install_json_errors

log = logging.getLogger(__name__)


class TargetError(Exception):
    """Base of every error answered on purpose: `status_code`, `code` and a safe `detail`."""

    status_code, code = 500, "internal_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(TargetError):
    """An id that does not exist."""

    status_code, code = 404, "not_found"


class ConflictError(TargetError):
    """A request that clashes with the current state (e.g. a duplicate SKU)."""

    status_code, code = 409, "conflict"


class InsufficientStockError(ConflictError):
    """An order line asks for more units than are in stock."""

    code = "insufficient_stock"


class OrderNotCancellableError(ConflictError):
    """The order is already cancelled."""

    code = "order_not_cancellable"


class OrderTooLargeError(TargetError):
    """The order's total does not fit the orders table."""

    status_code, code = 422, "order_too_large"


class DatabaseUnavailableError(TargetError):
    """The database cannot be reached or the pool has no free connection."""

    status_code, code = 503, "database_unavailable"


class UpstreamUnavailableError(TargetError):
    """The pricing upstream failed and no cached price exists."""

    status_code, code = 503, "upstream_unavailable"


class CacheCorruptError(TargetError):
    """A cache entry holds bytes that are not the quote written there (parse or checksum)."""

    status_code, code = 500, "cache_corrupt"


INTERNAL_ERROR_BODY = {"detail": "internal server error", "code": "internal_error"}


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # The driver text can carry host names but never the password; still log the class
    # and first line only, because SQLAlchemy appends the statement and its parameters.
    orig = getattr(exc, "orig", None) or exc
    first_line = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    log.error(
        "database unavailable",
        extra={"error_type": type(orig).__name__, "error": first_line},
    )
    return error_response(DatabaseUnavailableError("database unavailable"))


def install_error_handlers(app: FastAPI) -> None:
    """Register the one handler for TargetError, plus the mappings onto it."""
    # The unexpected is answered by the middleware, with the request's correlation id.
    install_json_errors(app, TargetError, log, catch_unexpected=False)
    # A dropped connection mid-query and an exhausted pool mean the same to a client.
    app.add_exception_handler(sa_exc.OperationalError, _database_error)
    app.add_exception_handler(sa_exc.TimeoutError, _database_error)
    app.add_exception_handler(sa_exc.InterfaceError, _database_error)
