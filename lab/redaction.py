"""Removing secrets from anything that is logged, audited or answered."""

import logging
import re
import sys
from typing import Any

_SECRET_KEYS = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|dsn|webhook", re.I)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """A copy of `value` with secret-looking keys and URL passwords replaced."""
    if isinstance(value, dict):
        return {
            clean_text(str(k)): REDACTED if _SECRET_KEYS.search(str(k)) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return clean_text(_URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", value))
    return value


def clean_text(value: str) -> str:
    """Postgres text and jsonb cannot hold NUL: store U+FFFD in its place."""
    return value.replace("\x00", "\ufffd")


class RedactingFormatter(logging.Formatter):
    """A log formatter that strips URL passwords from the whole line, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return str(redact(super().format(record)))


def configure_redacted_logging(
    level: str, quiet: tuple[str, ...] = ("httpx", "apscheduler")
) -> None:
    """Log to stdout through the redacting formatter: how every lab server logs."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.WARNING)
