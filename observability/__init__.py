"""Observability: collectors, recent history, the detector and Alertmanager-format alerts."""
