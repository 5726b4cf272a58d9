"""Recovery oracles: the catalogue's "recovered when", checked from outside the agent.

Each oracle answers a list of what is still wrong (empty = recovered). A `Baseline` is taken
from the steady lab right before the injection: RSS, latency, and the ids of the rows a
data-loss fault may take away.
"""

import secrets
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from psycopg2 import sql

from gameday.incidents import agent_actions
from gameday.lab_handle import GamedayLab
from gameday.polling import until
from lab.cache_volume import is_lab_mount
from lab.services import APP_DB
from target_server.migrations import head_revision

DATA_TABLES = ("products", "orders", "order_lines")
LATENCY_SAMPLES = 20
LATENCY_FLOOR_S = 1.0  # p95 under this, or within 3x the baseline, is "back to baseline"
RSS_SLACK_BYTES = 64 * 2**20
ORACLE_WITHIN_S = 45.0  # the agent verified already: recovery should show at once


@dataclass
class Baseline:
    """The steady lab before a fault, for the oracles that compare against it."""

    rss_bytes: int = 0
    p95_s: float = 0.0
    rows: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # max id, count, md5
    product_id: int = 1
    taken_at: float = field(default_factory=time.time)


def take_baseline(lab: GamedayLab) -> Baseline:
    """RSS of the target, p95 of product reads, and the id sets of the order tables."""
    product_id = _some_product(lab)
    return Baseline(
        rss_bytes=lab.runtime.stats("target").rss_bytes,
        p95_s=_p95(lab, product_id),
        rows=_row_ids(lab),
        product_id=product_id,
    )


def _some_product(lab: GamedayLab) -> int:
    response = lab.target.get("/products", params={"limit": 1})
    response.raise_for_status()
    return int(response.json()[0]["id"])


def _p95(lab: GamedayLab, product_id: int) -> float:
    took = []
    for _ in range(LATENCY_SAMPLES):
        started = time.perf_counter()
        lab.target.get(f"/products/{product_id}", timeout=10.0)
        took.append(time.perf_counter() - started)
    return statistics.quantiles(took, n=20)[-1]


RowIds = dict[str, tuple[int, int, str]]  # per table: max id, count, md5 of the ids


def _row_ids(lab: GamedayLab, upto: dict[str, int] | None = None) -> RowIds:
    """Per table: max id, row count and md5 of the sorted ids (up to `upto`'s max id)."""
    found: dict[str, tuple[int, int, str]] = {}
    conn = lab.target_db.connect(APP_DB, application_name="breakfix-gameday")
    try:
        with conn.cursor() as cur:
            for table in DATA_TABLES:
                limit = upto[table] if upto else 2**62
                cur.execute(
                    sql.SQL(
                        "SELECT coalesce(max(id), 0), count(*),"
                        " md5(coalesce(string_agg(id::text, ',' ORDER BY id), ''))"
                        " FROM {} WHERE id <= %s"
                    ).format(sql.Identifier(table)),
                    (limit,),
                )
                row = cur.fetchone()
                assert row is not None
                found[table] = (int(row[0]), int(row[1]), str(row[2]))
    finally:
        conn.close()
    return found


def crud_probe(lab: GamedayLab) -> list[str]:
    """/ready 200, then a product created, read, renamed, priced (a fresh sku: no cache, a
    real upstream call), ordered and the order cancelled, and a second product deleted."""
    try:
        return _crud(lab.target)
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return [f"CRUD probe: {type(exc).__name__}: {exc}"]


def _crud(client: httpx.Client) -> list[str]:
    def expect(response: httpx.Response, status: int, what: str) -> list[str]:
        if response.status_code == status:
            return []
        return [f"{what}: {response.status_code} {response.text[:200]}"]

    problems = expect(client.get("/ready"), 200, "GET /ready")
    if problems:
        return problems
    sku = f"gameday-{secrets.token_hex(4)}"
    made = client.post("/products", json={"sku": sku, "name": "gameday probe", "quantity": 5})
    if problems := expect(made, 201, "POST /products"):
        return problems
    pid = int(made.json()["id"])
    steps: list[tuple[httpx.Response, int, str]] = [
        (client.get(f"/products/{pid}"), 200, "GET /products/{id}"),
        (client.patch(f"/products/{pid}", json={"name": "gameday probe 2"}), 200, "PATCH"),
        (client.get(f"/products/{pid}/price"), 200, "GET /products/{id}/price"),
    ]
    order = client.post("/orders", json={"items": [{"product_id": pid, "quantity": 1}]})
    steps.append((order, 201, "POST /orders"))
    if order.status_code == 201:
        cancel = client.post(f"/orders/{order.json()['id']}/cancel")
        steps.append((cancel, 200, "POST /orders/{id}/cancel"))
    spare = client.post("/products", json={"sku": f"{sku}-x", "name": "gameday spare"})
    steps.append((spare, 201, "POST /products (spare)"))
    if spare.status_code == 201:
        gone = client.delete(f"/products/{spare.json()['id']}")
        steps.append((gone, 204, "DELETE /products/{id}"))
    for response, status, what in steps:
        problems += expect(response, status, what)
    return problems


