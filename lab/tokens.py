"""Comparing a presented token with the expected one, for every service's auth.

Constant time, and total: `hmac.compare_digest` raises TypeError on a str that is not ASCII,
and a header like `Authorization: Bearer tökén` reaches an app as such a str, so comparing
text answered 500 where 401 was due. Both sides are compared as UTF-8 bytes instead (lone
surrogates passed through), so any text a client sends is a mismatch, never an error.
"""

import hmac


def _octets(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def same_token(presented: str | None, expected: str) -> bool:
    """True when `presented` is `expected`; None or empty never matches."""
    if not presented:
        return False
    return hmac.compare_digest(_octets(presented), _octets(expected))
