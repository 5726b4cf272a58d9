"""prometheus.yml: one scrape job per lab HTTP server, alerting to Alertmanager."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.config import LabSettings

# The lab servers with a /metrics endpoint, as (job, service); observability's samples
# carry their own `service` label, so its job adds none.
METRICS_SERVERS = (
    ("target", "target"),
    ("action", "action"),
    ("chaos", "chaos"),
    ("observability", None),
)


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape target: `address` is host:port; `credentials_file` holds a bearer token."""

    job: str
    address: str
    service: str | None = None
    credentials_file: Path | None = None


@dataclass(frozen=True)
class Timing:
    """How often Prometheus scrapes and evaluates rules (Prometheus duration strings)."""

    scrape_interval: str = "15s"
    scrape_timeout: str = "10s"
    evaluation_interval: str = "15s"


def lab_jobs(settings: LabSettings, *, chaos_key_file: Path | None) -> list[ScrapeJob]:
    """The lab's /metrics endpoints; the chaos server's needs its key as a bearer token.

    Observability is listed even while the lab runs without it: its port is reserved, and
    Prometheus shows the job down until it starts.
    """
    return [
        ScrapeJob(
            job=job,
            address=f"{settings.host}:{getattr(settings, f'{job}_port')}",
            service=service,
            credentials_file=chaos_key_file if job == "chaos" else None,
        )
        for job, service in METRICS_SERVERS
    ]


def _scrape_config(job: ScrapeJob) -> dict[str, Any]:
    target: dict[str, Any] = {"targets": [job.address]}
    if job.service is not None:
        target["labels"] = {"service": job.service}
    config: dict[str, Any] = {
        "job_name": job.job,
        "metrics_path": "/metrics",
        "static_configs": [target],
    }
    if job.credentials_file is not None:
        config["authorization"] = {
            "type": "Bearer",
            "credentials_file": str(job.credentials_file),
        }
    return config


def prometheus_config(
    jobs: list[ScrapeJob],
    *,
    rule_files: list[str],
    alertmanagers: list[str],
    timing: Timing = Timing(),
) -> dict[str, Any]:
    """The prometheus.yml document (a dict ready for YAML)."""
    return {
        "global": {
            "scrape_interval": timing.scrape_interval,
            "scrape_timeout": timing.scrape_timeout,
            "evaluation_interval": timing.evaluation_interval,
            "external_labels": {"lab": "breakfix"},
        },
        "rule_files": rule_files,
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}],
        },
        "scrape_configs": [_scrape_config(job) for job in jobs],
    }
