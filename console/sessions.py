"""Login and sessions: a console token per role, a server-side session behind an HttpOnly
SameSite=Strict cookie, and a CSRF token per session that every form carries.

Sessions live in the console's memory: a restart logs everyone out, which is what an
operator tool on loopback wants. A session id and a CSRF token are 32 random bytes each;
every comparison is constant time (lab.tokens).
"""

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lab.secrets import read_secret
from lab.tokens import same_token

Role = Literal["viewer", "operator"]
COOKIE = "breakfix_console"
LOGIN_COOKIE = "breakfix_console_login"  # the login form's CSRF (double submit)


@dataclass
class Session:
    """One logged-in browser: who, which role, its CSRF token and a one-shot message."""

    actor: str
    role: Role
    csrf: str
    expires: float
    flash: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)

    @property
    def operator(self) -> bool:
        return self.role == "operator"


class Sessions:
    """The role tokens (read from their files at each login, so a rotated token counts at
    once) and the open sessions."""

    def __init__(self, *, tokens: dict[Role, Path], ttl_s: float) -> None:
        self._tokens, self._ttl = tokens, ttl_s
        self._open: dict[str, Session] = {}
        self._lock = threading.Lock()

    def role_of(self, presented: str) -> Role | None:
        """The role whose token `presented` is; every role's compared in constant time."""
        found: Role | None = None
        for role, path in self._tokens.items():
            if same_token(presented, read_secret(path)) and found is None:
                found = role
        return found

    def open(self, role: Role) -> tuple[str, Session]:
        """A new session for `role`; its id goes in the cookie."""
        sid = secrets.token_urlsafe(32)
        session = Session(
            actor=role, role=role, csrf=secrets.token_urlsafe(32), expires=time.time() + self._ttl
        )
        with self._lock:
            now = time.time()
            for stale in [k for k, s in self._open.items() if s.expires < now]:
                del self._open[stale]
            self._open[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session behind a cookie value, or None."""
        if not sid:
            return None
        with self._lock:
            session = self._open.get(sid)
        if session is None or session.expires < time.time():
            return None
        return session

    def close(self, sid: str | None) -> None:
        """Forget a session (logout)."""
        if sid:
            with self._lock:
                self._open.pop(sid, None)


def csrf_ok(session: Session, presented: str | None) -> bool:
    """Whether a form's CSRF token is the session's."""
    return same_token(presented, session.csrf)
