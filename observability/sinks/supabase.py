"""The optional Supabase sink: alert episodes and lab/chaos events mirrored into two tables.

Configured by OBS_SUPABASE_URL and OBS_SUPABASE_KEY_FILE (the key is read from the file and
never logged). One background thread takes alert records from a bounded queue, polls ops-db
for new events, and upserts both in batches through supabase-py, retrying with backoff. A
full queue drops (counted), a failing or hanging Supabase only delays the sink's own thread:
collection never waits for it. Every outcome is a sample (`sink_deliveries_total`,
`sink_rows_total`, `sink_queue_rows`, `sink_read_failures_total`). The tables it expects are
in `supabase_tables.sql` next to this module.
"""

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from lab.ops_store import OpsStore
from observability.config import Settings
from observability.detector.notifier import Backoff
from observability.model import Sample
from observability.sinks.ops_events import OpsEventsReader
from observability.sinks.rows import ALERT_KEY, EVENT_KEY, alert_row, latest_per_key

if TYPE_CHECKING:
    from supabase import Client

log = logging.getLogger("observability.sinks.supabase")
SINK = "supabase"
Rows = list[dict[str, Any]]


def _client(url: str, key: str, timeout_s: float) -> tuple["Client", httpx.Client]:
    from supabase import create_client  # imported here: an unconfigured sink costs nothing
    from supabase.lib.client_options import SyncClientOptions

    http = httpx.Client(timeout=timeout_s)
    # our own retries are counted; postgrest-py's would happen out of sight
    options = SyncClientOptions(httpx_client=http, postgrest_client_retry=False)
    return create_client(url, key, options), http


