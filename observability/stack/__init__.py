"""The ecosystem stack: Prometheus and Alertmanager configured for the lab, and run for real.

`scrape`, `alerting` and `rules` build the three config files for the lab's actual ports;
`files` writes them (and the defaults shipped in `observability/prometheus/`); `processes`
starts the Debian `prometheus` and `prometheus-alertmanager` binaries on free loopback ports
for tests and benchmarks; `api` reads their HTTP APIs.
"""
