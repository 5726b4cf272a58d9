"""The default rules (observability/rules.yaml) against simulated 1 Hz sample streams.

The streams are what the collectors report (metric names and labels of the common
vocabulary) under the normal workload, with its noise, and under each catalogue fault as
the collectors would see it. The real end-to-end fault runs belong to the lab's fault
tests; these check the tuning: every fault fires a rule meant for it within a few seconds,
and three minutes of normal traffic with blips and a restart fire nothing.
"""

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.catalogue.registry import get_catalogue
from observability.detector.detector import Detector
from observability.detector.rules import load_rules
from observability.model import Collection, Sample
from observability.store.ring import RingStore

RULES = load_rules(Path(__file__).parents[2] / "observability" / "rules.yaml")
# The catalogue's faults but the controls (noop: every rule staying quiet covers it).
CATALOGUE = [f.id for f in get_catalogue().faults if f.fault_class != "control"]
SERVICES = ["ops-db", "target-db", "db-proxy", "upstream-primary", "upstream-fallback",
            "target", "action", "chaos"]  # fmt: skip
MiB = 2**20
Point = dict[tuple[str, str, tuple[tuple[str, str], ...]], float]
Fault = Callable[[float, Point, random.Random], None]


def normal(t: float, rng: random.Random) -> Point:
    """One second of a healthy lab, with the noise a real one has."""
    p: Point = {}

    def put(service: str, metric: str, value: float, **labels: str) -> None:
        p[(service, metric, tuple(labels.items()))] = value

    for svc in SERVICES:
        put(svc, "service_up", 1)
        put(svc, "process_cpu_ratio", rng.uniform(0.0, 0.12))
        put(svc, "process_rss_bytes", rng.uniform(60, 64) * MiB)
        put(svc, "probe_up", 1, probe="health")
    put("target", "process_rss_bytes", (90 + rng.uniform(-2, 2)) * MiB)
    put("target", "synthetic_success", 1)
    put("target", "synthetic_latency_seconds", rng.uniform(0.03, 0.25))
    put("target", "http_request_rate", rng.uniform(4, 8))
    put("target", "http_5xx_ratio", 0.0)
    put("target", "http_latency_p50_seconds", rng.uniform(0.005, 0.02))
    put("target", "http_latency_p99_seconds", rng.uniform(0.02, 0.3))
    put("target", "cache_used_bytes", 2 * MiB)
    put("target", "cache_fs_size_bytes", 72 * MiB)
    put("target", "cache_free_bytes", 70 * MiB)
    put("target-db", "pg_up", 1)
    put("target-db", "pg_connections_total", 18 + rng.randint(0, 4))
    put("target-db", "pg_max_connections", 100)
    put("target-db", "pg_connection_headroom", 75 - rng.randint(0, 4))
    put("target-db", "pg_blocked_sessions", 0)
    put("target-db", "pg_schema_at_head", 1)
    put("target-db", "pg_table_rows", 20, table="products")
    put("target-db", "pg_table_rows", 20, table="inventory")
    put("target-db", "pg_table_rows", 100 + int(t), table="orders")
    put("target-db", "pg_table_rows", 100 + int(t), table="order_lines")
    return p


class Blips:
    """The noise of a normal run: one-sample failures, spikes and an occasional log line."""

    def __init__(self) -> None:
        self.timeouts = 0.0

    def __call__(self, t: float, p: Point, rng: random.Random) -> None:
        second = int(t)
        if second % 37 == 5:
            p[("target", "probe_up", (("probe", "health"),))] = 0  # one slow /ready
        if second % 41 == 7:
            p[("target", "http_latency_p99_seconds", ())] = 2.4  # one slow request
            p[("target", "synthetic_latency_seconds", ())] = 1.9
        if second % 53 == 11:
            p[("target", "http_5xx_ratio", ())] = 0.25  # one 500 among few requests
            p[("target", "synthetic_success", ())] = 0
        if second % 29 == 3:
            p[("target-db", "pg_blocked_sessions", ())] = 1  # two orders on one row
        if second % 61 == 13:
            p[("target", "process_cpu_ratio", ())] = 0.9  # a GC pause or a burst
        if 120 <= second < 123:  # restart-api: a new process, down briefly, start-up CPU
            p[("target", "process_rss_bytes", ())] = (30 + 25 * (second - 120)) * MiB
            p[("target", "process_cpu_ratio", ())] = 0.95
        if second % 60 == 30:
            self.timeouts += 1  # a rare timeout line in the target's log
        if self.timeouts:
            p[("target", "log_signature_total", (("signature", "timeout"),))] = self.timeouts


