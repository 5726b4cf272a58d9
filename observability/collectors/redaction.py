"""Secrets out of log lines before they are kept or shown."""

import re

from lab.redaction import REDACTED, redact

# key=value, key: value and "key": "value" forms of secret-looking keys, and bearer tokens.
_KEY_VALUE = re.compile(
    r"""(?ix)
    (["']?\b[\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|credential)[\w-]*["']?
     \s*[:=]\s*)
    (?:"[^"]*"|'[^']*'|[^\s,;&"'}]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact_line(line: str) -> str:
    """The line with URL passwords, secret-looking key/values and bearer tokens replaced."""
    text = str(redact(line))
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
