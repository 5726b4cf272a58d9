"""`python3 -m breakfix.compose_secrets DIR`: the Compose stack's secret files, made once.

Standard library only (and the kit's stdlib-only helpers), so it runs on the runtime image's
system Python before any venv exists. The names and formats are those `breakfix run` makes
in its state dir (lab.services, action_server.keys); a fast test holds them equal. The
agent's act key is made here, and the `init` container records its hash in ops-db.
"""

import secrets
import sys
from pathlib import Path

from lab.approvers import ensure_approvers
from lab.files import write_atomic
from lab.secrets import ensure_secret

TOKENS = {  # file name -> random bytes
    "control.token": 24,
    "target-db-app.password": 24,
    "ops-db.password": 24,
    "target-db-admin.password": 24,
    "chaos.key": 24,
    "victim-hooks.token": 24,
    "agent-intake.token": 32,
    "console-operator.token": 32,
    "console-viewer.token": 32,
}
APPROVERS_FILE, APPROVERS = "agent-approvers.tokens", ("operator", "gameday", "console")
AGENT_KEY_FILE = "agent-action.key"


def agent_key() -> str:
    """A key in the action server's `bfx_<id>_<secret>` format."""
    return f"bfx_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def write_secrets(directory: Path) -> list[str]:
    """Create each missing secret file in `directory` (0600); the names of those made."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    names = [*TOKENS, APPROVERS_FILE, AGENT_KEY_FILE]
    made = [name for name in names if not (directory / name).exists()]
    for name, nbytes in TOKENS.items():
        ensure_secret(directory / name, nbytes=nbytes)
    ensure_approvers(directory / APPROVERS_FILE, APPROVERS)
    if not (directory / AGENT_KEY_FILE).exists():
        write_atomic(directory / AGENT_KEY_FILE, agent_key() + "\n", mode=0o600)
    return made


def main(argv: list[str]) -> int:
    """Write the files into the directory named by the one argument."""
    if len(argv) != 1:
        sys.stderr.write("usage: python3 -m breakfix.compose_secrets DIR\n")
        return 2
    made = write_secrets(Path(argv[0]))
    sys.stdout.write(f"compose secrets in {argv[0]}: {len(made)} new\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