def set_(p: Point, service: str, metric: str, value: float, **labels: str) -> None:
    p[(service, metric, tuple(labels.items()))] = value


def drop(p: Point, service: str, *metrics: str) -> None:
    for key in [k for k in p if k[0] == service and (not metrics or k[1] in metrics)]:
        del p[key]


HTTP = ("http_request_rate", "http_5xx_ratio", "http_latency_p50_seconds",
        "http_latency_p99_seconds")  # fmt: skip
PG = ("pg_up", "pg_connections_total", "pg_max_connections", "pg_connection_headroom",
      "pg_blocked_sessions", "pg_schema_at_head", "pg_table_rows")  # fmt: skip


def target_down(t: float, p: Point) -> None:
    set_(p, "target", "service_up", 0)
    set_(p, "target", "probe_up", 0, probe="health")
    set_(p, "target", "synthetic_success", 0)
    drop(p, "target", *HTTP, "process_cpu_ratio", "process_rss_bytes")


def stuck_synthetic(since: float, t: float, p: Point) -> None:
    """The collector reports nothing until the transaction has run 3 s, then failure."""
    drop(p, "target", "synthetic_success", "synthetic_latency_seconds")
    if t - since >= 3:
        set_(p, "target", "synthetic_success", 0)
        set_(p, "target", "synthetic_latency_seconds", t - since)


def log_lines(state: dict[str, float], p: Point, service: str, sig: str, per_s: float) -> None:
    state[sig] = state.get(sig, 0) + per_s
    set_(p, service, "log_signature_total", state[sig], signature=sig)


