"""The detector: YAML rules over the recent window, alert state, Alertmanager-format delivery."""
