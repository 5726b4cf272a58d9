"""The detector's rule kinds and alert states, over a real RingStore and a clock we pass in."""

from typing import Any

import pytest

from observability.detector.detector import Detector
from observability.detector.rules import RuleError, parse_rules
from observability.model import Collection, Sample
from observability.store.ring import RingStore


def rule(name: str, kind: str, metric: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "metric": metric, **fields}


def rules(*entries: dict[str, Any], **top: Any) -> Any:
    return parse_rules({**top, "rules": [{"summary": "{service} {value}", **e} for e in entries]})


def detector(
    *entries: dict[str, Any], repeat_interval_s: float | None = None, **top: Any
) -> tuple[RingStore, Detector]:
    """A fresh store and a detector over these rules (top-level settings as keywords)."""
    store = RingStore()
    det = Detector(rules=rules(*entries, **top), store=store, repeat_interval_s=repeat_interval_s)
    return store, det


def feed(
    store: RingStore, ts: float, service: str, metric: str, value: float, **labels: str
) -> None:
    store.add(Collection(samples=[Sample(ts, service, metric, value, tuple(labels.items()))]))


def statuses(
    store: RingStore, det: Detector, metric: str, values: list[float]
) -> list[tuple[int, str]]:
    """Feed one value a second for service "target", evaluating 0.1 s after each."""
    sent = []
    for t, value in enumerate(values):
        feed(store, float(t), "target", metric, value)
        sent += [(t, a.status) for a in det.evaluate(t + 0.1)]
    return sent


def firing(detector: Detector) -> set[tuple[str, str]]:
    return {(r["alertname"], r["service"]) for r in detector.records() if r["status"] == "firing"}


def test_threshold_waits_for_its_duration_fires_once_and_resolves() -> None:
    store, det = detector(
        rule("Down", "threshold", "service_up", op="==", value=0, for_s=2, severity="critical")
    )
    sent = statuses(store, det, "service_up", [1, 0, 0, 0, 0, 0, 1, 1])
    # Active from t=1, firing once two seconds later, one resolved notification at t=6.
    assert sent == [(3, "firing"), (6, "resolved")]
    record = det.records()[0]
    assert record["status"] == "resolved" and record["alertname"] == "Down"
    assert record["severity"] == "critical" and record["endsAt"].endswith("Z")
    assert len(record["fingerprint"]) == 16


def test_a_blip_shorter_than_the_duration_fires_nothing() -> None:
    store, det = detector(rule("Down", "threshold", "service_up", op="==", value=0, for_s=2))
    assert statuses(store, det, "service_up", [1, 0, 0, 1, 0, 1, 1]) == []


DB_DOWN = rule("DbDown", "threshold", "pg_up", services=["target-db"], op="==", value=0)


def test_a_named_service_with_no_samples_is_no_data_not_healthy_and_fires_nothing() -> None:
    store, det = detector(DB_DOWN)
    findings = det.evaluator.evaluate(store, 10.0)
    assert [(f.service, f.active) for f in findings] == [("target-db", None)]
    assert det.evaluate(10.0) == []


def test_firing_alert_without_data_resolves_only_after_the_no_data_limit() -> None:
    store, det = detector(DB_DOWN, stale_after_s=2, no_data_resolve_s=10)
    feed(store, 0.0, "target-db", "pg_up", 0)
    assert [a.status for a in det.evaluate(0.1)] == ["firing"]
    # The collector stops reporting: still firing for 10 s of no data, then resolved.
    seen = {t: [a.status for a in det.evaluate(float(t))] for t in range(1, 16)}
    assert all(not v for t, v in seen.items() if t != 12)
    assert seen[12] == ["resolved"]  # no data from t=2 (stale after 2 s)