def make_fault(fault: str, start: float) -> Fault:
    logs: dict[str, float] = {}

    def apply(t: float, p: Point, rng: random.Random) -> None:
        if fault in ("api-crash", "config-drift"):  # config-drift: pool size 0, refuses to start
            target_down(t, p)
        elif fault == "api-hang":
            set_(p, "target", "probe_up", 0, probe="health")
            drop(p, "target", *HTTP)
            set_(p, "target", "process_cpu_ratio", 0)
            stuck_synthetic(start, t, p)
        elif fault == "api-memory-leak":
            set_(p, "target", "process_rss_bytes", (90 + min(256, 16 * (t - start))) * MiB)
        elif fault == "api-cpu-hog":
            set_(p, "target", "process_cpu_ratio", rng.uniform(0.9, 1.05))
            set_(p, "target", "http_latency_p99_seconds", rng.uniform(0.2, 0.6))
        elif fault == "api-error-storm":
            set_(p, "target", "http_5xx_ratio", rng.uniform(0.4, 0.6))
            set_(p, "target", "synthetic_success", 0 if rng.random() < 0.875 else 1)
            log_lines(logs, p, "target", "traceback", 3)
        elif fault == "api-latency":
            set_(p, "target", "http_latency_p99_seconds", rng.uniform(2.0, 2.5))
            stuck_synthetic(start, t, p)
        elif fault in ("upstream-outage", "upstream-dns"):
            if fault == "upstream-outage":
                set_(p, "upstream-primary", "probe_up", 0, probe="health")
            else:
                log_lines(logs, p, "target", "name_resolution", 2)
            set_(p, "target", "probe_up", 0, probe="health")  # /ready: upstream check
        elif fault == "db-down":
            set_(p, "target-db", "service_up", 0)
            set_(p, "target-db", "probe_up", 0, probe="health")
            drop(p, "target-db", *PG, "process_cpu_ratio", "process_rss_bytes")
            set_(p, "target-db", "pg_up", 0)
            set_(p, "target", "probe_up", 0, probe="health")
            set_(p, "target", "http_5xx_ratio", 1.0)
            set_(p, "target", "synthetic_success", 0)
        elif fault == "db-lock":
            set_(p, "target-db", "pg_blocked_sessions", 2)
            stuck_synthetic(start, t, p)
        elif fault == "db-pool-exhaustion":
            set_(p, "target-db", "pg_connection_headroom", 0)
            set_(p, "target-db", "pg_connections_total", 97)
            log_lines(logs, p, "target-db", "too_many_clients", 1)
        elif fault == "db-auth-failure":
            log_lines(logs, p, "target-db", "auth_failed", 1)
        elif fault == "db-data-loss":
            set_(p, "target-db", "pg_table_rows", 0, table="orders")
        elif fault == "schema-drift":
            set_(p, "target-db", "pg_schema_at_head", 0)
            set_(p, "target", "probe_up", 0, probe="health")
        elif fault == "disk-fill":
            set_(p, "target", "cache_free_bytes", 0)
            set_(p, "target", "cache_used_bytes", 72 * MiB)
        elif fault == "cache-corruption":
            set_(p, "target", "http_5xx_ratio", rng.uniform(0.3, 0.5))
            set_(p, "target", "synthetic_success", 0)
        elif fault == "net-db-latency":
            set_(p, "target", "http_latency_p99_seconds", rng.uniform(1.5, 2.5))
            set_(p, "target", "synthetic_latency_seconds", rng.uniform(2.0, 3.0))
        elif fault == "net-db-partition":
            set_(p, "target", "probe_up", 0, probe="health")
            set_(p, "target", "http_5xx_ratio", 1.0)
            set_(p, "target", "synthetic_success", 0)
        else:
            raise AssertionError(f"no simulation for {fault}")

    return apply


def run(seconds: int, *faults: tuple[float, Fault], seed: int = 7) -> dict[str, float]:
    """Feed `seconds` of 1 Hz samples; the first firing time of every alertname."""
    rng, store = random.Random(seed), RingStore()
    det = Detector(rules=RULES, store=store)
    fired: dict[str, float] = {}
    for second in range(seconds):
        t = 1_763_720_000.0 + second
        point = normal(second, rng)
        for start, fault in faults:
            if second >= start:
                fault(second, point, rng)
        samples = [Sample(t, svc, m, v, labels) for (svc, m, labels), v in point.items()]
        store.add(Collection(samples=samples))
        store.prune(t)
        for alert in det.evaluate(t + 0.2):
            if alert.status == "firing":
                fired.setdefault(alert.labels["alertname"], float(second))
    return fired


def test_every_catalogue_fault_has_a_rule_and_every_rule_a_fault() -> None:
    covered = {fault for rule in RULES.rules for fault in rule.faults}
    assert covered == set(CATALOGUE)
    assert all(rule.faults for rule in RULES.rules)


def test_three_minutes_of_normal_workload_with_blips_and_a_restart_fire_nothing() -> None:
    for seed in (1, 2, 3):
        assert run(180, (0, Blips()), seed=seed) == {}


@pytest.mark.parametrize("fault", CATALOGUE)
def test_each_fault_fires_a_rule_meant_for_it_within_seconds(fault: str) -> None:
    start = 60
    fired = run(start + 20, (0, Blips()), (start, make_fault(fault, start)))
    meant = {rule.name for rule in RULES.rules if fault in rule.faults}
    hits = {name: at - start for name, at in fired.items() if name in meant}
    assert hits, f"{fault}: nothing meant for it fired (fired: {fired})"
    assert min(hits.values()) <= 8, f"{fault}: first detection after {hits}"
    # Before the fault nothing fired at all.
    assert all(at >= start for at in fired.values()), fired
