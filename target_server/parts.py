"""What one app instance owns (engine, cache, pricing, metrics, hooks), built from settings."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from target_server import migrations
from target_server.cache import PriceCache
from target_server.config import Settings
from target_server.db import build_engine, build_session_factory
from target_server.fault_hooks.state import FaultHooks
from target_server.metrics import Metrics, build_metrics
from target_server.pricing import PricingClient
from target_server.resolver import Resolver


@dataclass
class TargetParts:
    """The per-app resources; nothing here has connected anywhere yet."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    cache: PriceCache
    resolver: Resolver
    pricing: PricingClient
    metrics: Metrics
    checks: ThreadPoolExecutor
    fault_hooks: FaultHooks
    _head_revision: str | None = field(default=None, init=False, repr=False)

    def head_revision(self) -> str:
        """The migration tree's head, parsed on first use: the tree cannot change under us."""
        # Unlocked: two concurrent first calls both parse and store the same value.
        if self._head_revision is None:
            self._head_revision = migrations.head_revision()
        return self._head_revision

    def close(self) -> None:
        """Release connections and threads at shutdown."""
        self.fault_hooks.close()
        self.pricing.close()
        # A check stuck on a frozen peer must not block shutdown.
        self.checks.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()


def build_parts(settings: Settings) -> TargetParts:
    """Wire the app's resources from settings."""
    engine = build_engine(settings)
    cache = PriceCache(
        directory=settings.cache_dir,
        max_bytes=settings.cache_max_bytes,
        ttl_s=settings.cache_ttl_s,
    )
    resolver = Resolver(hosts_file=settings.hosts_file)
    metrics = build_metrics(engine=engine, cache=cache)
    pricing = PricingClient(settings=settings, resolver=resolver, cache=cache, metrics=metrics)
    return TargetParts(
        settings=settings,
        engine=engine,
        session_factory=build_session_factory(engine),
        cache=cache,
        resolver=resolver,
        pricing=pricing,
        metrics=metrics,
        checks=ThreadPoolExecutor(max_workers=8, thread_name_prefix="ready-check"),
        fault_hooks=FaultHooks(),
    )
