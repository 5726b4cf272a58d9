"""Which maker makes which variant (tests/knowledge/heldout/mechanisms.yaml), and the
variants this machine cannot make, with the reason."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import yaml

from gameday.mechanisms import api_code, api_process, db_admin, db_sessions, files, network
from gameday.mechanisms.base import NotReproducible, OutOfBand
from gameday.mechanisms.upstream import HostsEntryRemoved, StoppedUpstream

VARIANTS_FILE = (
    Path(__file__).resolve().parents[2] / "tests" / "knowledge" / "heldout" / "mechanisms.yaml"
)


@dataclass(frozen=True)
class Variant:
    """One entry of mechanisms.yaml."""

    id: str
    fault: str
    split: str  # tuned | heldout


def load_variants(path: Path = VARIANTS_FILE) -> list[Variant]:
    """Every variant, in file order."""
    raw = yaml.safe_load(path.read_text())["mechanisms"]
    return [Variant(id=m["id"], fault=m["fault"], split=m["split"]) for m in raw]


Maker = Callable[[], OutOfBand] | NotReproducible
_dns = "the lab resolves its pricing names through its own hosts file only (lab names never"
_dns += " reach a DNS server), and there is no local DNS server (dnsmasq is not installed)"

_NO_NETEM = NotReproducible(
    "this machine's kernel has no sch_netem (nor prio; only htb), so no delay or loss"
    " can be put on the db-proxy's port alone; a root netem on loopback would slow every"
    " engineer's traffic on the shared machine"
)

MAKERS: dict[str, Maker] = {
    # api-crash
    "api-crash--oom-kill": NotReproducible(
        "tried: the target in a cgroup v1 memory group whose limit sits just above its usage"
        " (a limit below it is refused, EBUSY); the kernel reclaims page cache to the limit"
        " and the API's ordinary requests never grow its anonymous memory, so no OOM kill"
        " comes without a code change to the API or a host-wide memory squeeze"
    ),
    "api-crash--broken-dependency-on-restart": api_code.broken_dependency,
    # api-hang
    "api-hang--debugger-attached": api_process.DebuggerAttached,
    "api-hang--stalled-log-pipe": NotReproducible(
        "the supervisor owns the target's stdout (a log file it reads); piping it into a"
        " reader that never reads needs a change to how the lab starts the target"
    ),
    "api-hang--container-paused": api_process.container_paused,
    # api-memory-leak
    "api-memory-leak--unbounded-request-history": api_code.request_history,
    "api-memory-leak--unbounded-cache-high-cardinality": api_code.unbounded_memo,
    # api-cpu-hog
    "api-cpu-hog--regex-backtracking": api_code.regex_backtracking,
    "api-cpu-hog--retry-loop-without-backoff": api_code.retry_loop,
    "api-cpu-hog--noisy-neighbour-on-host": api_process.NoisyNeighbour,
    # api-error-storm
    "api-error-storm--stale-pooled-connections": db_admin.StalePool,
    "api-error-storm--partial-feature-flag-rollout": api_code.feature_flag,
    "api-error-storm--one-bad-instance-behind-balancer": NotReproducible(
        "the lab runs one target instance on its port with no balancer in front; a second"
        " instance behind a round-robin proxy would need the lab's ports and probes rewired"
    ),
    # api-latency
    "api-latency--blocking-call-in-async-handler": api_code.blocking_call,
    "api-latency--cpu-quota-throttling": api_process.cpu_quota,
    # upstream-outage
    "upstream-outage--process-stopped": StoppedUpstream,
    "upstream-outage--returns-503": partial(StoppedUpstream, mode="503"),
    "upstream-outage--very-slow-responses": partial(StoppedUpstream, mode="slow"),
    "upstream-outage--garbage-200-responses": partial(StoppedUpstream, mode="garbage"),
    # upstream-dns
    "upstream-dns--hosts-entry-removed": HostsEntryRemoved,
    "upstream-dns--resolver-unreachable": NotReproducible(_dns),
    "upstream-dns--record-deleted-in-local-dns": NotReproducible(_dns),
    # db-down
    "db-down--wal-disk-full-panic": NotReproducible(
        "target-db's data dir is on the machine's shared root file system; filling it would"
        " fill every engineer's disk, and moving the cluster onto a small loop volume is a"
        " change to the lab's Postgres set-up"
    ),
    "db-down--bad-config-fails-restart": db_admin.BadServerConfig,
    "db-down--oom-killed-postmaster": db_admin.MemoryKilledPostgres,
    # db-lock
    "db-lock--forgotten-psql-alter": db_sessions.forgotten_alter,
    "db-lock--migration-queued-behind-long-query": db_sessions.MigrationBehindLongQuery,
    "db-lock--batch-update-holding-row-locks": db_sessions.batch_update,
    "db-lock--maintenance-vacuum-full": NotReproducible(
        "the lab's products table is a few dozen rows: VACUUM FULL / CLUSTER / REINDEX finish"
        " in milliseconds; holding the lock for a minute means writing gigabytes on the"
        " shared 2-core machine"
    ),
    # db-pool-exhaustion
    "db-pool-exhaustion--leaking-batch-script": db_sessions.LeakedConnections,
    "db-pool-exhaustion--idle-in-transaction-pileup": partial(
        db_sessions.LeakedConnections, in_transaction=True
    ),
    "db-pool-exhaustion--limit-lowered-in-config": NotReproducible(
        "the lab starts Postgres with -c max_connections=... on its command line, which"
        " overrides postgresql.conf and ALTER SYSTEM: a lowered value in the config never"
        " takes effect here"
    ),
    # db-auth-failure
    "db-auth-failure--rotation-without-restart": db_admin.RotationWithoutRestart,
    "db-auth-failure--pg-hba-change": db_admin.HbaReject,
    "db-auth-failure--role-password-expired": db_admin.password_expired,
    "db-auth-failure--login-revoked": db_admin.login_revoked,
    # db-data-loss
    "db-data-loss--delete-without-where": partial(
        db_admin.DeletedRows, fault="db-data-loss", tables=("products",)
    ),
    "db-data-loss--wrong-backup-restored": partial(
        db_admin.DeletedRows, fault="db-data-loss", tables=("order_lines", "orders")
    ),
    "db-data-loss--test-teardown-against-live-db": partial(
        db_admin.DeletedRows,
        fault="db-data-loss",
        tables=("order_lines", "orders", "inventory", "products"),
    ),
    # schema-drift
    "schema-drift--code-ahead-of-schema": api_code.code_ahead_of_schema,
    "schema-drift--manual-rename-hotfix": db_admin.RenamedColumn,
    "schema-drift--restore-from-pre-migration-dump": NotReproducible(
        "not made in the time available (a dump at the previous revision, an upgrade, then"
        " pg_restore --clean of that dump, the dropped column's data kept aside as the chaos"
        " fault keeps it): reproducible, not implemented"
    ),
    "schema-drift--search-path-changed": db_admin.search_path_changed,
    # disk-fill
    "disk-fill--runaway-log-file": partial(
        files.BigFile, fault="disk-fill", name="debug.log", line=b"DEBUG something happened\n"
    ),
    "disk-fill--backup-written-to-wrong-volume": partial(
        files.BigFile, fault="disk-fill", name="backup.tar", line=b"\0" * 4096
    ),
    "disk-fill--inode-exhaustion": NotReproducible(
        "the cache volume is a tmpfs whose inode table is sized from RAM (millions of"
        " inodes); exhausting it means millions of files on the shared machine's memory"
    ),
    "disk-fill--deleted-file-still-open": files.DeletedButOpen,
    # cache-corruption
    "cache-corruption--partial-writes-after-crash": partial(
        files.DamagedEntries, fault="cache-corruption", damage="truncated", every=3
    ),
    "cache-corruption--format-changed-between-versions": partial(
        files.DamagedEntries, fault="cache-corruption", damage="old_format"
    ),
    "cache-corruption--compressed-restore": partial(
        files.DamagedEntries, fault="cache-corruption", damage="gzipped"
    ),
    # config-drift
    "config-drift--env-var-removed": partial(
        files.EnvEdit, fault="config-drift", edit="remove_db_url"
    ),
    "config-drift--typo-in-db-host": partial(
        files.EnvEdit, fault="config-drift", edit="typo_db_host"
    ),
    "config-drift--stale-template-reapplied": partial(
        files.EnvEdit, fault="config-drift", edit="stale_template"
    ),
    "config-drift--quoted-or-whitespace-value": partial(
        files.EnvEdit, fault="config-drift", edit="crlf_quoted"
    ),
    # net-db-latency
    "net-db-latency--netem-on-db-path": _NO_NETEM,
    "net-db-latency--proxy-cpu-starved": network.ProxyStarved,
    "net-db-latency--packet-loss-retransmits": _NO_NETEM,
    # net-db-partition
    "net-db-partition--firewall-drop": network.Firewall,
    "net-db-partition--container-network-detached": partial(
        network.Firewall, target=("REJECT", "--reject-with", "icmp-host-unreachable")
    ),
    "net-db-partition--proxy-points-at-wrong-backend": network.ProxyWrongBackend,
}
