"""The alerts only Prometheus has, with their unit tests: the detector has no twin of them.

TargetDown reads Prometheus's own `up`; UpstreamErrors the target's upstream counters, as
a conventional setup would. They are written here by hand (the rest of rules.yml is
generated from observability/rules.yaml) and keep no `keep_firing_for`, so the resolved
notification of a target that runs again is not held back.
"""

from typing import Any

GROUP = "breakfix-prometheus"

RULES: list[dict[str, Any]] = [
    {
        "alert": "TargetDown",
        "expr": 'up{job="target"} == 0',
        "for": "30s",
        "labels": {"severity": "critical", "service": "target"},
        "annotations": {
            "summary": "target API is not answering its /metrics scrape",
            "description": "Prometheus could not scrape {{ $labels.instance }}: the target"
            " process is down or frozen.",
        },
    },
    {
        "alert": "UpstreamErrors",
        "expr": "sum by (dependency, route) "
        '(rate(breakfix_upstream_errors_total{job="target"}[1m])) > 0.1',
        "for": "30s",
        "labels": {"severity": "warning", "service": "target"},
        "annotations": {
            "summary": "calls to the {{ $labels.dependency }} {{ $labels.route }} upstream fail",
            "description": "{{ $value | humanize }} failed upstream calls a second over the"
            " last minute.",
        },
    },
]

TEST: dict[str, Any] = {
    "name": GROUP,
    "interval": "15s",
    "input_series": [
        {"series": 'up{job="target", instance="t:8000"}', "values": "1 1 0 0 0 0 0"},
        # 2 failed upstream calls a second from 1 m on.
        {
            "series": 'breakfix_upstream_errors_total{job="target", dependency="pricing",'
            ' route="primary"}',
            "values": "0x4 0+30x15",
        },
    ],
    "alert_rule_test": [
        {"eval_time": "45s", "alertname": "TargetDown", "exp_alerts": []},
        {
            "eval_time": "75s",
            "alertname": "TargetDown",
            "exp_alerts": [
                {
                    "exp_labels": {
                        "severity": "critical",
                        "service": "target",
                        "job": "target",
                        "instance": "t:8000",
                    },
                    "exp_annotations": {
                        "summary": "target API is not answering its /metrics scrape",
                        "description": "Prometheus could not scrape t:8000: the target process"
                        " is down or frozen.",
                    },
                }
            ],
        },
        {"eval_time": "60s", "alertname": "UpstreamErrors", "exp_alerts": []},
        {
            "eval_time": "150s",
            "alertname": "UpstreamErrors",
            "exp_alerts": [
                {
                    "exp_labels": {
                        "severity": "warning",
                        "service": "target",
                        "dependency": "pricing",
                        "route": "primary",
                    },
                    "exp_annotations": {
                        "summary": "calls to the pricing primary upstream fail",
                        "description": "2 failed upstream calls a second over the last minute.",
                    },
                }
            ],
        },
    ],
}
