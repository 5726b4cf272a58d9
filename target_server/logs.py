"""JSON logs on stdout: one object per line with the request fields when there are some."""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged.
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object: ts, level, logger, msg, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise `record`, its `extra=` fields and any traceback."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class CorrelationFilter(logging.Filter):
    """Stamp every record logged while serving a request with its correlation id."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `correlation_id` unless the record already has one."""
        if not hasattr(record, "correlation_id"):
            cid = correlation_id.get()
            if cid is not None:
                record.correlation_id = cid
        return True


def configure_logging(level: str) -> None:
    """Send every logger (ours, uvicorn's, SQLAlchemy's) to stdout as JSON."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Our middleware writes one line per request; uvicorn's access line would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    # /ready reads the Alembic revision on every probe; its INFO lines are noise, not signal.
    logging.getLogger("alembic").setLevel(logging.WARNING)
