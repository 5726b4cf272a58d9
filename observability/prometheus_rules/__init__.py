"""observability/prometheus/rules.yml and rules_test.yml, generated from the detector's rules.

`python -m observability.prometheus_rules` rewrites both; `--check` says whether they are
stale. Each detector rule becomes a PromQL alert of the same name (promql, annotations) with
a promtool unit test (unit_tests); the alerts only Prometheus has are in prometheus_only.
"""
