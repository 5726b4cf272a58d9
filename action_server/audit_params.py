"""What an audit row keeps of a request's parameters: an object, bounded in size.

Parameters are a JSON object; whatever else a client sent (an array, a scalar, an object
too large to keep whole) is kept as the start of its JSON under one marker key. Rows are
read back through the same function, so one written before this rule is listed too.
"""

import json
from typing import Any

EXCERPT_KEY = "unparsed_excerpt"
MAX_PARAMS_CHARS = 4096
MAX_EXCERPT_CHARS = 1024


def audited_params(value: Any) -> dict[str, Any] | None:
    """`value` (redacted by the caller) as the audit stores and answers it."""
    if value is None:
        return None
    text = json.dumps(value, default=str)
    if isinstance(value, dict) and len(text) <= MAX_PARAMS_CHARS:
        return value
    return {EXCERPT_KEY: text[:MAX_EXCERPT_CHARS]}
