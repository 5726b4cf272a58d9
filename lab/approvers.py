"""Approver credentials: who may answer the agent's approval requests.

One file (0600, in the lab's secrets dir), one approver a line: `name token`, `#` comments.
An approver is a person or a role with a token of its own; the agent records the name its
token is filed under as the one who answered, never a name from the request. The lab
provisions its operator (the CLI's) and the game day's auto-approver; add a line per person
and give each their token (the agent reads the file when it starts).
"""

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from lab.files import write_atomic
from lab.tokens import same_token

MIN_TOKEN_LENGTH = 16
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
TOKEN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: it goes in a header


@dataclass(frozen=True)
class Approvers:
    """Approver tokens by name."""

    tokens: dict[str, str] = field(default_factory=dict)

    def named_by(self, presented: str | None) -> str | None:
        """The name whose token `presented` is, or None; every entry compared in constant time."""
        found = None
        for name, token in self.tokens.items():
            if same_token(presented, token) and found is None:
                found = name
        return found


def parse_approvers(text: str, *, source: str) -> Approvers:
    """`name token` lines; ValueError names the line (never the token) when one is wrong."""
    tokens: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, token = line.partition(" ")
        token = token.strip()
        where = f"{source} line {number}"
        if not NAME.match(name):
            raise ValueError(f"{where}: a name is letters, digits and _.@- (up to 100)")
        if len(token) < MIN_TOKEN_LENGTH or not TOKEN.match(token):
            raise ValueError(
                f"{where}: {name}'s token must be {MIN_TOKEN_LENGTH}+ printable ASCII characters"
            )
        if name in tokens:
            raise ValueError(f"{where}: {name} is listed twice")
        if token in tokens.values():
            raise ValueError(f"{where}: {name}'s token is another approver's")
        tokens[name] = token
    return Approvers(tokens)


def read_approvers(path: Path) -> Approvers:
    """The approvers in `path` (OSError when it cannot be read, ValueError when it is wrong)."""
    return parse_approvers(path.read_text(encoding="utf-8"), source=str(path))


def approver_token(path: Path, name: str) -> str:
    """`name`'s token from the approvers file; LookupError when it has none."""
    token = read_approvers(path).tokens.get(name)
    if token is None:
        raise LookupError(f"no approver named {name!r} in {path}")
    return token


def ensure_approvers(path: Path, names: tuple[str, ...]) -> None:
    """Give each of `names` missing from the file a fresh token (file created 0600); every
    other line, and every existing token, is kept as it is."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    missing = [n for n in names if n not in parse_approvers(text, source=str(path)).tokens]
    if not missing:
        return
    if text and not text.endswith("\n"):
        text += "\n"
    if not text:
        text = "# Agent approvers: `name token` a line; each answers approvals as `name`.\n"
    text += "".join(f"{name} {secrets.token_urlsafe(32)}\n" for name in missing)
    write_atomic(path, text, mode=0o600)
