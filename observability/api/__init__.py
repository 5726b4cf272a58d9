"""Observability's HTTP API: snapshot, series, logs, evidence, alerts, /metrics."""
