"""Prices from the pricing upstream on the selected route, through the disk cache."""

import logging
import time
from dataclasses import dataclass
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit

import httpx

from target_server.cache import PriceCache, Quote
from target_server.config import Settings
from target_server.errors import UpstreamUnavailableError
from target_server.metrics import Metrics
from target_server.resolver import NameResolutionError, Resolver

log = logging.getLogger(__name__)

DEPENDENCY = "pricing"


@dataclass(frozen=True)
class PriceResult:
    """A quote and where it came from: the upstream, a fresh cache entry or a stale one."""

    quote: Quote
    cached: bool
    stale: bool


class UpstreamError(Exception):
    """One call to the upstream failed; `outcome` is the metric label."""

    def __init__(self, message: str, *, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class PricingClient:
    """Calls the upstream by resolved IP with the original Host header, caching quotes."""

    def __init__(
        self, *, settings: Settings, resolver: Resolver, cache: PriceCache, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.resolver = resolver
        self.cache = cache
        self.metrics = metrics
        self.route = settings.pricing_route.value
        # trust_env=False: a proxy from HTTP_PROXY & co. would resolve and route lab names
        # itself, bypassing the resolver (and the faults the lab injects through it).
        self._http = httpx.Client(
            timeout=settings.pricing_timeout_s, follow_redirects=False, trust_env=False
        )

    def price(self, sku: str) -> PriceResult:
        """A fresh cached quote, else the upstream's, else a stale one; raises when none."""
        cached = self.cache.get(sku)
        if cached is not None and cached[1]:
            return PriceResult(quote=cached[0], cached=True, stale=False)
        try:
            quote = self._fetch(sku)
        except UpstreamError as exc:
            if cached is not None:
                log.warning("serving stale price", extra={"sku": sku, "error": str(exc)})
                return PriceResult(quote=cached[0], cached=True, stale=True)
            raise UpstreamUnavailableError(f"pricing upstream unavailable: {exc}") from exc
        self.cache.put(quote)
        return PriceResult(quote=quote, cached=False, stale=False)

    def check(self) -> str:
        """GET /healthz on the selected route; raises UpstreamError when it is not healthy."""
        response = self._get("/healthz", count=False)
        return f"{self.route} {response.status_code}"

    def close(self) -> None:
        """Release pooled upstream connections."""
        self._http.close()

    def _fetch(self, sku: str) -> Quote:
        response = self._get(f"/prices/{url_quote(sku, safe='')}", count=True)
        try:
            body = response.json()
            quote = Quote(
                sku=sku,
                price_cents=int(body["price_cents"]),
                currency=str(body["currency"]),
                source=str(body.get("source", self.route)),
                fetched_at=time.time(),
            )
        except (ValueError, KeyError, TypeError) as exc:
            self._count("bad_response")
            raise UpstreamError(f"malformed response: {exc}", outcome="bad_response") from exc
        self._count("success")
        return quote

    def _get(self, path: str, *, count: bool) -> httpx.Response:
        try:
            response = self._send(path)
        except UpstreamError as exc:
            if count:
                self._count(exc.outcome)
            raise
        if response.status_code != 200:
            if count:
                self._count("http_error")
            raise UpstreamError(f"HTTP {response.status_code}", outcome="http_error")
        return response

    def _send(self, path: str) -> httpx.Response:
        parts = urlsplit(self.settings.pricing_url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = self.resolver.resolve(host, port)
        except NameResolutionError as exc:
            raise UpstreamError(str(exc), outcome="name_resolution") from exc
        ip = f"[{address}]" if ":" in address else address
        url = f"{parts.scheme}://{ip}:{port}{parts.path}{path}"
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            return self._http.get(url, headers={"Host": parts.netloc}, extensions=extensions)
        except httpx.TimeoutException as exc:
            raise UpstreamError(f"timed out: {type(exc).__name__}", outcome="timeout") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}", outcome="connect_error") from exc

    def _count(self, outcome: str) -> None:
        self.metrics.record_upstream(dependency=DEPENDENCY, route=self.route, outcome=outcome)