class SupabaseSink:
    """Mirrors alert records and ops-db events into Supabase tables from one thread."""

    def __init__(
        self,
        *,
        url: str,
        key: str,
        alerts_table: str,
        events_table: str,
        read_events: Callable[[int], Rows] | None = None,
        batch_size: int = 100,
        max_queue: int = 1000,
        poll_s: float = 5.0,
        timeout_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._client, self._http = _client(url, key, timeout_s)
        self._key = key
        self.alerts_table, self.events_table = alerts_table, events_table
        self.read_events, self.batch_size, self.poll_s = read_events, batch_size, poll_s
        self.backoff = backoff or Backoff(attempts=4, initial_s=1.0, cap_s=8.0)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queue)
        self._events: Rows = []
        self._counts: Counter[tuple[str, str]] = Counter()  # (outcome, kind)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._next_poll = 0.0  # time.monotonic() of the next ops-db events read
        self._thread = threading.Thread(target=self._run, name="supabase-sink", daemon=True)

    def start(self) -> None:
        """Start delivering (and polling ops-db for events, when a reader was given)."""
        self._thread.start()

    def send_alerts(self, records: Rows) -> None:
        """Queue alert records; never blocks, never raises (a full queue drops, counted)."""
        dropped = 0
        for record in records:
            try:
                self._queue.put_nowait(alert_row(record))
            except queue.Full:
                dropped += 1
            except Exception:  # a malformed record must not reach the pipeline
                log.exception("supabase sink: alert record not mirrored")
                dropped += 1
        if dropped:
            self._count("dropped", "alerts", dropped)
            log.error("supabase sink: %d alert rows dropped (queue full or malformed)", dropped)

    def samples(self, now: float) -> list[Sample]:
        """Delivery, row and read-failure counters and the queue depth, for /metrics."""
        with self._lock:
            counts = dict(self._counts)

        def sample(metric: str, value: float, *labels: tuple[str, str]) -> Sample:
            return Sample(now, "observability", metric, value, (("sink", SINK), *labels))

        out = [
            sample("sink_deliveries_total", counts.get((o, ""), 0), ("outcome", o))
            for o in ("success", "retry", "failure")
        ]
        out += [
            sample("sink_rows_total", counts.get((o, kind), 0), ("kind", kind), ("outcome", o))
            for kind in ("alerts", "events")
            for o in ("sent", "failed", "dropped")
        ]
        depth = self._queue.qsize() + len(self._events)
        return [
            *out,
            sample("sink_read_failures_total", counts.get(("read_failure", "events"), 0)),
            sample("sink_queue_rows", float(depth)),
        ]

    def close(self, timeout: float = 10.0) -> None:
        """Stop retrying, make one last attempt for what is queued, stop the thread."""
        self._stopping.set()
        try:
            self._queue.put_nowait(None)  # wakes the thread if it waits for alerts
        except queue.Full:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._http.close()

    def _run(self) -> None:
        while True:
            try:
                if self._step():
                    return
            except Exception:  # a bug here must not end mirroring for good
                log.exception("supabase sink: delivery loop failed")
                self._stopping.wait(self.poll_s)

    def _step(self) -> bool:
        """One round: poll events when due, deliver a batch of each; True when finished."""
        stopping = self._stopping.is_set()
        if time.monotonic() >= self._next_poll:
            if self.read_events is not None and not stopping and not self._events:
                self._poll()
            self._next_poll = time.monotonic() + self.poll_s
        wait = 0.0 if stopping or self._events else self._next_poll - time.monotonic()
        alerts = self._take(wait)
        if alerts:
            self._deliver("alerts", alerts)
        if self._events:
            batch, self._events = self._events[: self.batch_size], self._events[self.batch_size :]
            self._deliver("events", batch)
        return stopping and self._queue.empty() and not self._events

    def _poll(self) -> None:
        assert self.read_events is not None
        try:
            self._events = self.read_events(self.batch_size)
        except Exception as exc:  # ops-db down: try again next poll, from the same id
            self._count("read_failure", "events")
            log.warning("supabase sink: reading ops-db events failed: %s", self._redact(exc))

    def _take(self, wait: float) -> Rows:
        rows: Rows = []
        try:
            item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            while True:
                if item is not None:
                    rows.append(item)
                if len(rows) >= self.batch_size:
                    break
                item = self._queue.get_nowait()
        except queue.Empty:
            pass
        return rows

    def _deliver(self, kind: str, rows: Rows) -> None:
        table, key = (
            (self.alerts_table, ALERT_KEY) if kind == "alerts" else (self.events_table, EVENT_KEY)
        )
        batch = latest_per_key(rows, key)
        attempts = self.backoff.attempts
        for attempt in range(1, attempts + 1):
            try:
                self._client.table(table).upsert(batch, on_conflict=",".join(key)).execute()
            except Exception as exc:
                last = attempt == attempts or self._stopping.is_set()
                self._count("failure" if last else "retry")
                log.warning(
                    "supabase sink: upsert of %d rows into %s failed (attempt %d/%d): %s",
                    len(batch),
                    table,
                    attempt,
                    attempts,
                    self._redact(exc),
                )
                if last or self._stopping.wait(self.backoff.delay(attempt)):
                    self._count("failed", kind, len(batch))
                    return
            else:
                self._count("success")
                self._count("sent", kind, len(batch))
                return

    def _count(self, outcome: str, kind: str = "", n: int = 1) -> None:
        with self._lock:
            self._counts[(outcome, kind)] += n

    def _redact(self, exc: Exception) -> str:
        return f"{type(exc).__name__}: {exc}".replace(self._key, "***")


class SinkExtraMissing(ImportError):
    """The Supabase sink is configured but supabase-py (the `supabase` extra) is missing."""


def build_supabase_sink(settings: Settings, *, ops_store: OpsStore | None) -> SupabaseSink | None:
    """The sink when OBS_SUPABASE_URL and OBS_SUPABASE_KEY_FILE are set, else None.

    With `ops_store`, new `chaos_events` and `events` rows from start-up on are mirrored too.
    SinkExtraMissing, naming the extra to install, when it is configured without supabase-py.
    """
    if settings.supabase_url is None or settings.supabase_key_file is None:
        return None
    try:
        import supabase  # noqa: F401  (the optional extra: checked before anything starts)
    except ImportError:
        raise SinkExtraMissing(
            "OBS_SUPABASE_URL is set but the Supabase sink needs the supabase extra: "
            "pip install -e '.[supabase]' in the repo (.venv/bin/pip there)"
        ) from None
    key = settings.supabase_key_file.read_text().strip()
    if not key:
        raise ValueError(f"OBS_SUPABASE_KEY_FILE {settings.supabase_key_file} is empty")
    reader = OpsEventsReader(ops_store, since=time.time()) if ops_store is not None else None
    return SupabaseSink(
        url=settings.supabase_url,
        key=key,
        alerts_table=settings.supabase_alerts_table,
        events_table=settings.supabase_events_table,
        read_events=reader.read if reader is not None else None,
    )
