"""The observability app: collectors, the recent window, the detector, the API."""

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from lab.config import LabSettings
from lab.paths import StatePaths
from lab.runtime.base import Runtime
from lab.runtime.select import runtime_for
from lab.service_app import service_app
from observability.api.errors import install_handlers
from observability.api.routes import router
from observability.collectors.lab_collectors import close_collectors, lab_collectors
from observability.collectors.runner import Runner
from observability.config import Settings, get_settings
from observability.detector.detector import Detector, receivers_from
from observability.detector.left_firing import resolve_left_firing
from observability.detector.notifier import Notifier
from observability.detector.rules import load_rules
from observability.exposition import render
from observability.parts import ObservabilityParts
from observability.pipeline import Pipeline
from observability.sinks.supabase import SinkExtraMissing, build_supabase_sink
from observability.store.ops_writer import OpsWriter
from observability.store.ring import RingStore

log = logging.getLogger("observability")


def create_app(
    settings: Settings | None = None,
    *,
    lab: LabSettings | None = None,
    runtime: Runtime | None = None,
    background: bool = True,
) -> FastAPI:
    """Observability for the lab described by `lab` (BREAKFIX_* settings by default).

    With `background`, the pipeline ticks every `interval_s` from start-up; without it,
    tests drive `app.state.pipeline.tick(now)` themselves.
    """
    settings = settings or get_settings()
    lab = lab or LabSettings()
    paths = StatePaths.at(lab.state_dir)
    runtime = runtime or runtime_for(settings, paths)
    ring = RingStore(window_s=settings.window_s)
    writer = OpsWriter(
        settings.ops_db_url.get_secret_value(),
        ring,
        downsample_s=settings.downsample_s,
        retention_h=settings.retention_h,
    )
    collectors = lab_collectors(
        settings=lab, paths=paths, runtime=runtime, catalogue=settings.signatures_file
    )
    runner = Runner(collectors, interval_s=settings.interval_s)
    notifier = Notifier(receivers_from(settings.receivers, settings.receiver_token_file))
    detector = Detector(
        rules=load_rules(settings.rules_file),
        store=ring,
        notifier=notifier,
        external_url=f"http://{settings.host}:{settings.port}",
        repeat_interval_s=settings.repeat_interval_s or None,
    )
    try:
        sink = build_supabase_sink(settings, ops_store=writer.store)  # None unless configured
    except SinkExtraMissing as exc:  # a missing observer does not stop the collection
        log.error("%s; running without the Supabase sink", exc)
        sink = None
    pipeline = Pipeline(
        runner=runner,
        ring=ring,
        detector=detector,
        writer=writer,
        interval_s=settings.interval_s,
        flush_every_s=settings.downsample_s,
        sink=sink,
    )

    def collector_status() -> list[dict[str, Any]]:
        return [dict(status.as_dict()) for status in runner.status()]

    parts = ObservabilityParts(
        settings=settings,
        ring=ring,
        writer=writer,
        collector_status=collector_status,
        alerts=detector.records,
        exposition=lambda: render(ring).decode(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if sink is not None:
            sink.start()
        if background:
            _resolve_left_firing(writer, notifier, external_url=detector.external_url)
            pipeline.start()
        try:
            yield
        finally:
            pipeline.stop()
            notifier.close()
            if sink is not None:
                sink.close()
            close_collectors(collectors)
            writer.dispose()

    app = service_app(
        "Breakfix observability",
        description="Samples, logs, traces, evidence and Alertmanager-format alerts.",
        lifespan=lifespan,
        install_handlers=install_handlers,
        routers=[router],
        parts=parts,
    )
    app.state.pipeline = pipeline
    return app


def _resolve_left_firing(writer: OpsWriter, notifier: Notifier, *, external_url: str) -> None:
    """Episodes an earlier process left firing, sent resolved; ops-db down: logged, not fatal."""
    try:
        resolve_left_firing(
            writer=writer, notifier=notifier, external_url=external_url, now=time.time()
        )
    except Exception as exc:
        log.warning("could not resolve the alerts an earlier process left firing: %s", exc)
