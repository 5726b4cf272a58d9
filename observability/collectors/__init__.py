"""Collectors: each turns one source (runtime, probes, /metrics, Postgres, host, logs, traces)
into samples, log lines and trace marks; the runner runs them all every interval."""
