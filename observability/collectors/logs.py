"""Every service's log: signature counters and the recent matching lines, redacted.

Each `<service>.log` in the lab's logs dir is followed from its end (a file that appears
later, from its start). Counters are cumulative per (service, signature) and reported for
every signature that applies to a service from its first reading, zeros included, so a
detector sees a burst as a delta.
"""

from collections.abc import Iterable, Sequence
from pathlib import Path

from observability.collectors.file_tail import FileTail
from observability.collectors.redaction import redact_line
from observability.collectors.signatures import Signature, matching
from observability.model import Collection, LogLine, Sample


class LogCollector:
    """log_signature_total{signature} and log_lines_total per service, plus LogLine items."""

    name = "logs"

    def __init__(
        self,
        *,
        logs_dir: Path,
        catalogue: Sequence[Signature],
        max_kib_per_pass: int = 256,
        max_kept_lines: int = 200,
        ignore: Iterable[str] = (),
    ) -> None:
        self.logs_dir, self.catalogue = logs_dir, list(catalogue)
        self.max_bytes = max_kib_per_pass * 1024
        self.max_kept_lines = max_kept_lines  # per service and pass; counters count them all
        self.ignore = set(ignore)
        self._tails: dict[str, FileTail] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._lines: dict[str, int] = {}
        self._first = True
        self.dropped_lines = 0

    def close(self) -> None:
        for tail in self._tails.values():
            tail.close()

    def _discover(self) -> None:
        """Follow new log files; those present at the first pass from their end."""
        if self.logs_dir.is_dir():
            for path in sorted(self.logs_dir.glob("*.log")):
                service = path.stem
                if service not in self._tails and service not in self.ignore:
                    self._tails[service] = FileTail(
                        path, from_start=not self._first, max_bytes=self.max_bytes
                    )
                    self._lines[service] = 0
                    for sig in self.catalogue:
                        if sig.applies_to(service):
                            self._counts.setdefault((service, sig.name), 0)
        self._first = False

    def collect(self, now: float) -> Collection:
        """Read what every log gained since the last pass and match it."""
        self._discover()
        out = Collection()
        for service, tail in self._tails.items():
            kept = 0
            lines = tail.read()
            self._lines[service] += len(lines)
            for line in lines:
                names = matching(self.catalogue, service, line)
                if not names:
                    continue
                clean = redact_line(line)
                for name in names:
                    self._counts[(service, name)] += 1
                    if kept < self.max_kept_lines:
                        out.logs.append(LogLine(now, service, name, clean))
                        kept += 1
                    else:
                        self.dropped_lines += 1
        for (service, name), count in sorted(self._counts.items()):
            out.samples.append(
                Sample(now, service, "log_signature_total", float(count), (("signature", name),))
            )
        for service, count in sorted(self._lines.items()):
            out.samples.append(Sample(now, service, "log_lines_total", float(count)))
        return out
