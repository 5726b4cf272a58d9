"""How deep a JSON document nests, found without parsing it.

Python's json module, the redaction of audit parameters and the JSON encoder behind JSONB
all recurse once per level: 30,000 levels (60 KB) end in a RecursionError, so a body is
measured before anything parses it. Brackets inside strings do not count.
"""

# Every byte but the quote and the four brackets, deleted before the scan.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_QUOTE, _OPENERS = ord('"'), frozenset(b"[{")


def nests_deeper_than(document: bytes, limit: int) -> bool:
    """Whether arrays and objects in `document` nest more than `limit` levels anywhere."""
    if document.count(b"[") + document.count(b"{") <= limit:
        return False  # the common case, answered without a scan
    # An escaped backslash, then an escaped quote, cannot end a string: drop them so that
    # every quote left opens or closes one (other escapes hold no quote or bracket).
    unescaped = document.replace(b"\\\\", b"").replace(b'\\"', b"")
    depth, in_string = 0, False
    for byte in unescaped.translate(None, _NOT_STRUCTURE):
        if byte == _QUOTE:
            in_string = not in_string
        elif in_string:
            continue
        elif byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
