"""Evidence features: observability's documents flattened into one `name -> value` mapping.

Runbook signals (knowledge/runbooks/*.md) are conditions over these names; the vocabulary is
documented in knowledge/runbooks/README.md. Values are numbers, strings or booleans; a
feature that cannot be computed (no data) is absent, never guessed.

Where trends come from: the evidence document may carry a `recent` sub-document (observability
/evidence over the last RECENT_S seconds, fetched by agent.perceive): trends and log counts
then describe the recent window, so an earlier incident's aftermath in a longer window does
not masquerade as the current one. Without it, the whole evidence document is used.
"""

import re
from typing import Any

Features = dict[str, float | str | bool]

_SERIES = re.compile(r"^(?P<metric>[a-zA-Z_][a-zA-Z0-9_]*)(?:\{(?P<labels>.*)\})?$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
# Connections that are the lab's own on target-db: everything else is a foreign client.
OWN_DB_APPS = ("breakfix-target", "breakfix-observability")
# Services no catalogue fault touches: their probes failing means the observer (or the whole
# machine) is struggling, which discounts probe failures elsewhere.
BYSTANDERS = ("action", "chaos", "observability", "ops-db")
# Log signatures of a query on a column or table the database does not have.
SCHEMA_ERRORS = ("undefined_column", "undefined_table")


def series_key(series: str) -> str:
    """`metric{k="v",...}` as a feature-friendly key: `metric.v1.v2` (label values slugged)."""
    match = _SERIES.match(series)
    if match is None:
        return _slug(series)
    values = [_slug(v) for _, v in _LABEL.findall(match.group("labels") or "")]
    return ".".join([match.group("metric"), *values])


def _slug(value: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_/-]+", "_", value).strip("_") or "_"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def alert_features(alerts: list[dict[str, Any]]) -> Features:
    """`alert:<Name>`, `alert:<Name>:<service>`, `alert:<Name>:<service>:<label value>` for
    every firing alert (signature, table, probe labels), and `alerts:firing` (count)."""
    out: Features = {}
    firing = [a for a in alerts if isinstance(a, dict) and a.get("status") == "firing"]
    for alert in firing:
        labels = alert.get("labels") or {}
        name = str(alert.get("alertname") or labels.get("alertname") or "")
        service = str(alert.get("service") or labels.get("service") or "")
        if not name:
            continue
        out[f"alert:{name}"] = True
        if service:
            out[f"alert:{name}:{service}"] = True
            for label in ("signature", "table", "probe"):
                if labels.get(label):
                    out[f"alert:{name}:{service}:{_slug(str(labels[label]))}"] = True
    out["alerts:firing"] = float(len(firing))
    return out


def snapshot_features(snapshot: dict[str, Any]) -> Features:
    """`metric:<service>:<key>` (latest value) for every series, and `svc:<service>:up`,
    `svc:<service>:stopped`, `probe:<service>:up` from the usual ones."""
    out: Features = {}
    for service, entry in (snapshot.get("services") or {}).items():
        metrics = entry.get("metrics") or {}
        for series, raw in metrics.items():
            value = _num(raw)
            if value is not None:
                out[f"metric:{service}:{series_key(series)}"] = value
        if _num(metrics.get("service_up")) is not None:
            out[f"svc:{service}:up"] = metrics["service_up"] == 1
        if _num(metrics.get("process_stopped")) is not None:
            out[f"svc:{service}:stopped"] = metrics["process_stopped"] == 1
        probe = _num(metrics.get('probe_up{probe="health"}'))
        if probe is not None:
            out[f"probe:{service}:up"] = probe == 1
    return out


def trend_features(evidence: dict[str, Any], latest: Features) -> Features:
    """`metric:<service>:<key>:min|max|change` over the evidence window (a steady series has
    min = max = its latest value, change 0); `log:<service>:<signature>` (lines in the
    window); `trace:<service>:slow|failed` and `trace:<service>:slow|failed:<route>`."""
    out: Features = {}
    for service, entry in (evidence.get("services") or {}).items():
        for series in entry.get("steady") or []:
            last = latest.get(f"metric:{service}:{series_key(series)}")
            if isinstance(last, float):
                base = f"metric:{service}:{series_key(series)}"
                out[f"{base}:min"], out[f"{base}:max"], out[f"{base}:change"] = last, last, 0.0
        for series, trend in (entry.get("changed") or {}).items():
            base = f"metric:{service}:{series_key(series)}"
            for stat in ("min", "max", "change"):
                value = _num(trend.get(stat))
                if value is not None:
                    out[f"{base}:{stat}"] = value
        for signature, count in (entry.get("log_signatures") or {}).items():
            out[f"log:{service}:{_slug(signature)}"] = float(count)
        for kind in ("slow", "failed"):
            marks = (entry.get("traces") or {}).get(kind) or []
            if marks:
                out[f"trace:{service}:{kind}"] = float(len(marks))
            for mark in marks:
                key = f"trace:{service}:{kind}:{_slug(str(mark.get('route', '')))}"
                out[key] = float(out.get(key, 0.0)) + 1.0
    return out


def derived_features(features: Features) -> Features:
    """The few features that take arithmetic over others: database, cache and process ones
    (see knowledge/runbooks/README.md)."""
    out: Features = {}

    def get(name: str) -> float | None:
        value = features.get(name)
        return value if isinstance(value, float) else None

    db = "metric:target-db"
    for name, series in (
        ("pg:up", "pg_up"),
        ("pg:schema_at_head", "pg_schema_at_head"),
        ("pg:blocked_sessions", "pg_blocked_sessions"),
        ("pg:waiting_locks", "pg_waiting_locks"),
        ("pg:connection_headroom", "pg_connection_headroom"),
        ("pg:connections_total", "pg_connections_total"),
    ):
        if (value := get(f"{db}:{series}")) is not None:
            out[name] = value
    schema_errors = [
        value
        for service in ("target", "target-db")
        for signature in SCHEMA_ERRORS
        if (value := get(f"log:{service}:{signature}")) is not None
    ]
    # lines of the window still arriving: their burst alert fires (the lines of an episode
    # already over stay in the window for a while and must not explain a new one)
    failing_now = any(
        features.get(f"alert:LogSignatureBurst:{service}:{signature}") is True
        for service in ("target", "target-db")
        for signature in SCHEMA_ERRORS
    )
    at_head = out.get("pg:schema_at_head")
    if schema_errors or at_head is not None:
        # the schema is not what the code expects: Alembic behind its head, or queries
        # failing now on a column or table that is not there (a rename by hand, a search_path)
        out["pg:schema_mismatch"] = float(
            at_head == 0.0 or (sum(schema_errors) > 0 and failing_now)
        )
    # the app's DB route is cut: its connections over it are lost, or the proxy on it (running)
    # accepts none (a firewall dropping the route's packets: the app's queries just time out)
    lost = get("log:target:connection_lost")
    proxy = features.get("probe:db-proxy:up")
    if lost is not None or isinstance(proxy, bool):
        refuses = proxy is False and features.get("svc:db-proxy:up") is True
        out["db:route_cut"] = float((lost or 0.0) > 0 or refuses)
    if (blocked := get(f"{db}:pg_blocked_sessions:max")) is not None:
        out["pg:blocked_sessions_max"] = max(blocked, float(out.get("pg:blocked_sessions", 0.0)))
    if (headroom := get(f"{db}:pg_connection_headroom:min")) is not None:
        out["pg:connection_headroom_min"] = headroom
    total = get(f"{db}:pg_connections_total")
    if total is not None:
        own = sum(get(f"{db}:pg_connections_by_app.{app}") or 0.0 for app in OWN_DB_APPS)
        out["pg:foreign_connections"] = max(0.0, total - own)
        # sessions are counted by state and by app, not both: at most this many are idle
        idle = get(f"{db}:pg_connections.idle") or 0.0
        out["pg:idle_foreign_connections"] = max(0.0, min(idle, total - own))
    drops = []
    for name, high in features.items():
        if name.startswith(f"{db}:pg_table_rows.") and name.endswith(":max"):
            last = get(name.removesuffix(":max"))
            if isinstance(high, float) and high > 0 and last is not None:
                drops.append((high - last) / high)
    if drops:
        out["pg:rows_dropped"] = max(drops)
    out["probe:bystanders_down"] = float(
        sum(
            1
            for name in BYSTANDERS
            if features.get(f"probe:{name}:up") is False
            or features.get(f"alert:ProbeFailing:{name}") is True
        )
    )
    free, size = get("metric:target:cache_free_bytes"), get("metric:target:cache_fs_size_bytes")
    if free is not None and size:
        out["cache:free_ratio"] = free / size
    rss_min, rss = (
        get("metric:target:process_rss_bytes:min"),
        get("metric:target:process_rss_bytes"),
    )
    if rss_min is not None and rss is not None:
        out["target:rss_rise_bytes"] = rss - rss_min
    return out


def extract_features(
    alerts: list[dict[str, Any]], snapshot: dict[str, Any], evidence: dict[str, Any]
) -> Features:
    """Every feature of one look at observability (alerts, snapshot, evidence)."""
    features: Features = {}
    features.update(alert_features(alerts))
    latest = snapshot_features(snapshot)
    features.update(latest)
    recent = evidence.get("recent")
    features.update(trend_features(recent if isinstance(recent, dict) else evidence, latest))
    features.update(derived_features(features))
    return features
