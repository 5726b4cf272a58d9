"""Secrets never reach the action server's logs, audit rows or responses."""

import logging
import sys

from lab.redaction import REDACTED, RedactingFormatter, redact


def test_secret_keys_and_url_passwords_are_redacted() -> None:
    cleaned = redact(
        {
            "password": "p",
            "Api-Key": "k",
            "nested": [{"token": "t"}],
            "url": "postgresql+psycopg2://app:hunter2@127.0.0.1:5433/shop",
            "count": 3,
        }
    )
    assert cleaned["password"] == cleaned["Api-Key"] == cleaned["nested"][0]["token"] == REDACTED
    assert cleaned["url"] == f"postgresql+psycopg2://app:{REDACTED}@127.0.0.1:5433/shop"
    assert cleaned["count"] == 3


def test_log_lines_and_tracebacks_lose_their_passwords() -> None:
    try:
        raise RuntimeError("cannot reach postgresql://app:hunter2@127.0.0.1/shop")
    except RuntimeError:
        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "while using %s",
            ("http://u:s3cret@h/x",),
            sys.exc_info(),
        )
    line = RedactingFormatter("%(message)s").format(record)
    assert "hunter2" not in line and "s3cret" not in line
    assert "RuntimeError" in line and REDACTED in line


def test_nul_characters_cannot_break_a_record() -> None:
    assert redact({"a\x00b": ["x\x00y"]}) == {"a\ufffdb": ["x\ufffdy"]}
