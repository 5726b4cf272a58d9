"""The victims' fault-hooks token: one check for the target's `/_faults`, the pricing stubs'
`/_control` and db-proxy's admin API. Only the chaos server holds the token."""

from enum import Enum
from pathlib import Path

from lab.tokens import same_token

HOOKS_HEADER = "X-Fault-Hooks-Token"


class HooksAccess(Enum):
    """What a presented token gets."""

    ok = "ok"
    disabled = "disabled"  # no token configured: the hooks do not exist
    missing = "missing"
    invalid = "invalid"


def read_hooks_token(path: Path | None) -> str | None:
    """The token, read on every call so a rotated token takes effect without a restart."""
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def check_hooks_token(path: Path | None, presented: str | None) -> HooksAccess:
    """Compare `presented` with the token in `path`, in constant time."""
    expected = read_hooks_token(path)
    if expected is None:
        return HooksAccess.disabled
    if not presented:
        return HooksAccess.missing
    if not same_token(presented, expected):
        return HooksAccess.invalid
    return HooksAccess.ok