def _with_probe(check: Callable[[GamedayLab, Baseline], list[str]]) -> "Oracle":
    def oracle(lab: GamedayLab, baseline: Baseline) -> list[str]:
        return check(lab, baseline) + crud_probe(lab)

    return oracle


def _memory(lab: GamedayLab, baseline: Baseline) -> list[str]:
    rss = lab.runtime.stats("target").rss_bytes
    bound = max(int(baseline.rss_bytes * 1.5), baseline.rss_bytes + RSS_SLACK_BYTES)
    return [] if rss <= bound else [f"target RSS {rss >> 20} MiB over {bound >> 20} MiB"]


def _latency(lab: GamedayLab, baseline: Baseline) -> list[str]:
    p95 = _p95(lab, baseline.product_id)
    bound = max(LATENCY_FLOOR_S, 3 * baseline.p95_s)
    return [] if p95 <= bound else [f"p95 {p95:.2f}s over {bound:.2f}s"]


def _errors(lab: GamedayLab, baseline: Baseline) -> list[str]:
    codes = [lab.target.get(f"/products/{baseline.product_id}").status_code for _ in range(30)]
    failed = sum(1 for c in codes if c >= 500)
    return [] if failed == 0 else [f"{failed}/30 reads answered 5xx"]


def _table_readable(lab: GamedayLab, baseline: Baseline) -> list[str]:
    """Every hot table readable under a short lock timeout, for 5 s in a row."""
    conn = lab.target_db.connect(APP_DB, application_name="breakfix-gameday")
    try:
        with conn.cursor() as cur:
            cur.execute("SET lock_timeout = '1s'")
            for _ in range(5):
                for table in ("products", "inventory", "orders", "order_lines"):
                    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
                time.sleep(1.0)
    except Exception as exc:  # a lock timeout or a refused connection: not readable
        return [f"tables not readable: {exc}".strip()]
    finally:
        conn.close()
    return []


def rows_lost(lab: GamedayLab, baseline: Baseline) -> list[str]:
    """Seed rows (ids up to the baseline's) missing or changed since the baseline."""
    now = _row_ids(lab, upto={t: baseline.rows[t][0] for t in DATA_TABLES})
    return [
        f"{t}: {now[t][1]} of {baseline.rows[t][1]} rows (ids checksum differs)"
        for t in DATA_TABLES
        if now[t][1:] != baseline.rows[t][1:]
    ]


def _alembic_head(lab: GamedayLab, baseline: Baseline) -> list[str]:
    conn = lab.target_db.connect(APP_DB, application_name="breakfix-gameday")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version_num FROM alembic_version")
            current = [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()
    head = head_revision()
    return [] if current == [head] else [f"alembic at {current}, head is {head}"]


def _free_space(lab: GamedayLab, baseline: Baseline) -> list[str]:
    cache = lab.paths.target_cache
    if is_lab_mount(cache):
        usage = shutil.disk_usage(cache)
        share = usage.used / usage.total
        return [] if share < 0.5 else [f"cache volume {share:.0%} full"]
    used = sum(p.stat().st_size for p in cache.iterdir() if p.is_file())
    return [] if used < 32 * 2**20 else [f"cache dir holds {used >> 20} MiB"]


def _escalated(lab: GamedayLab, baseline: Baseline) -> list[str]:
    """A responder paged a human: an `escalate` run the action server carried out."""
    runs = [a for a in agent_actions(lab, baseline.taken_at) if a.action == "escalate"]
    if any(a.outcome == "succeeded" for a in runs):
        return []
    return [f"no escalation delivered (escalate runs: {[a.outcome for a in runs]})"]


def _nothing(lab: GamedayLab, baseline: Baseline) -> list[str]:
    return []


Oracle = Callable[[GamedayLab, Baseline], list[str]]

ORACLES: dict[str, Oracle] = {
    "probe": _with_probe(_nothing),
    "memory_baseline": _with_probe(_memory),
    "latency_baseline": _with_probe(_latency),
    "error_ratio_baseline": _with_probe(_errors),
    "pricing_ok": _with_probe(_nothing),  # the probe prices a fresh sku through the upstream
    "table_readable": _with_probe(_table_readable),
    "rows_back": _with_probe(rows_lost),
    "alembic_head": _with_probe(_alembic_head),
    "free_space": _with_probe(_free_space),
    "escalated": _escalated,  # the partition is still there: only the page is checked
    "no_incident": _nothing,  # checked by the evaluation itself (no incident, no action)
}


def recovered(
    lab: GamedayLab, name: str, baseline: Baseline, within_s: float = ORACLE_WITHIN_S
) -> list[str]:
    """The oracle's problems once it passes or `within_s` runs out (empty = recovered)."""
    oracle = ORACLES[name]
    problems: list[str] = ["not checked"]

    def ok() -> bool:
        nonlocal problems
        try:
            problems = oracle(lab, baseline)
        except httpx.HTTPError as exc:  # the target down (restarting): not recovered yet
            problems = [f"{name}: {type(exc).__name__}: {exc}"]
        return not problems

    until(ok, within_s, every_s=2.0)
    return problems
