"""The store rendered as Prometheus text: names, types, labels, newest values, stale series."""

import time

from prometheus_client.parser import text_string_to_metric_families

from observability.exposition import render
from observability.model import Collection, Sample
from observability.store.ring import RingStore


def parse(text: bytes) -> dict[str, tuple[str, list[tuple[str, dict[str, str], float]]]]:
    """Family name -> (type, [(sample name, labels, value)]), via the reference parser."""
    return {
        family.name: (family.type, [(s.name, s.labels, s.value) for s in family.samples])
        for family in text_string_to_metric_families(text.decode())
    }


def stored(*samples: Sample) -> RingStore:
    """A RingStore holding these samples, added as one collection."""
    store = RingStore()
    store.add(Collection(samples=list(samples)))
    return store


def test_latest_values_as_gauges_and_counters_with_service_and_labels() -> None:
    now = time.time()
    store = stored(
        Sample(now - 2, "target", "process_rss_bytes", 100.0),
        Sample(now - 1, "target", "process_rss_bytes", 150.0),
        Sample(now - 1, "action", "process_rss_bytes", 70.0),
        Sample(now, "target-db", "pg_connections", 3, (("state", "idle"),)),
        Sample(now, "target-db", "pg_connections", 2, (("state", "active"),)),
        Sample(now, "target", "log_signature_total", 4, (("signature", "traceback"),)),
        Sample(now, "target-db", "pg_schema_revision_info", 1, (("revision", 'a"b\\c\nd'),)),
    )
    families = parse(render(store))

    kind, samples = families["breakfix_process_rss_bytes"]
    assert kind == "gauge"
    assert sorted((s[1]["service"], s[2]) for s in samples) == [("action", 70.0), ("target", 150.0)]

    kind, samples = families["breakfix_pg_connections"]
    assert kind == "gauge"
    assert {(s[1]["state"], s[2]) for s in samples} == {("idle", 3.0), ("active", 2.0)}
    assert all(s[1]["service"] == "target-db" for s in samples)

    kind, samples = families["breakfix_log_signature"]
    assert kind == "counter"
    assert samples == [
        ("breakfix_log_signature_total", {"service": "target", "signature": "traceback"}, 4.0)
    ]

    # Label values are escaped and come back intact.
    _, samples = families["breakfix_pg_schema_revision_info"]
    assert samples[0][1]["revision"] == 'a"b\\c\nd'


def test_stale_series_are_left_out_and_odd_label_names_are_cleaned() -> None:
    now = time.time()
    store = stored(
        Sample(now - 300, "upstream-primary", "service_up", 1),
        Sample(now, "target", "service_up", 1),
        Sample(now, "target", "probe_up", 0, (("probe", "health"), ("service", "x"))),
        Sample(now, "target", "probe_latency_seconds", 0.01, (("my-label", "v"),)),
    )
    families = parse(render(store, max_age_s=60))
    _, samples = families["breakfix_service_up"]
    assert [s[1]["service"] for s in samples] == ["target"]
    # The sample's service wins over a label of the same name.
    assert families["breakfix_probe_up"][1][0][1] == {"service": "target", "probe": "health"}
    assert families["breakfix_probe_latency_seconds"][1][0][1]["my_label"] == "v"
    # With no age limit the old series is there again.
    everything = parse(render(store, max_age_s=None))
    assert len(everything["breakfix_service_up"][1]) == 2


def test_an_empty_store_renders_nothing() -> None:
    assert render(RingStore()) == b""
