"""Embedded Postgres clusters: find the server binaries, initdb, run as a child, provision."""

import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import encrypt_password

from lab.errors import PostgresError
from lab.process import Command

SUPERUSER = "postgres"
_SOCKET_PATH_MAX = 100
_TOOLS = ("postgres", "initdb", "pg_controldata", "pg_dump", "pg_restore")


def set_role_password(conn: PgConnection, *, role: str, password: str) -> None:
    """Re-password `role`; only a SCRAM verifier, computed here, reaches the server."""
    verifier = encrypt_password(password, role, conn, "scram-sha-256")
    with conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(role)), (verifier,))


def find_bindir(explicit: Path | None = None) -> Path:
    """Locate PostgreSQL server binaries: explicit, the machine's, then the pgserver package."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(explicit)
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    bundled = pgserver_bindir()
    if bundled is not None:
        candidates.append(bundled)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in _TOOLS):
            return bindir
    raise PostgresError(
        "no PostgreSQL server binaries found: install the postgresql package, "
        "`pip install pgserver`, or set BREAKFIX_PG_BIN to a directory holding initdb"
    )


def pgserver_bindir() -> Path | None:
    """The binaries shipped by the `pgserver` package, found without importing it."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "pginstall" / "bin"


def server_user() -> str | None:
    """The unprivileged user Postgres runs as when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in (SUPERUSER, "pgserver"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SUPERUSER],
        check=True,
    )
    return SUPERUSER


def searchable_by_others(path: Path) -> bool:
    """Whether every existing ancestor of `path` lets other users through (o+x)."""
    return all(
        not parent.exists() or bool(parent.stat().st_mode & stat.S_IXOTH)
        for parent in [path, *path.parents]
    )


def pg_home(state_pg_dir: Path, user: str | None) -> Path:
    """Where the clusters' data dirs go: under the state dir when the postgres user can reach
    it, else under /var/lib/breakfix (linked from the state dir), e.g. for a clone in /root."""
    if user is None or searchable_by_others(state_pg_dir.parent):
        return state_pg_dir
    digest = hashlib.sha256(str(state_pg_dir).encode()).hexdigest()[:12]
    real = Path("/var/lib/breakfix") / digest / "pg"
    real.mkdir(parents=True, exist_ok=True)
    for directory in (real, real.parent, real.parent.parent):
        directory.chmod(0o755)
    if not state_pg_dir.is_symlink() and not state_pg_dir.exists():
        state_pg_dir.parent.mkdir(parents=True, exist_ok=True)
        state_pg_dir.symlink_to(real, target_is_directory=True)
    return real


@dataclass(frozen=True)
class Cluster:
    """One Postgres cluster whose data directory lives under the lab's state dir."""

    name: str
    data_dir: Path
    port: int
    bindir: Path
    user: str | None
    host: str = "127.0.0.1"
    max_connections: int = 100
    # The superuser's password, where the admin path is the network (a container without the
    # data volume, e.g. the action server on Compose); None: the trusted Unix socket.
    admin_password: str | None = field(default=None, repr=False, compare=False)

    @property
    def admin_host(self) -> str:
        """Where admin connections and client tools go: the socket dir, or the TCP host when
        the cluster is administered over the network."""
        return self.host if self.admin_password is not None else str(self.socket_dir)

    @property
    def socket_dir(self) -> Path:
        """The data dir, unless that path is too long for a Unix socket."""
        if len(str(self.data_dir)) + 20 < _SOCKET_PATH_MAX:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"breakfix-pg-{digest}"

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def init(self) -> None:
        """Create the cluster once: local socket trusted, TCP needs a password (SCRAM)."""
        if self.socket_dir != self.data_dir:
            self._own_dir(self.socket_dir)
        if self.is_initialised():
            return
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._check_traversable(self.data_dir.parent)
        self._own_dir(self.data_dir)
        result = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
            ],
            user=self.user,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresError(f"initdb for {self.name} failed: {result.stderr.strip()}")

    def command(self) -> Command:
        """The postmaster in the foreground; SIGINT asks it for a fast, clean shutdown."""
        return Command(
            argv=[
                str(self.bindir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-k",
                str(self.socket_dir),
                "-c",
                f"listen_addresses={self.host}",
                "-c",
                f"max_connections={self.max_connections}",
                "-c",
                "log_line_prefix=%m [%p] %q%a ",
                "-c",
                "fsync=on",
            ],
            user=self.user,
            stop_signal=signal.SIGINT,
        )

    def connect(
        self,
        dbname: str = "postgres",
        *,
        user: str = SUPERUSER,
        application_name: str = "breakfix-lab",
        autocommit: bool = True,
    ) -> PgConnection:
        """A connection over the cluster's Unix socket (trusted: the lab's admin path), or
        over TCP with the superuser's password when the cluster is administered that way."""
        conn = psycopg2.connect(
            host=self.admin_host,
            port=self.port,
            user=user,
            dbname=dbname,
            connect_timeout=3,
            application_name=application_name,
            password=self.admin_password if user == SUPERUSER else None,
        )
        conn.autocommit = autocommit
        return conn

    def is_ready(self) -> bool:
        """Whether the cluster accepts a superuser connection."""
        try:
            self.connect().close()
        except psycopg2.Error:
            return False
        return True

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise PostgresError(f"{self.name} did not accept connections in {timeout:.0f}s")
            time.sleep(0.1)

    def state(self) -> str:
        """The cluster state from pg_controldata, e.g. 'shut down' or 'in production'."""
        result = subprocess.run(
            [str(self.bindir / "pg_controldata"), "-D", str(self.data_dir)],
            user=self.user,
            capture_output=True,
            text=True,
            check=False,
        )
        match = re.search(r"^Database cluster state:\s+(.+)$", result.stdout, re.MULTILINE)
        if match is None:
            raise PostgresError(f"pg_controldata for {self.name} failed: {result.stderr.strip()}")
        return match.group(1).strip()

    def postmaster_pid(self) -> int | None:
        """The pid in postmaster.pid, if the file is there."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        return int(first) if first.strip().isdigit() else None

    def ensure_database(self, *, role: str, password: str, dbname: str) -> None:
        """Create (or re-password) a login role and a database it owns; idempotent."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                # The statement carries a password: keep it out of the server log even if it
                # fails (the log is served to the lab's runtime clients).
                cur.execute("SET log_min_error_statement = panic; SET log_statement = none")
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(
                    sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(role)),
                    (password,),
                )
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
                if cur.fetchone() is None:
                    cur.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(dbname), sql.Identifier(role)
                        )
                    )
        finally:
            conn.close()

    def log_in(self, *, role: str, password: str, dbname: str, timeout_s: int = 5) -> None:
        """Log in over TCP with a password, as the app does, and leave: psycopg2's
        OperationalError when the server refuses (or does not answer in `timeout_s`)."""
        psycopg2.connect(
            host=self.host,
            port=self.port,
            user=role,
            password=password,
            dbname=dbname,
            connect_timeout=timeout_s,
        ).close()

    def dsn(self, *, role: str, password: str | None, dbname: str) -> str:
        """A SQLAlchemy URL over TCP; the password is left out when None."""
        auth = role if password is None else f"{role}:{password}"
        return f"postgresql+psycopg2://{auth}@{self.host}:{self.port}/{dbname}"

    def _own_dir(self, path: Path) -> None:
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise PostgresError(f"{path} is a symlink or not a directory; refusing to use it")
        path.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    def _check_traversable(self, path: Path) -> None:
        """As root, the postgres user must be able to reach the data dir's parent."""
        if self.user is not None and not searchable_by_others(path):
            raise PostgresError(
                f"{path} is not searchable by the '{self.user}' user that runs Postgres: "
                "chmod o+x its parents or choose another BREAKFIX_STATE_DIR"
            )
