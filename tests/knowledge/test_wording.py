"""Identifiers spelled out for retrieval (knowledge/wording.py)."""

import pytest

from knowledge.wording import spelled_out, words_of


@pytest.mark.parametrize(
    ("identifier", "words"),
    [
        ("psycopg.errors.UndefinedTable", ["psycopg", "errors", "undefined", "table"]),
        ("AuthenticationFailures", ["authentication", "failures"]),
        ("node_filesystem_avail_bytes", ["node", "filesystem", "avail", "bytes"]),
        ("DBConnectionErrors", ["db", "connection", "errors"]),
        ("REQUEST_TIMEOUT", ["request", "timeout"]),
    ],
)
def test_an_identifier_is_split_into_its_words(identifier: str, words: list[str]) -> None:
    assert words_of(identifier) == words


def test_the_text_is_only_added_to() -> None:
    text = "Error rate 100%: psycopg.errors.UndefinedTable on POST /checkout."
    out = spelled_out(text)
    assert out == (
        "Error rate 100%: psycopg.errors.UndefinedTable (psycopg errors undefined table)"
        " on POST /checkout."
    )


@pytest.mark.parametrize(
    "prose", ["The shop is down since 3am.", "p99 latency is 2.1 s", "HTTP 502 from nginx"]
)
def test_prose_is_left_alone(prose: str) -> None:
    assert spelled_out(prose) == prose