def test_k_of_n_counts_missing_probes_once_seen_but_not_at_start() -> None:
    store, det = detector(
        rule("ProbeFailing", "k_of_n", "probe_up", match={"probe": "health"}, k=3, n=5)
    )
    feed(store, 100.0, "target", "probe_up", 1, probe="health")
    assert det.evaluate(100.1) == []  # first sample: no missing slots yet
    for t in range(101, 104):
        feed(store, float(t), "target", "probe_up", 1, probe="health")
        assert det.evaluate(t + 0.1) == []
    # The probe stops reporting: the third missing slot fires.
    out = {t: det.evaluate(t + 0.1) for t in range(104, 108)}
    fired = [t for t, alerts in out.items() if alerts]
    assert fired == [106]
    alert = out[106][0]
    assert alert.labels == {
        "alertname": "ProbeFailing",
        "service": "target",
        "severity": "warning",
        "probe": "health",
    }


def test_k_of_n_real_failures() -> None:
    store, det = detector(
        rule("SynthFailing", "k_of_n", "synthetic_success", k=2, n=4, missing_is_failure=False)
    )
    got = statuses(store, det, "synthetic_success", [1, 0, 1, 1, 1, 0, 0, 1])
    assert got == [(6, "firing")]


def test_ratio_of_two_metrics_and_mean_ratio() -> None:
    store, det = detector(
        rule(
            "CacheFull",
            "ratio",
            "cache_free_bytes",
            denominator="cache_fs_size_bytes",
            window_s=3,
            op="<",
            value=0.05,
            min_samples=2,
        ),
        rule("Errors", "ratio", "http_5xx_ratio", window_s=5, op=">", value=0.2, min_samples=3),
    )
    for t in range(6):
        feed(store, float(t), "target", "cache_fs_size_bytes", 100.0)
        feed(store, float(t), "target", "cache_free_bytes", 50.0 if t < 3 else 1.0)
        feed(store, float(t), "target", "http_5xx_ratio", 1.0 if t == 1 else 0.0)
        det.evaluate(t + 0.1)
    # One failed request in one interval does not lift the 5 s mean past 0.2.
    assert firing(det) == {("CacheFull", "target")}
    for t in range(6, 9):
        feed(store, float(t), "target", "http_5xx_ratio", 0.6)
        det.evaluate(t + 0.1)
    assert ("Errors", "target") in firing(det)


def test_quantile_over_window_ignores_a_single_spike() -> None:
    store, det = detector(
        rule(
            "Slow",
            "quantile",
            "http_latency_p99_seconds",
            q=0.5,
            window_s=6,
            op=">",
            value=1.0,
            min_samples=3,
        )
    )
    values = [0.1, 0.1, 3.0, 0.1, 0.1, 0.1, 2.0, 2.0, 2.0, 2.0]
    sent = statuses(store, det, "http_latency_p99_seconds", values)
    # The spike at t=2 alone fires nothing; two slow intervals of six make the median.
    assert [t for t, status in sent if status == "firing"] == [7]


def test_log_burst_per_signature_with_counter_reset_and_new_series() -> None:
    store, det = detector(
        rule(
            "LogBurst",
            "increase",
            "log_signature_total",
            window_s=10,
            value=3,
            summary="{service} {labels[signature]} x{value:.0f}",
        )
    )
    # Present from the start with an old count: that history is not a burst.
    for t in range(0, 5):
        feed(store, float(t), "target", "log_signature_total", 40, signature="timeout")
        assert det.evaluate(t + 0.1) == []
    # A new signature appears while we watch: born at zero, 3 lines at once is a burst.
    feed(store, 5.0, "target-db", "log_signature_total", 3, signature="auth_failed")
    feed(store, 5.0, "target", "log_signature_total", 40, signature="timeout")
    alerts = det.evaluate(5.1)
    assert [(a.labels["service"], a.labels["signature"]) for a in alerts] == [
        ("target-db", "auth_failed")
    ]
    assert alerts[0].annotations["summary"] == "target-db auth_failed x3"
    # A counter that restarted (observability restarted): 40 -> 2 counts 2, not -38.
    feed(store, 6.0, "target", "log_signature_total", 2, signature="timeout")
    assert all(a.labels["signature"] != "timeout" for a in det.evaluate(6.1))
    feed(store, 7.0, "target", "log_signature_total", 3, signature="timeout")
    assert [a.labels["signature"] for a in det.evaluate(7.1)] == ["timeout"]


