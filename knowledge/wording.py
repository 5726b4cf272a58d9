"""Identifiers spelled out as words, for retrieval.

Monitors and stack traces name things in code: `AuthenticationFailures`, `psycopg.errors.
UndefinedTable`, `node_filesystem_avail_bytes`, `DBConnectionErrors`. Neither the embedding
nor BM25's tokenizer reads those as the words a runbook uses ("authentication failures",
"undefined table", "filesystem avail bytes"), so each such identifier is followed by its words.
The text is only added to, never changed. A regular expression, not a library: the split is
the standard camelCase/snake_case/dotted one (what `inflection` or `humps` do for one case
each) and no package here does all three on free text.
"""

import re

# A token with a case hump, an underscore or an inner dot between letters: code, not prose.
_IDENTIFIER = re.compile(
    r"\b(?=[A-Za-z0-9_.]*(?:[a-z][A-Z]|[A-Za-z]_[A-Za-z]|[a-z]\.[A-Za-z]))[A-Za-z][\w.]*[A-Za-z0-9]"
)
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATOR = re.compile(r"[._]+")


def words_of(identifier: str) -> list[str]:
    """`psycopg.errors.UndefinedTable` -> ["psycopg", "errors", "undefined", "table"]."""
    words: list[str] = []
    for part in _SEPARATOR.split(identifier):
        words.extend(w.lower() for w in _HUMP.split(part) if w)
    return words


def spelled_out(text: str) -> str:
    """`text` with every identifier in it followed by its words in parentheses."""

    def expand(match: re.Match[str]) -> str:
        words = words_of(match.group(0))
        return f"{match.group(0)} ({' '.join(words)})" if len(words) > 1 else match.group(0)

    return _IDENTIFIER.sub(expand, text)