def test_row_drop_against_a_baseline_learned_while_healthy() -> None:
    store, det = detector(
        rule(
            "RowsDropped",
            "baseline",
            "pg_table_rows",
            direction="drop",
            fraction=0.2,
            min_baseline=1,
            summary="{labels[table]} {value:.0f} < {baseline:.0f}",
        )
    )
    out = []
    for t in range(30):
        feed(store, float(t), "target-db", "pg_table_rows", 100 + t, table="orders")
        feed(store, float(t), "target-db", "pg_table_rows", 0 if t >= 20 else 50, table="products")
        out += [(t, a.labels["table"], a.status) for a in det.evaluate(t + 0.1)]
    assert out == [(20, "products", "firing")]
    assert firing(det) == {("RowsDropped", "target-db")}
    summary = det.tracker.active()[0].annotations["summary"]
    assert summary == "products 0 < 50"
    feed(store, 30.0, "target-db", "pg_table_rows", 50, table="products")
    assert [a.status for a in det.evaluate(30.1)] == ["resolved"]


def test_rise_over_baseline_catches_a_steady_leak() -> None:
    store, det = detector(
        rule("Leak", "baseline", "process_rss_bytes", direction="rise", amount=80, tau_s=60)
    )
    rss = [100 + (16 * (t - 20) if t >= 20 else 0) for t in range(40)]
    sent = statuses(store, det, "process_rss_bytes", rss)
    assert [t for t, status in sent if status == "firing"] == [26]


def test_repeat_interval_renotifies_a_long_firing_alert() -> None:
    store, det = detector(
        rule("Down", "threshold", "service_up", op="==", value=0), repeat_interval_s=10
    )
    sent = []
    for t in range(25):
        feed(store, float(t), "target", "service_up", 0)
        sent += [t for a in det.evaluate(float(t)) if a.status == "firing"]
    assert sent == [0, 10, 20]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (rule("Bad", "threshold", "m", op="~", value=1), "rule 'Bad' (#1): op:"),
        (
            rule("Bad", "k_of_n", "m", k=5, n=3),
            "rule 'Bad' (#1): -: Value error, k (5) must not exceed n (3)",
        ),
        (
            rule("Bad", "threshold", "m", op=">", value=1, summary="{nope}"),
            "template field {nope} unknown",
        ),
        (rule("Bad", "baseline", "m", direction="drop"), "exactly one of fraction and amount"),
        (
            rule("Bad", "nonsense", "m"),
            "rule 'Bad' (#1): -: Input tag 'nonsense' found using 'kind' does not match",
        ),
    ],
)
def test_invalid_rules_are_refused_naming_the_rule(entry: dict[str, Any], expected: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules({"rules": [{"summary": "s", **entry}]}, "my-rules.yaml")
    assert str(caught.value).startswith("my-rules.yaml: ")
    assert expected in str(caught.value)


def test_duplicate_rule_names_are_refused() -> None:
    entry = rule("Twice", "threshold", "m", op=">", value=1, summary="s")
    with pytest.raises(RuleError, match="'Twice' is used twice"):
        parse_rules({"rules": [entry, entry]})


def test_keep_firing_for_makes_a_flapping_signal_one_episode() -> None:
    store, det = detector(
        rule(
            "Slow",
            "threshold",
            "http_latency_p99_seconds",
            op=">",
            value=1.5,
            severity="warning",
        ),
        keep_firing_for_s=3,
    )
    # Over, under for two ticks, over again, then under for good.
    p99 = [2.0, 2.0, 0.5, 0.5, 2.0, 0.5, 0.5, 0.5, 0.5, 0.5]
    sent = statuses(store, det, "http_latency_p99_seconds", p99)
    # One firing, and one resolved once it stayed quiet for three seconds (t=5 to t=8).
    assert sent == [(0, "firing"), (8, "resolved")]
